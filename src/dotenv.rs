//! `DATABASE_URL` from a `.env` file in the working directory, as sqlx-cli and dbmate read
//! it. The precedence is one rule: `--database-url` wins over the environment, and the
//! environment over the file.
//!
//! The file's syntax is dotenv's: `KEY=value` lines, `export ` allowed before the key, `#`
//! comments on their own line or after a value (after whitespace, or after a closing quote),
//! values in double quotes (with `\"`, `\\` and `\n` escapes) or single quotes (literal).
//! The first `DATABASE_URL` line wins. Only that key is read; other lines are not this
//! tool's business and are left alone, whatever they hold.

use std::sync::OnceLock;

/// Where the run's `DATABASE_URL` came from when the file gave it: the line, and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromFile {
    pub line: usize,
    pub value: String,
}

/// What the file said about `DATABASE_URL`, kept for the messages of the verbs that need it:
/// the value and its line, or why the line gives none.
static FOUND: OnceLock<Result<FromFile, String>> = OnceLock::new();

/// Reads `./.env` unless `DATABASE_URL` is set already, and sets it from the file. Call
/// before any thread starts: it sets an environment variable.
pub fn load() {
    if std::env::var_os("DATABASE_URL").is_some() {
        return;
    }
    let Ok(text) = std::fs::read_to_string(".env") else {
        return;
    };
    let Some(found) = database_url(&text) else {
        return;
    };
    if let Ok(f) = &found {
        // Single-threaded still: nothing else reads the environment yet.
        std::env::set_var("DATABASE_URL", &f.value);
    }
    let _ = FOUND.set(found);
}

/// The file's `DATABASE_URL`, when the run's URL came from it.
pub fn origin() -> Option<&'static FromFile> {
    FOUND.get().and_then(|f| f.as_ref().ok())
}

/// Why `./.env`'s `DATABASE_URL` line gives no URL (empty, or a quote never closed).
pub fn problem() -> Option<&'static str> {
    FOUND
        .get()
        .and_then(|f| f.as_ref().err())
        .map(String::as_str)
}

/// The first `DATABASE_URL` assignment of a dotenv text: its value and line, or a message
/// naming the line when it gives none.
pub fn database_url(text: &str) -> Option<Result<FromFile, String>> {
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let s = raw.trim();
        let s = s.strip_prefix("export ").map_or(s, str::trim_start);
        let Some(rest) = s.strip_prefix("DATABASE_URL") else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let found = match value(rest.trim_start()) {
            Err(e) => Err(format!("./.env line {line}: DATABASE_URL {e}")),
            Ok(value) if value.trim().is_empty() => Err(format!(
                "./.env line {line} sets DATABASE_URL to nothing; give it postgres://user:password@host:port/dbname, or remove the line"
            )),
            Ok(value) => Ok(FromFile { line, value }),
        };
        return Some(found);
    }
    None
}

/// A dotenv value: quoted (a comment may follow the closing quote) or bare (a comment
/// starts at whitespace and `#`).
fn value(s: &str) -> Result<String, String> {
    let mut chars = s.chars();
    let quote = match chars.next() {
        Some(q @ ('"' | '\'')) => q,
        _ => {
            let end = s
                .char_indices()
                .find(|&(i, c)| c == '#' && s[..i].ends_with(char::is_whitespace))
                .map_or(s.len(), |(i, _)| i);
            return Ok(s[..end].trim_end().to_string());
        }
    };
    let mut out = String::new();
    let mut escaped = false;
    while let Some(c) = chars.next() {
        if quote == '"' && escaped {
            out.push(match c {
                'n' => '\n',
                other => other,
            });
            escaped = false;
        } else if quote == '"' && c == '\\' {
            escaped = true;
        } else if c == quote {
            let after = chars.as_str().trim_start();
            if !(after.is_empty() || after.starts_with('#')) {
                return Err(format!(
                    "has {after:?} after its closing quote; put a # before a comment"
                ));
            }
            return Ok(out);
        } else {
            out.push(c);
        }
    }
    Err(format!(
        "opens a {quote} quote and never closes it; close it on the same line"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Result<String, String> {
        database_url(text)
            .expect("a DATABASE_URL line")
            .map(|f| f.value)
    }

    #[test]
    fn values_are_read_as_dotenv_writes_them() {
        let u = "postgres://u:p@h:5432/d";
        for text in [
            format!("DATABASE_URL={u}"),
            format!("export DATABASE_URL = {u}"),
            format!("DATABASE_URL={u} # local"),
            format!("DATABASE_URL=\"{u}\""),
            format!("DATABASE_URL=\"{u}\"   # local"),
            format!("DATABASE_URL='{u}' # local"),
            format!("# DATABASE_URL=postgres://old\nOTHER=x y\nDATABASE_URL={u}\nDATABASE_URL=postgres://later"),
        ] {
            assert_eq!(url(&text).as_deref(), Ok(u), "{text}");
        }
        // a # inside a value is part of it (a password), unless whitespace comes before it
        assert_eq!(
            url("DATABASE_URL=postgres://u:p#w@h/d").unwrap(),
            "postgres://u:p#w@h/d"
        );
        assert_eq!(
            url("DATABASE_URL='postgres://u:a b#c@h/d'").unwrap(),
            "postgres://u:a b#c@h/d"
        );
        assert_eq!(
            url(r#"DATABASE_URL="postgres://u:q\"x@h/d""#).unwrap(),
            "postgres://u:q\"x@h/d"
        );
        assert_eq!(database_url("OTHER=1\n# DATABASE_URL=x\n"), None);
    }

    #[test]
    fn a_line_that_gives_no_url_is_named() {
        for (text, says) in [
            (
                "\nDATABASE_URL=",
                "./.env line 2 sets DATABASE_URL to nothing",
            ),
            (
                "DATABASE_URL=\"\"",
                "./.env line 1 sets DATABASE_URL to nothing",
            ),
            (
                "DATABASE_URL=\"postgres://h/d",
                "./.env line 1: DATABASE_URL opens a \" quote and never closes it",
            ),
            (
                "DATABASE_URL='postgres://h/d' extra",
                "./.env line 1: DATABASE_URL has \"extra\" after its closing quote",
            ),
        ] {
            let got = url(text).unwrap_err();
            assert!(got.starts_with(says), "{text}: {got}");
        }
    }
}
