//! Schema sets: the versioned up/down SQL file pairs of one product, read from the files
//! embedded in the binary or from a directory on disk, and checked before anything runs.
//!
//! A set directory holds `NNNN_snake_name.up.sql` and `NNNN_snake_name.down.sql`. Versions are
//! exactly four digits, so file-name order and version order are the same thing. Every problem
//! is reported with the file it was found in.

pub mod lexer;
pub mod split;

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use thiserror::Error;

/// The files compiled into the binary: `(path relative to the crate root, contents)`.
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_schema.rs"));
}

/// First-line directive that makes a file run outside a transaction.
pub const NO_TRANSACTION: &str = "-- migrate:no-transaction";

/// First-line directive of a `.down.sql` that declares the migration cannot be undone (the
/// rest of the file says why); `down` stops before such a migration.
pub const IRREVERSIBLE: &str = "-- migrate:irreversible";

/// Problems with the files of a set.
#[derive(Debug, Error)]
pub enum SetError {
    #[error("{file}: malformed migration file name; expected NNNN_snake_name.up.sql or NNNN_snake_name.down.sql (four-digit version from 0001, lowercase name)")]
    MalformedName { file: String },
    #[error("{file}: has no matching {missing}; every migration needs both an up and a down file")]
    MissingPair { file: String, missing: String },
    #[error(
        "{file}: version {version} is already used by {other}; give each migration its own version"
    )]
    DuplicateVersion {
        file: String,
        other: String,
        version: i64,
    },
    #[error("{file}: contains no SQL statement; write the migration or remove the file")]
    Empty { file: String },
    #[error("{file}:{line}: unknown directive `{directive}`; the directives are `-- migrate:no-transaction`, `-- migrate:lint-ignore RULE reason` and, in a .down.sql, `-- migrate:irreversible`")]
    UnknownDirective {
        file: String,
        line: usize,
        directive: String,
    },
    #[error("{file}:{line}: {what} never closed; close it or the statement cannot be split")]
    Unterminated {
        file: String,
        line: usize,
        what: &'static str,
    },
    #[error("{file}:{line}: `{command}` is a psql meta-command, not SQL; migrate sends the file to the server as it is, so write the SQL it stands for or remove it")]
    MetaCommand {
        file: String,
        line: usize,
        command: String,
    },
    #[error("{file}:{line}: `{statement}` controls the transaction, which migrate owns (each migration commits together with its history row, or runs statement by statement under `-- migrate:no-transaction`); remove it, or split the file into two migrations")]
    TransactionControl {
        file: String,
        line: usize,
        statement: String,
    },
    #[error("{file}:{line}: `COPY ... FROM STDIN` waits for data that a migration file cannot send; write the rows as INSERT statements")]
    CopyFromStdin { file: String, line: usize },
    #[error("{file}:{line}: `COPY ... TO STDOUT` sends rows to a client, and a migration has no one to read them; copy into a table (INSERT ... SELECT) or write to a server file")]
    CopyToStdout { file: String, line: usize },
    #[error("{file}: {problem}")]
    Irreversible { file: String, problem: &'static str },
    #[error("{file}:{line}:{column}: a NUL byte, which PostgreSQL cannot take in a statement; remove it (write E'\\x00' or chr(0) where a zero byte is meant in bytea)")]
    NulByte {
        file: String,
        line: usize,
        column: usize,
    },
    #[error("{file}: not valid UTF-8; save the file as UTF-8")]
    NotUtf8 { file: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One SQL file of a migration.
#[derive(Debug, Clone)]
pub struct SqlFile {
    /// Path as shown to users (`schema/<set>/NNNN_name.up.sql`).
    pub path: String,
    pub sql: String,
    /// The file starts with `-- migrate:no-transaction`.
    pub no_transaction: bool,
    /// A down file that starts with `-- migrate:irreversible`: there is no way back.
    pub irreversible: bool,
}

/// A versioned migration: an up file, a down file and the checksum of the up file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub up: SqlFile,
    pub down: SqlFile,
    /// Hex SHA-256 of the up file's bytes, as recorded in the history table.
    pub checksum: String,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// Whether `name` may be a migration's name (`NNNN_<name>.up.sql`): lowercase letters and
/// digits in words joined by single underscores.
pub fn valid_migration_name(name: &str) -> bool {
    parse_file_name(&format!("0001_{name}.up.sql")).is_some()
}

/// The version and name of a migration file name (`NNNN_name.up.sql` or `.down.sql`).
pub fn version_and_name(file_name: &str) -> Option<(i64, String)> {
    parse_file_name(file_name).map(|(v, n, _)| (v, n))
}

/// Parses `NNNN_snake_name.up.sql`: version, name, direction.
fn parse_file_name(file_name: &str) -> Option<(i64, String, Direction)> {
    let (stem, dir) = if let Some(s) = file_name.strip_suffix(".up.sql") {
        (s, Direction::Up)
    } else if let Some(s) = file_name.strip_suffix(".down.sql") {
        (s, Direction::Down)
    } else {
        return None;
    };
    let (digits, name) = stem.split_once('_')?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let version: i64 = digits.parse().ok()?;
    let name_ok = !name.is_empty()
        && name.split('_').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if version == 0 || !name_ok {
        return None;
    }
    Some((version, name.to_string(), dir))
}

/// What a file's first-line directive declares.
struct Directives {
    no_transaction: bool,
    irreversible: bool,
}

/// Checks a file's first-line directive and that it holds at least one statement (or, for
/// an irreversible down file, none).
fn check_sql(path: &str, sql: &str, down: bool) -> Result<Directives, SetError> {
    if let Some(at) = sql.find('\0') {
        let before = &sql[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        return Err(SetError::NulByte {
            file: path.to_string(),
            line,
            column,
        });
    }
    let first = sql.lines().next().unwrap_or("").trim();
    let no_transaction = first == NO_TRANSACTION;
    let irreversible = first == IRREVERSIBLE;
    if !no_transaction && !irreversible {
        if let Some(rest) = first
            .strip_prefix("-- migrate:")
            .filter(|r| !r.starts_with("lint-ignore "))
        {
            return Err(SetError::UnknownDirective {
                file: path.to_string(),
                line: 1,
                directive: format!("-- migrate:{rest}"),
            });
        }
    }
    if irreversible && !down {
        return Err(SetError::Irreversible {
            file: path.to_string(),
            problem: "`-- migrate:irreversible` belongs in the .down.sql file",
        });
    }
    let statements = split::split(sql).map_err(|e| match e {
        split::SplitError::Unterminated { what, line } => SetError::Unterminated {
            file: path.to_string(),
            line,
            what,
        },
        split::SplitError::MetaCommand { command, line } => SetError::MetaCommand {
            file: path.to_string(),
            line,
            command,
        },
    })?;
    let mut lines = lexer::LineCounter::new(sql);
    for st in &statements {
        check_statement(path, &mut lines, st)?;
    }
    if irreversible && !statements.is_empty() {
        return Err(SetError::Irreversible {
            file: path.to_string(),
            problem: "declares `-- migrate:irreversible` but contains statements; keep only comments explaining why there is no way back",
        });
    }
    if statements.is_empty() && !irreversible {
        return Err(SetError::Empty {
            file: path.to_string(),
        });
    }
    Ok(Directives {
        no_transaction,
        irreversible,
    })
}

/// Refuses statements a migration file must not hold: transaction control (the engine owns
/// the transaction: a `COMMIT` would commit half a migration, a `ROLLBACK` would discard it
/// while its history row is still written) and `COPY ... FROM STDIN` (no data can follow).
fn check_statement(
    path: &str,
    lines: &mut lexer::LineCounter<'_>,
    st: &split::Statement<'_>,
) -> Result<(), SetError> {
    // The first two words decide, except for COPY, which is read whole: lexing every
    // statement of every file to its end was most of what loading a set cost.
    let head = lexer::Tokens::new(st.text)
        .filter(|t| !matches!(t, Ok(t) if t.is_comment()))
        .take(2)
        .collect::<Result<Vec<_>, _>>();
    let words = match head {
        Ok(head) if head.first().is_some_and(|t| t.is("COPY")) => {
            match lexer::code_tokens(st.text) {
                Ok(words) => words,
                Err(_) => return Ok(()),
            }
        }
        Ok(head) => head,
        Err(_) => return Ok(()),
    };
    let word = |i: usize| words.get(i).filter(|t| t.kind == lexer::Kind::Word);
    let Some(first) = word(0) else {
        return Ok(());
    };
    // Counted only for an error: most statements pass.
    let mut line = || lines.line_at(st.offset + first.offset);
    let second_is = |w: &str| word(1).is_some_and(|t| t.is(w));
    let control = [
        "BEGIN",
        "COMMIT",
        "END",
        "ROLLBACK",
        "ABORT",
        "SAVEPOINT",
        "RELEASE",
    ]
    .iter()
    .any(|k| first.is(k))
        || (first.is("START") && second_is("TRANSACTION"))
        || (first.is("PREPARE") && second_is("TRANSACTION"));
    if control {
        let n = if first.is("START") || first.is("PREPARE") {
            2
        } else {
            1
        };
        let statement: Vec<&str> = words.iter().take(n).map(|t| t.text).collect();
        return Err(SetError::TransactionControl {
            file: path.to_string(),
            line: line(),
            statement: statement.join(" "),
        });
    }
    if first.is("COPY") {
        let from_stdin = words
            .windows(2)
            .any(|w| w[0].is("FROM") && w[1].is("STDIN"));
        if from_stdin {
            return Err(SetError::CopyFromStdin {
                file: path.to_string(),
                line: line(),
            });
        }
        if words.windows(2).any(|w| w[0].is("TO") && w[1].is("STDOUT")) {
            return Err(SetError::CopyToStdout {
                file: path.to_string(),
                line: line(),
            });
        }
    }
    Ok(())
}

/// Builds the ordered migrations of a set from `(display path, contents)` pairs. Files whose
/// name does not end in `.sql` are ignored (a set directory may hold notes or snapshots).
pub fn load_migrations(files: &[(String, String)]) -> Result<Vec<Migration>, SetError> {
    struct Half {
        path: String,
        name: String,
        sql: String,
    }
    let mut ups: BTreeMap<i64, Half> = BTreeMap::new();
    let mut downs: BTreeMap<i64, Half> = BTreeMap::new();

    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, sql) in sorted {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        if !file_name.ends_with(".sql") {
            continue;
        }
        let (version, name, dir) = parse_file_name(file_name)
            .ok_or_else(|| SetError::MalformedName { file: path.clone() })?;
        let map = match dir {
            Direction::Up => &mut ups,
            Direction::Down => &mut downs,
        };
        if let Some(other) = map.get(&version) {
            return Err(SetError::DuplicateVersion {
                file: path.clone(),
                other: other.path.clone(),
                version,
            });
        }
        map.insert(
            version,
            Half {
                path: path.clone(),
                name,
                sql: sql.clone(),
            },
        );
    }

    for (version, down) in &downs {
        match ups.get(version) {
            Some(up) if up.name == down.name => {}
            _ => {
                return Err(SetError::MissingPair {
                    file: down.path.clone(),
                    missing: down.path.replace(".down.sql", ".up.sql"),
                })
            }
        }
    }

    let mut out = Vec::with_capacity(ups.len());
    for (version, up) in ups {
        let down = downs
            .remove(&version)
            .ok_or_else(|| SetError::MissingPair {
                file: up.path.clone(),
                missing: up.path.replace(".up.sql", ".down.sql"),
            })?;
        let up_directives = check_sql(&up.path, &up.sql, false)?;
        let down_directives = check_sql(&down.path, &down.sql, true)?;
        out.push(Migration {
            version,
            checksum: sha256_hex(up.sql.as_bytes()),
            name: up.name,
            up: SqlFile {
                path: up.path,
                sql: up.sql,
                no_transaction: up_directives.no_transaction,
                irreversible: false,
            },
            down: SqlFile {
                path: down.path,
                sql: down.sql,
                no_transaction: down_directives.no_transaction,
                irreversible: down_directives.irreversible,
            },
        });
    }
    Ok(out)
}

/// The embedded files under `dir` (a path relative to the crate root such as
/// `schema/aethercrown98`), or `None` when the binary embeds no such directory.
pub fn embedded_files(dir: &str) -> Option<Vec<(String, String)>> {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    let files: Vec<(String, String)> = embedded::FILES
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix) && !p[prefix.len()..].contains('/'))
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    let dir_known = embedded::FILES.iter().any(|(p, _)| p.starts_with(&prefix));
    dir_known.then_some(files)
}

