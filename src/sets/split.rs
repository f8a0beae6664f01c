//! Splits a migration file into statements.
//!
//! Statements are sent to the server one at a time so that a failure can always be mapped to
//! the file line where the failing statement starts (Postgres reports no position for many
//! errors), and so that `-- migrate:no-transaction` files never run inside the implicit
//! transaction a multi-statement query gets. A full SQL parser is not needed and does not
//! exist for every construct Postgres accepts (`DO $$ ... $$`), so this is a lexer that knows
//! exactly what can hide a `;`: quoted strings (`'…'`, `E'…'`), quoted identifiers, dollar
//! quotes (`$$`, `$tag$`), both comment forms (block comments nest), and SQL-standard
//! `BEGIN ATOMIC … END` function bodies.

use thiserror::Error;

/// One statement of a file: its text (without the closing `;`) and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// Statement text, leading whitespace removed, closing `;` excluded.
    pub text: &'a str,
    /// Byte offset of `text` in the file.
    pub offset: usize,
}

/// A construct that was opened and never closed.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("unterminated {what} starting at line {line}")]
pub struct SplitError {
    pub what: &'static str,
    pub line: usize,
}

/// 1-based line number of a byte offset.
pub fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Splits `src` into statements. Statements that hold nothing but comments and whitespace are
/// dropped.
pub fn split(src: &str) -> Result<Vec<Statement<'_>>, SplitError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut start = 0usize;
    // Whether the current statement has anything besides whitespace and comments.
    let mut has_code = false;
    // `BEGIN ATOMIC` bodies: nesting depth of BEGIN/CASE … END, 0 when outside one.
    let mut atomic_depth = 0usize;
    let mut prev_word = String::new();
    let mut i = 0usize;

    let unterminated = |what, at| SplitError {
        what,
        line: line_of(src, at),
    };

    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let open = i;
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    if i + 1 >= b.len() {
                        return Err(unterminated("block comment", open));
                    }
                    if b[i] == b'/' && b[i + 1] == b'*' {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b[i + 1] == b'/' {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' => {
                has_code = true;
                let escapes =
                    i > 0 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !is_ident_byte(b[i - 2]));
                let open = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(unterminated("quoted string", open)),
                        Some(b'\\') if escapes => i += 2,
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                prev_word.clear();
            }
            b'"' => {
                has_code = true;
                let open = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(unterminated("quoted identifier", open)),
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                prev_word.clear();
            }
            b'$' if i == 0 || !is_ident_byte(b[i - 1]) => {
                has_code = true;
                // `$tag$` where tag is empty or an identifier not starting with a digit;
                // `$1` is a parameter, not a quote.
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
                let tag_ok =
                    j < b.len() && b[j] == b'$' && (j == i + 1 || !b[i + 1].is_ascii_digit());
                if tag_ok {
                    let tag = &src[i..=j];
                    let open = i;
                    match src[j + 1..].find(tag) {
                        Some(rel) => i = j + 1 + rel + tag.len(),
                        None => return Err(unterminated("dollar-quoted string", open)),
                    }
                } else {
                    i += 1;
                }
                prev_word.clear();
            }
            b';' if atomic_depth == 0 => {
                if has_code {
                    push_statement(src, start, i, &mut out);
                }
                i += 1;
                start = i;
                has_code = false;
                prev_word.clear();
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                has_code = true;
                let w0 = i;
                while i < b.len() && is_ident_byte(b[i]) {
                    i += 1;
                }
                let word = src[w0..i].to_ascii_uppercase();
                if atomic_depth == 0 {
                    if word == "ATOMIC" && prev_word == "BEGIN" {
                        atomic_depth = 1;
                    }
                } else if word == "CASE" || word == "BEGIN" {
                    atomic_depth += 1;
                } else if word == "END" {
                    atomic_depth -= 1;
                }
                prev_word = word;
            }
            _ => {
                if !c.is_ascii_whitespace() {
                    has_code = true;
                    prev_word.clear();
                }
                i += 1;
            }
        }
    }
    if has_code {
        push_statement(src, start, b.len(), &mut out);
    }
    Ok(out)
}

