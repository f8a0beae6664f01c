//! `migrations.toml`: which schema sets exist, where their files live, which Postgres schema
//! (namespace) each installs into, and the engine's settings.
//!
//! Where the configuration comes from, first match wins: `--config PATH`; `migrations.toml` in
//! the working directory; the copy embedded in the binary. One precedence rule for values:
//! a command-line flag replaces the set's value, which replaces the file's top-level value,
//! which replaces the built-in default.
//!
//! A set's SQL files are read from disk when its `dir` (relative to the configuration file)
//! exists, and otherwise from the files embedded in the binary, so the binary alone can
//! bootstrap a database and a checkout can try an edited migration without rebuilding.

use crate::sets::{self, Migration, SetError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The `migrations.toml` compiled into the binary.
pub const EMBEDDED: &str = include_str!("../migrations.toml");

/// File in a set's directory holding the catalog its migrations create (`migrate snapshot`).
pub const EXPECTED_CATALOG: &str = "expected_catalog.txt";

/// File in a set's directory holding what each migration adds to the catalog (`migrate
/// snapshot`): the expected catalog at every version.
pub const EXPECTED_VERSIONS: &str = "expected_versions.txt";

/// Built-in `lock_timeout` for every migration.
pub const DEFAULT_LOCK_TIMEOUT: &str = "5s";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("set `{name}` is named twice in --set; name each set once")]
    RepeatedSet { name: String },
    #[error("--set names an empty set (nothing between commas, or an empty value); name each set, e.g. --set aethercrown98,witchcraft")]
    EmptySetName,
    #[error("unknown set `{name}`; {origin} declares: {known}")]
    UnknownSet {
        name: String,
        origin: String,
        known: String,
    },
    #[error("set `{set}`: directory {dir} is neither on disk (next to {origin}) nor embedded in this binary; fix `dir` in {origin}")]
    MissingDir {
        set: String,
        dir: String,
        origin: String,
    },
    #[error("set `{set}`: {source}")]
    Set {
        set: String,
        #[source]
        source: SetError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    lock_timeout: Option<String>,
    lint: Option<RawLint>,
    #[serde(default, rename = "set")]
    sets: Vec<RawSet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLint {
    max_rows: Option<i64>,
    max_bytes: Option<i64>,
}

/// `migrate lint`'s thresholds (`[lint]` of migrations.toml): work that blocks reads or
/// writes of a live table with at least `max_rows` rows or `max_bytes` bytes is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintConfig {
    pub max_rows: i64,
    pub max_bytes: i64,
}

impl Default for LintConfig {
    fn default() -> LintConfig {
        LintConfig {
            max_rows: 100_000,
            max_bytes: 100 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    name: String,
    dir: String,
    schema: Option<String>,
    lock_timeout: Option<String>,
    #[serde(default)]
    maintenance: Vec<String>,
    #[serde(default)]
    monthly_maintenance: Vec<String>,
}

/// A set's upkeep for `migrate maintain`: SELECT statements run in the set's schema, daily
/// (every run) and monthly (with `--monthly`). Where pg_cron exists the set's migrations
/// schedule the same calls themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    pub daily: Vec<String>,
    pub monthly: Vec<String>,
}

/// One declared set, before its files are read.
#[derive(Debug, Clone)]
pub struct SetConfig {
    pub name: String,
    pub dir: String,
    /// Postgres schema the set installs into.
    pub schema: String,
    /// Effective `lock_timeout` (set value, else file value, else default).
    pub lock_timeout: String,
    pub maintenance: Maintenance,
}

/// The loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from: a file path, or `embedded migrations.toml`.
    pub origin: String,
    /// Directory `dir` values are relative to; `None` for the embedded configuration.
    pub base: Option<PathBuf>,
    pub sets: Vec<SetConfig>,
    pub lint: LintConfig,
}

/// A set with its migrations, ready for the engine.
#[derive(Debug, Clone)]
pub struct MigrationSet {
    pub name: String,
    pub schema: String,
    pub lock_timeout: String,
    /// `embedded` or the directory the files were read from.
    pub source: String,
    /// What `migrate maintain` runs.
    pub maintenance: Maintenance,
    pub migrations: Vec<Migration>,
    /// The committed expected catalog (`expected_catalog.txt`), if the set has one.
    pub expected_catalog: Option<String>,
    /// The committed per-version catalogs (`expected_versions.txt`), if the set has them.
    pub expected_versions: Option<String>,
    /// The set's directory when its files were read from disk (where `snapshot` writes).
    pub dir_on_disk: Option<PathBuf>,
}