/// The files of a directory on disk; `shown` is the path prefix used in messages.
pub fn disk_files(dir: &std::path::Path, shown: &str) -> Result<Vec<(String, String)>, SetError> {
    let io = |source| SetError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        let shown_path = format!("{}/{}", shown.trim_end_matches('/'), name);
        let bytes = std::fs::read(entry.path()).map_err(|source| SetError::Io {
            path: shown_path.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| SetError::NotUtf8 {
            file: shown_path.clone(),
        })?;
        // Editors on Windows save UTF-8 with a byte order mark; it is not SQL.
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        };
        out.push((shown_path, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, sql: &str) -> (String, String) {
        (path.to_string(), sql.to_string())
    }

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("0001_core_tables.up.sql"),
            Some((1, "core_tables".into(), Direction::Up))
        );
        assert_eq!(
            parse_file_name("0120_x2.down.sql"),
            Some((120, "x2".into(), Direction::Down))
        );
        for bad in [
            "1_core.up.sql",
            "00001_core.up.sql",
            "0000_zero.up.sql",
            "0001-core.up.sql",
            "0001_Core.up.sql",
            "0001_core__x.up.sql",
            "0001_.up.sql",
            "0001_core.sql",
            "abcd_core.up.sql",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn pairs_are_ordered_and_checksummed() {
        let m = load_migrations(&[
            f("s/0002_b.up.sql", "SELECT 2;"),
            f("s/0001_a.down.sql", "SELECT 0;"),
            f("s/0001_a.up.sql", "-- migrate:no-transaction\nSELECT 1;"),
            f("s/0002_b.down.sql", "SELECT 1;"),
            f("s/README.md", "notes"),
        ])
        .unwrap();
        assert_eq!(m.iter().map(|m| m.version).collect::<Vec<_>>(), vec![1, 2]);
        assert!(m[0].up.no_transaction);
        assert!(!m[0].down.no_transaction);
        assert_eq!(m[1].checksum, sha256_hex(b"SELECT 2;"));
        assert_eq!(m[1].checksum.len(), 64);
    }

    #[test]
    fn problems_name_the_file() {
        let err = |files: &[(String, String)]| load_migrations(files).unwrap_err().to_string();
        let e = err(&[f("s/0001_a.up.sql", "SELECT 1;")]);
        assert!(
            e.starts_with("s/0001_a.up.sql: has no matching s/0001_a.down.sql"),
            "{e}"
        );
        let e = err(&[f("s/0001_a.down.sql", "SELECT 1;")]);
        assert!(
            e.contains("s/0001_a.down.sql") && e.contains("0001_a.up.sql"),
            "{e}"
        );
        let e = err(&[
            f("s/0001_a.up.sql", "SELECT 1;"),
            f("s/0001_b.up.sql", "SELECT 1;"),
        ]);
        assert!(
            e.contains("s/0001_b.up.sql: version 1 is already used by s/0001_a.up.sql"),
            "{e}"
        );
        let e = err(&[f("s/1_a.up.sql", "SELECT 1;")]);
        assert!(e.starts_with("s/1_a.up.sql: malformed"), "{e}");
        let e = err(&[
            f("s/0001_a.up.sql", "-- nothing\n"),
            f("s/0001_a.down.sql", "SELECT 1;"),
        ]);
        assert!(e.starts_with("s/0001_a.up.sql: contains no SQL"), "{e}");
        let e = err(&[
            f("s/0001_a.up.sql", "-- migrate:no-transactoin\nSELECT 1;"),
            f("s/0001_a.down.sql", "SELECT 1;"),
        ]);
        assert!(e.starts_with("s/0001_a.up.sql:1: unknown directive"), "{e}");
        let e = err(&[
            f("s/0001_a.up.sql", "SELECT 1;\nDO $$ BEGIN"),
            f("s/0001_a.down.sql", "SELECT 1;"),
        ]);
        assert!(
            e.starts_with("s/0001_a.up.sql:2: dollar-quoted string never closed"),
            "{e}"
        );
        let e = err(&[
            f("s/0001_a.up.sql", "-- migrate:irreversible\nSELECT 1;"),
            f("s/0001_a.down.sql", "SELECT 1;"),
        ]);
        assert!(e.contains("belongs in the .down.sql"), "{e}");
        let e = err(&[
            f("s/0001_a.up.sql", "SELECT 1;"),
            f(
                "s/0001_a.down.sql",
                "-- migrate:irreversible\nDROP TABLE t;",
            ),
        ]);
        assert!(
            e.starts_with(
                "s/0001_a.down.sql: declares `-- migrate:irreversible` but contains statements"
            ),
            "{e}"
        );
    }

    /// A `COMMIT` in a transactional file once committed half a migration, and a `ROLLBACK`
    /// discarded the first half while the history row was still written.
    #[test]
    fn transaction_control_in_a_file_is_refused_with_its_line() {
        let load = |sql: &str| {
            load_migrations(&[
                f("s/0001_a.up.sql", sql),
                f("s/0001_a.down.sql", "SELECT 1;"),
            ])
            .map(|_| ())
            .map_err(|e| e.to_string())
        };
        for (sql, shown, line) in [
            ("CREATE TABLE t (id int);\nCOMMIT;\nSELECT 1;", "COMMIT", 2),
            ("BEGIN;\nSELECT 1;", "BEGIN", 1),
            ("SELECT 1;\n\n-- note\nrollback;", "rollback", 4),
            ("START TRANSACTION;", "START TRANSACTION", 1),
            ("SELECT 1;\nSAVEPOINT s;", "SAVEPOINT", 2),
            ("RELEASE s;", "RELEASE", 1),
            ("END;", "END", 1),
            ("ABORT;", "ABORT", 1),
            ("PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION", 1),
        ] {
            let e = load(sql).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "s/0001_a.up.sql:{line}: `{shown}` controls the transaction"
                )),
                "{sql}: {e}"
            );
        }
        // function bodies, DO blocks and prepared statements stay legal
        for sql in [
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;",
            "DO $$ BEGIN PERFORM 1; COMMIT; END $$;",
            "PREPARE p AS SELECT 1;",
            "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;",
        ] {
            assert_eq!(load(sql), Ok(()), "{sql}");
        }
        let e = load("SELECT 1;\n\ncopy (SELECT 1) to stdout;").unwrap_err();
        assert!(
            e.starts_with("s/0001_a.up.sql:3: `COPY ... TO STDOUT`"),
            "{e}"
        );
        let e = load("SELECT 1;\nCOPY t (a) FROM stdin;").unwrap_err();
        assert!(
            e.starts_with("s/0001_a.up.sql:2: `COPY ... FROM STDIN`"),
            "{e}"
        );
        let e = load("SELECT 1;\n\\i other.sql\n").unwrap_err();
        assert!(
            e.starts_with("s/0001_a.up.sql:2: `\\i` is a psql meta-command"),
            "{e}"
        );
    }

    #[test]
    fn an_irreversible_down_holds_only_its_reason() {
        let m = load_migrations(&[
            f("s/0001_a.up.sql", "UPDATE t SET x = lower(x);"),
            f(
                "s/0001_a.down.sql",
                "-- migrate:irreversible\n-- the original case is gone\n",
            ),
        ])
        .unwrap();
        assert!(m[0].down.irreversible && !m[0].up.irreversible);
    }

    /// Reads the real `schema/` tree, as embedded, and checks every set directory in it.
    #[test]
    fn the_real_schema_tree_is_well_formed() {
        let mut dirs: Vec<&str> = embedded::FILES
            .iter()
            .filter_map(|(p, _)| p.rsplit_once('/').map(|(d, _)| d))
            .collect();
        dirs.dedup();
        assert!(dirs.contains(&"schema/aethercrown98"), "{dirs:?}");
        for dir in dirs {
            let files = embedded_files(dir).unwrap();
            let migrations = load_migrations(&files).unwrap_or_else(|e| panic!("{e}"));
            if dir == "schema/aethercrown98" {
                assert!(
                    migrations.len() >= 4,
                    "{dir}: {} migrations",
                    migrations.len()
                );
            }
            let versions: Vec<i64> = migrations.iter().map(|m| m.version).collect();
            assert!(
                versions.windows(2).all(|w| w[0] < w[1]),
                "{dir}: {versions:?}"
            );
        }
    }

    #[test]
    fn disk_and_embedded_trees_agree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let on_disk =
            disk_files(&root.join("schema/aethercrown98"), "schema/aethercrown98").unwrap();
        let mut embedded = embedded_files("schema/aethercrown98").unwrap();
        let mut on_disk = on_disk;
        on_disk.sort();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }
}
