//! What a rollback would destroy: the tables and columns its down files drop (or truncate)
//! that still hold rows, with their counts, so that `down` can say so before it runs.
//! Statements are recognised by their leading words (`DROP TABLE`, `TRUNCATE`, `ALTER TABLE
//! ... DROP COLUMN`); anything done inside a `DO` block or a function is not seen.

use super::error::{db, EngineError};
use super::quote_ident;
use crate::config::MigrationSet;
use crate::sets::{split::split, Migration};
use serde::Serialize;
use sqlx::{Connection, PgConnection};

/// Data a rollback would delete.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DataAtRisk {
    /// Version of the migration whose down file deletes it.
    pub version: i64,
    /// `table payments` or `column users.nickname`.
    pub object: String,
    /// Rows in the table, or rows where the column is not null.
    pub rows: i64,
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Punct(char),
}

/// Words (upper-cased unless quoted; `a.b` kept together) and punctuation, comments skipped.
fn tokens(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if sql[i..].starts_with("--") {
            i = sql[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if sql[i..].starts_with("/*") {
            i = sql[i..].find("*/").map_or(b.len(), |n| i + n + 2);
        } else if c == b'"' || c.is_ascii_alphanumeric() || c == b'_' {
            let mut word = String::new();
            while i < b.len()
                && (b[i] == b'"'
                    || b[i].is_ascii_alphanumeric()
                    || b[i] == b'_'
                    || b[i] == b'.'
                    || b[i] == b'$')
            {
                if b[i] == b'"' {
                    let end = sql[i + 1..].find('"').map_or(b.len(), |n| i + 1 + n);
                    word.push_str(&sql[i..(end + 1).min(b.len())]);
                    i = end + 1;
                } else {
                    word.push((b[i] as char).to_ascii_uppercase());
                    i += 1;
                }
            }
            out.push(Token::Word(word));
        } else {
            out.push(Token::Punct(c as char));
            i += 1;
        }
    }
    out
}

/// A name token as SQL: quoted parts kept, unquoted parts lower-cased and quoted.
fn as_identifier(word: &str) -> String {
    word.split('.')
        .map(|p| {
            if p.starts_with('"') {
                p.to_string()
            } else {
                quote_ident(&p.to_ascii_lowercase())
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn shown(word: &str) -> String {
    word.split('.')
        .map(|p| {
            if p.starts_with('"') {
                p.trim_matches('"').to_string()
            } else {
                p.to_ascii_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// `(table, Some(column))` / `(table, None)` that `statement` drops or empties.
pub fn dropped(statement: &str) -> Vec<(String, Option<String>)> {
    let t = tokens(statement);
    let word = |i: usize| match t.get(i) {
        Some(Token::Word(w)) => Some(w.as_str()),
        _ => None,
    };
    let mut out = Vec::new();
    let mut i;
    let names_from = |mut i: usize, out: &mut Vec<(String, Option<String>)>| loop {
        match t.get(i) {
            Some(Token::Word(w))
                if !matches!(w.as_str(), "CASCADE" | "RESTRICT" | "ONLY" | "TABLE") =>
            {
                out.push((w.clone(), None));
            }
            Some(Token::Punct(',')) | Some(Token::Word(_)) => {}
            _ => break,
        }
        i += 1;
    };
    match (word(0), word(1)) {
        (Some("DROP"), Some("TABLE")) => {
            i = 2;
            if word(i) == Some("IF") && word(i + 1) == Some("EXISTS") {
                i += 2;
            }
            names_from(i, &mut out);
        }
        (Some("TRUNCATE"), _) => names_from(1, &mut out),
        (Some("ALTER"), Some("TABLE")) => {
            i = 2;
            if word(i) == Some("IF") && word(i + 1) == Some("EXISTS") {
                i += 2;
            }
            if word(i) == Some("ONLY") {
                i += 1;
            }
            let Some(table) = word(i) else { return out };
            let table = table.to_string();
            i += 1;
            // actions, separated by commas outside parentheses
            let mut depth = 0;
            let mut at_action_start = true;
            while i < t.len() {
                match &t[i] {
                    Token::Punct('(') => depth += 1,
                    Token::Punct(')') => depth -= 1,
                    Token::Punct(',') if depth == 0 => at_action_start = true,
                    Token::Word(w) if at_action_start && w == "DROP" => {
                        at_action_start = false;
                        let mut j = i + 1;
                        if word(j) == Some("COLUMN") {
                            j += 1;
                        } else if matches!(
                            word(j),
                            Some("CONSTRAINT" | "DEFAULT" | "NOT" | "IDENTITY" | "EXPRESSION")
                        ) {
                            i += 1;
                            continue;
                        }
                        if word(j) == Some("IF") && word(j + 1) == Some("EXISTS") {
                            j += 2;
                        }
                        if let Some(column) = word(j) {
                            out.push((table.clone(), Some(column.to_string())));
                        }
                        i = j;
                    }
                    _ => at_action_start = false,
                }
                i += 1;
            }
        }
        _ => {}
    }
    out
}

/// The data the down files of `plan` would delete, counted now. Objects that do not exist
/// (or hold no rows) are left out.
pub async fn data_at_risk(
    conn: &mut PgConnection,
    set: &MigrationSet,
    plan: &[&Migration],
) -> Result<Vec<DataAtRisk>, EngineError> {
    let mut out = Vec::new();
    let doing = "counting the rows a rollback would delete";
    let mut tx = conn.begin().await.map_err(db(doing))?;
    sqlx::query("SELECT set_config('search_path', quote_ident($1), true)")
        .bind(&set.schema)
        .execute(&mut *tx)
        .await
        .map_err(db(doing))?;
    for m in plan {
        let Ok(statements) = split(&m.down.sql) else {
            continue;
        };
        for s in statements {
            for (table, column) in dropped(s.text) {
                let sql = match &column {
                    None => format!("SELECT count(*) FROM {}", as_identifier(&table)),
                    Some(c) => format!(
                        "SELECT count(*) FROM {} WHERE {} IS NOT NULL",
                        as_identifier(&table),
                        as_identifier(c)
                    ),
                };
                // A savepoint, so that a missing table does not abort the others.
                sqlx::raw_sql("SAVEPOINT risk")
                    .execute(&mut *tx)
                    .await
                    .map_err(db(doing))?;
                match sqlx::query_scalar::<_, i64>(&sql).fetch_one(&mut *tx).await {
                    Ok(rows) if rows > 0 => out.push(DataAtRisk {
                        version: m.version,
                        object: match &column {
                            None => format!("table {}", shown(&table)),
                            Some(c) => format!("column {}.{}", shown(&table), shown(c)),
                        },
                        rows,
                    }),
                    Ok(_) => {}
                    Err(_) => {
                        sqlx::raw_sql("ROLLBACK TO SAVEPOINT risk")
                            .execute(&mut *tx)
                            .await
                            .map_err(db(doing))?;
                    }
                }
            }
        }
    }
    tx.rollback().await.map_err(db(doing))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(sql: &str) -> Vec<(String, Option<String>)> {
        dropped(sql)
    }

    #[test]
    fn drops_and_truncates_are_recognised() {
        assert_eq!(d("DROP TABLE payments"), [("PAYMENTS".into(), None)]);
        assert_eq!(
            d("drop table if exists a, public.b cascade"),
            [("A".into(), None), ("PUBLIC.B".into(), None)]
        );
        assert_eq!(d("TRUNCATE TABLE ONLY logs"), [("LOGS".into(), None)]);
        assert_eq!(
            d("ALTER TABLE users DROP COLUMN nickname, ADD COLUMN x int, DROP IF EXISTS \"Age\""),
            [
                ("USERS".into(), Some("NICKNAME".into())),
                ("USERS".into(), Some("\"Age\"".into()))
            ]
        );
        assert!(d("ALTER TABLE users DROP CONSTRAINT users_pkey").is_empty());
        assert!(d("ALTER TABLE users ALTER COLUMN x DROP DEFAULT").is_empty());
        assert!(d("DROP INDEX i").is_empty());
        assert!(d("-- DROP TABLE t\nSELECT 1").is_empty());
        assert_eq!(as_identifier("PUBLIC.\"Mixed\""), "\"public\".\"Mixed\"");
        assert_eq!(shown("PUBLIC.\"Mixed\""), "public.Mixed");
    }
}