impl MigrationSet {
    pub fn find(&self, version: i64) -> Option<&Migration> {
        self.migrations.iter().find(|m| m.version == version)
    }
    pub fn latest(&self) -> i64 {
        self.migrations.last().map_or(0, |m| m.version)
    }
    /// The set's directory as messages name it: as migrations.toml gives it, or
    /// `schema/<set>` for the copy embedded in the binary.
    pub fn dir_shown(&self) -> String {
        match self.source.as_str() {
            "embedded" => format!("schema/{}", self.name),
            dir => dir.trim_end_matches('/').to_string(),
        }
    }
}

/// A duration as `valid_duration` accepts it ("500ms", "5s", "1min", or bare milliseconds,
/// as Postgres reads `lock_timeout`); `None` when it is not one.
pub fn parse_duration(value: &str) -> Option<std::time::Duration> {
    let v = value.trim();
    if !valid_duration(v) {
        return None;
    }
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = v[..digits].parse().ok()?;
    let ms = match &v[digits..] {
        "" | "ms" => n,
        "s" => n.checked_mul(1000)?,
        _ => n.checked_mul(60_000)?,
    };
    Some(std::time::Duration::from_millis(ms))
}

/// A duration the way `parse_duration` reads it back.
pub fn format_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms % 60_000 == 0 && ms > 0 {
        format!("{}min", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The longest `lock_timeout` Postgres takes: its milliseconds are an `int`.
pub const LONGEST_DURATION_MS: u64 = i32::MAX as u64;

/// Checks a Postgres duration as written in configuration: an integer followed by `ms`, `s`
/// or `min` (or no unit, meaning milliseconds), e.g. `500ms`, `5s`, `1min`, `0` (no limit),
/// no longer than Postgres takes ([`LONGEST_DURATION_MS`], about 24 days).
pub fn valid_duration(value: &str) -> bool {
    let v = value.trim();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let unit = match &v[digits..] {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        _ => return false,
    };
    digits > 0
        && v[..digits]
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .is_some_and(|ms| ms <= LONGEST_DURATION_MS)
}

fn identifier_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Config {
    /// Parses configuration text; `origin` names it in messages, `base` anchors `dir` values.
    pub fn parse(text: &str, origin: &str, base: Option<PathBuf>) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let before = &text[..offset.min(text.len())];
            ConfigError::Parse {
                origin: origin.to_string(),
                line: before.matches('\n').count() + 1,
                column: before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
                message: e.message().split_whitespace().collect::<Vec<_>>().join(" "),
            }
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let file_timeout = raw
            .lock_timeout
            .unwrap_or_else(|| DEFAULT_LOCK_TIMEOUT.to_string());
        if !valid_duration(&file_timeout) {
            return Err(invalid(format!(
                "lock_timeout = {file_timeout:?} is not a duration; write e.g. \"500ms\", \"5s\" or \"1min\""
            )));
        }
        if raw.sets.is_empty() {
            return Err(invalid("declares no [[set]]; add one".into()));
        }
        let mut lint = LintConfig::default();
        if let Some(l) = raw.lint {
            for (key, value) in [("max_rows", l.max_rows), ("max_bytes", l.max_bytes)] {
                if value.is_some_and(|v| v < 0) {
                    return Err(invalid(format!(
                        "[lint] {key} = {} is negative; give a number of {} (0 makes any blocking work an error)",
                        value.unwrap_or_default(),
                        if key == "max_rows" { "rows" } else { "bytes" }
                    )));
                }
            }
            lint.max_rows = l.max_rows.unwrap_or(lint.max_rows);
            lint.max_bytes = l.max_bytes.unwrap_or(lint.max_bytes);
        }
        let mut sets: Vec<SetConfig> = Vec::new();
        for s in raw.sets {
            if !identifier_ok(&s.name) {
                return Err(invalid(format!(
                    "set name {:?} must be lowercase letters, digits and _",
                    s.name
                )));
            }
            if sets.iter().any(|o| o.name == s.name) {
                return Err(invalid(format!("set `{}` is declared twice", s.name)));
            }
            let schema = s.schema.unwrap_or_else(|| "public".to_string());
            if !identifier_ok(&schema)
                || schema.starts_with("pg_")
                || matches!(schema.as_str(), "migrate" | "information_schema")
            {
                return Err(invalid(format!(
                    "set `{}`: schema {schema:?} must be a lowercase identifier, not pg_*, information_schema or migrate",
                    s.name
                )));
            }
            let lock_timeout = s.lock_timeout.unwrap_or_else(|| file_timeout.clone());
            if !valid_duration(&lock_timeout) {
                return Err(invalid(format!(
                    "set `{}`: lock_timeout = {lock_timeout:?} is not a duration; write e.g. \"5s\"",
                    s.name
                )));
            }
            for statement in s.maintenance.iter().chain(&s.monthly_maintenance) {
                let first = crate::sets::lexer::code_tokens(statement)
                    .ok()
                    .and_then(|t| t.first().map(|w| w.is("SELECT")));
                if first != Some(true)
                    || crate::sets::split::split(statement).map(|v| v.len()) != Ok(1)
                {
                    return Err(invalid(format!(
                        "set `{}`: maintenance statement {statement:?} must be one SELECT (e.g. \"SELECT daily_maintenance()\")",
                        s.name
                    )));
                }
            }
            sets.push(SetConfig {
                name: s.name,
                dir: s.dir,
                schema,
                lock_timeout,
                maintenance: Maintenance {
                    daily: s.maintenance,
                    monthly: s.monthly_maintenance,
                },
            });
        }
        Ok(Config {
            origin: origin.to_string(),
            base,
            sets,
            lint,
        })
    }

    /// Loads from `explicit`, else `./migrations.toml`, else the embedded copy.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let local = PathBuf::from("migrations.toml");
                local.is_file().then_some(local)
            }
        };
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let base = path
                    .parent()
                    .map(|p| {
                        if p.as_os_str().is_empty() {
                            Path::new(".")
                        } else {
                            p
                        }
                    })
                    .map(Path::to_path_buf);
                Config::parse(&text, &path.display().to_string(), base)
            }
            None => Config::parse(EMBEDDED, "embedded migrations.toml", None),
        }
    }

    /// The sets named in `names` (all sets, in file order, when empty).
    pub fn select(&self, names: &[String]) -> Result<Vec<&SetConfig>, ConfigError> {
        if names.is_empty() {
            return Ok(self.sets.iter().collect());
        }
        if names.iter().any(|n| n.trim().is_empty()) {
            return Err(ConfigError::EmptySetName);
        }
        // Named twice, a set would be applied or rolled back twice in one run.
        if let Some((_, name)) = names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
        {
            return Err(ConfigError::RepeatedSet { name: name.clone() });
        }
        names
            .iter()
            .map(|n| {
                self.sets
                    .iter()
                    .find(|s| &s.name == n)
                    .ok_or_else(|| ConfigError::UnknownSet {
                        name: n.clone(),
                        origin: self.origin.clone(),
                        known: self
                            .sets
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }

    /// Reads a set's files (disk when its directory exists there, else embedded) and checks them.
    pub fn load_set(&self, set: &SetConfig) -> Result<MigrationSet, ConfigError> {
        let on_disk = self
            .base
            .as_ref()
            .map(|b| b.join(&set.dir))
            .filter(|p| p.is_dir());
        let set_err = |source| ConfigError::Set {
            set: set.name.clone(),
            source,
        };
        let dir_on_disk = on_disk.clone();
        let (files, source) = match on_disk {
            Some(dir) => {
                let shown = match self.base.as_deref() {
                    Some(b) if b == Path::new(".") => set.dir.clone(),
                    _ => dir.display().to_string(),
                };
                (sets::disk_files(&dir, &set.dir).map_err(set_err)?, shown)
            }
            None => match sets::embedded_files(&set.dir) {
                Some(files) => (files, "embedded".to_string()),
                None => {
                    return Err(ConfigError::MissingDir {
                        set: set.name.clone(),
                        dir: set.dir.clone(),
                        origin: self.origin.clone(),
                    })
                }
            },
        };
        let migrations = sets::load_migrations(&files).map_err(set_err)?;
        let file_text = |name: &str| {
            files
                .iter()
                .find(|(p, _)| p.rsplit('/').next() == Some(name))
                .map(|(_, text)| text.clone())
        };
        let expected_catalog = file_text(EXPECTED_CATALOG);
        let expected_versions = file_text(EXPECTED_VERSIONS);
        Ok(MigrationSet {
            name: set.name.clone(),
            schema: set.schema.clone(),
            lock_timeout: set.lock_timeout.clone(),
            source,
            maintenance: set.maintenance.clone(),
            migrations,
            expected_catalog,
            expected_versions,
            dir_on_disk,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_config_declares_both_products() {
        let c = Config::parse(EMBEDDED, "embedded", None).unwrap();
        let names: Vec<_> = c.sets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["aethercrown98", "witchcraft"]);
        assert!(c.sets.iter().all(|s| s.schema == "public"));
        let set = c.load_set(&c.sets[0]).unwrap();
        assert_eq!(set.source, "embedded");
        assert!(set.migrations.len() >= 4);
    }

    #[test]
    fn precedence_set_value_over_file_value_over_default() {
        let c = Config::parse(
            "lock_timeout = \"2s\"\n[[set]]\nname = \"a\"\ndir = \"x\"\n[[set]]\nname = \"b\"\ndir = \"y\"\nlock_timeout = \"250ms\"\nschema = \"b_ns\"\n",
            "t.toml",
            None,
        )
        .unwrap();
        assert_eq!(c.sets[0].lock_timeout, "2s");
        assert_eq!(c.sets[0].schema, "public");
        assert_eq!(c.sets[1].lock_timeout, "250ms");
        assert_eq!(c.sets[1].schema, "b_ns");
        let c = Config::parse("[[set]]\nname = \"a\"\ndir = \"x\"\n", "t.toml", None).unwrap();
        assert_eq!(c.sets[0].lock_timeout, DEFAULT_LOCK_TIMEOUT);
    }

    #[test]
    fn durations_read_back_as_written() {
        for (text, ms) in [
            ("500ms", 500),
            ("5s", 5000),
            ("2min", 120_000),
            ("250", 250),
        ] {
            assert_eq!(
                parse_duration(text),
                Some(std::time::Duration::from_millis(ms))
            );
        }
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(format_duration(std::time::Duration::from_secs(300)), "5min");
        assert_eq!(
            format_duration(std::time::Duration::from_millis(1500)),
            "1500ms"
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = Config::parse("[[set]]\nname = \"a\"\ndri = \"x\"\n", "m.toml", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.toml:3:1: unknown field `dri`"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = Config::parse(
            "lock_timeout = \"soon\"\n[[set]]\nname = \"a\"\ndir = \"x\"\n",
            "m.toml",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("lock_timeout = \"soon\" is not a duration"),
            "{e}"
        );
        let e = Config::parse(
            "[[set]]\nname = \"a\"\ndir = \"x\"\n[[set]]\nname = \"a\"\ndir = \"y\"\n",
            "m.toml",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("declared twice"), "{e}");
        let c = Config::parse(EMBEDDED, "embedded", None).unwrap();
        let e = c.select(&["nope".into()]).unwrap_err().to_string();
        assert!(
            e.contains("unknown set `nope`") && e.contains("aethercrown98, witchcraft"),
            "{e}"
        );
        let e = Config::parse("[[set]]\nname = \"a\"\ndir = \"nowhere\"\n", "m.toml", None)
            .and_then(|c| c.load_set(&c.sets[0]).map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("directory nowhere"), "{e}");
    }

    #[test]
    fn maintenance_is_one_select_per_entry() {
        let c = Config::parse(EMBEDDED, "embedded", None).unwrap();
        assert_eq!(
            c.sets[1].maintenance.daily,
            ["SELECT daily_maintenance()"],
            "{:?}",
            c.sets[1]
        );
        for bad in [
            "DROP TABLE users",
            "SELECT 1; SELECT 2",
            "select 1; DELETE FROM t",
        ] {
            let text = format!("[[set]]\nname = \"a\"\ndir = \"x\"\nmaintenance = [{bad:?}]\n");
            let e = Config::parse(&text, "m.toml", None)
                .unwrap_err()
                .to_string();
            assert!(e.contains("must be one SELECT"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations() {
        for ok in [
            "0",
            "500",
            "500ms",
            "5s",
            "1min",
            "2147483647ms",
            "2147483s",
            "35791min",
        ] {
            assert!(valid_duration(ok), "{ok}");
        }
        // `--lock-timeout 99999999999999999999s` was accepted, then refused by the server
        for bad in [
            "",
            "s",
            "5 s",
            "5h",
            "-1s",
            "5s;drop",
            "99999999999999999999s",
            "2147483648ms",
            "2147484s",
            "35792min",
        ] {
            assert!(!valid_duration(bad), "{bad}");
        }
    }
}