fn push_statement<'a>(src: &'a str, start: usize, end: usize, out: &mut Vec<Statement<'a>>) {
    let raw = &src[start..end];
    let trimmed = raw.trim_start();
    let offset = start + (raw.len() - trimmed.len());
    out.push(Statement {
        text: trimmed.trim_end(),
        offset,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        split(src).unwrap().into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn plain_statements_and_offsets() {
        let src = "CREATE TABLE a (x int);\n\n  CREATE TABLE b (y int);";
        let st = split(src).unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(st[0].text, "CREATE TABLE a (x int)");
        assert_eq!(st[0].offset, 0);
        assert_eq!(st[1].text, "CREATE TABLE b (y int)");
        assert_eq!(&src[st[1].offset..st[1].offset + 6], "CREATE");
        assert_eq!(line_of(src, st[1].offset), 3);
    }

    #[test]
    fn semicolons_inside_quotes_and_comments_do_not_split() {
        let src = "SELECT 'a;b', \"we;ird\" -- c;d\n; /* x; /* nested; */ y; */ SELECT E'it\\'s;', 'o''k;'";
        assert_eq!(
            texts(src),
            vec![
                "SELECT 'a;b', \"we;ird\" -- c;d",
                "/* x; /* nested; */ y; */ SELECT E'it\\'s;', 'o''k;'"
            ]
        );
    }

    #[test]
    fn dollar_quotes_with_and_without_tags() {
        let src = "DO $$ BEGIN PERFORM 1; END $$;\nCREATE FUNCTION f() RETURNS int AS $fn$ SELECT $$;$$::int; $fn$ LANGUAGE sql;";
        let t = texts(src);
        assert_eq!(t.len(), 2);
        assert!(t[0].starts_with("DO $$"));
        assert!(t[1].ends_with("LANGUAGE sql"));
    }

    #[test]
    fn parameters_and_identifiers_with_dollar_are_not_quotes() {
        let src = "PREPARE p AS SELECT $1; SELECT a$b$ FROM t";
        assert_eq!(
            texts(src),
            vec!["PREPARE p AS SELECT $1", "SELECT a$b$ FROM t"]
        );
    }

    #[test]
    fn backslash_is_literal_in_standard_strings() {
        assert_eq!(
            texts(r"SELECT 'a\'; SELECT 2"),
            vec![r"SELECT 'a\'", "SELECT 2"]
        );
        // an identifier ending in e is not an E'' prefix
        assert_eq!(
            texts(r"SELECT some'\'; SELECT 2"),
            vec![r"SELECT some'\'", "SELECT 2"]
        );
    }

    #[test]
    fn begin_atomic_bodies_keep_their_semicolons() {
        let src = "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END; SELECT 3";
        let t = texts(src);
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[0].ends_with("SELECT 2; END"));
        assert_eq!(t[1], "SELECT 3");
        // a transaction BEGIN is not a body
        assert_eq!(
            texts("BEGIN; SELECT 1; END;"),
            vec!["BEGIN", "SELECT 1", "END"]
        );
    }

    #[test]
    fn comment_only_statements_are_dropped() {
        assert_eq!(
            texts("-- just a note\n;\n/* and this */;\n"),
            Vec::<&str>::new()
        );
        assert_eq!(
            texts("-- migrate:no-transaction\nSELECT 1;\n-- trailing"),
            vec!["-- migrate:no-transaction\nSELECT 1"]
        );
    }

    #[test]
    fn unterminated_constructs_name_their_line() {
        assert_eq!(
            split("SELECT 1;\nSELECT 'oops").unwrap_err(),
            SplitError {
                what: "quoted string",
                line: 2
            }
        );
        assert_eq!(split("\n\nDO $x$ BEGIN").unwrap_err().line, 3);
        assert_eq!(split("/* /* */").unwrap_err().what, "block comment");
        assert_eq!(split("SELECT \"x").unwrap_err().what, "quoted identifier");
    }

    #[test]
    fn multibyte_text_is_kept_intact() {
        let src = "SELECT 'héllo; wörld'; SELECT ünïcode";
        assert_eq!(texts(src), vec!["SELECT 'héllo; wörld'", "SELECT ünïcode"]);
    }

    #[test]
    fn splitting_never_panics_on_arbitrary_prefixes() {
        let src = "DO $a$ x $a$; SELECT E'\\'' , \"q\"\"\" /* c */ -- d\n; $1 $ $$ $$";
        for end in 0..=src.len() {
            if src.is_char_boundary(end) {
                let _ = split(&src[..end]);
            }
        }
    }

    /// Deterministic pseudo-random numbers (no dependency needed for a test).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    /// Statements built from every construct that can hide a `;` split back into exactly
    /// themselves, with offsets that point at them.
    #[test]
    fn random_statements_split_back_into_themselves() {
        const PIECES: &[&str] = &[
            "col",
            "t.x",
            "42",
            "(",
            ")",
            ",",
            "+",
            "'a;b'",
            "'it''s;'",
            "E'back\\';slash'",
            "\"we;ird\"\"id\"",
            "$$ x; y $$",
            "$fn$ BEGIN; $$ inner; $$ END $fn$",
            "-- note; here\n",
            "/* c; /* nested; */ c */",
            "\n",
            "  ",
            "$1",
            "a$b",
            "U&'d;'",
            "héllo",
            "CASE WHEN 1 THEN 2 END",
        ];
        let mut rng = Lcg(7);
        for _ in 0..500 {
            let count = 1 + rng.next(5);
            let statements: Vec<String> = (0..count)
                .map(|_| {
                    let mut st =
                        String::from(["SELECT", "INSERT", "UPDATE", "CREATE"][rng.next(4)]);
                    for _ in 0..rng.next(12) {
                        st.push(' ');
                        st.push_str(PIECES[rng.next(PIECES.len())]);
                    }
                    st
                })
                .collect();
            let src = statements.join(";\n") + [";", "", ";\n-- trailing\n"][rng.next(3)];
            let got = split(&src).unwrap_or_else(|e| panic!("{e}: {src}"));
            let texts: Vec<&str> = got.iter().map(|s| s.text).collect();
            let expected: Vec<&str> = statements.iter().map(|s| s.trim()).collect();
            assert_eq!(texts, expected, "{src}");
            for st in &got {
                assert_eq!(&src[st.offset..st.offset + st.text.len()], st.text);
            }
        }
    }
}
