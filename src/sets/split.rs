//! Splits a migration file into statements.
//!
//! Statements are sent to the server one at a time so that a failure can always be mapped to
//! the file line where the failing statement starts (Postgres reports no position for many
//! errors), and so that `-- migrate:no-transaction` files never run inside the implicit
//! transaction a multi-statement query gets. A full SQL parser is not needed and does not
//! exist for every construct Postgres accepts (`DO $$ ... $$`), so the cut is made on the
//! tokens of [`lexer`](super::lexer), the way psql cuts: at a `;` outside parentheses
//! (`CREATE RULE ... DO ALSO (INSERT ...; INSERT ...)`) and outside SQL-standard `BEGIN
//! ATOMIC … END` function bodies. psql meta-commands are refused: they are not SQL.

pub use super::lexer::line_of;
use super::lexer::{Kind, LexError, Tokens};
use thiserror::Error;

/// One statement of a file: its text (without the closing `;`) and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// Statement text, leading whitespace removed, closing `;` excluded.
    pub text: &'a str,
    /// Byte offset of `text` in the file.
    pub offset: usize,
}

/// Why a file cannot be split into statements.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("unterminated {what} starting at line {line}")]
    Unterminated { what: &'static str, line: usize },
    #[error("psql meta-command `{command}` at line {line} is not SQL")]
    MetaCommand { command: String, line: usize },
}

impl SplitError {
    pub fn line(&self) -> usize {
        match self {
            SplitError::Unterminated { line, .. } | SplitError::MetaCommand { line, .. } => *line,
        }
    }
}

impl From<LexError> for SplitError {
    fn from(e: LexError) -> SplitError {
        SplitError::Unterminated {
            what: e.what,
            line: e.line,
        }
    }
}

/// Splits `src` into statements. Statements that hold nothing but comments and whitespace are
/// dropped.
pub fn split(src: &str) -> Result<Vec<Statement<'_>>, SplitError> {
    let mut out = Vec::new();
    // Whether the current statement has anything besides comments, and where its first
    // word is (the comments above a statement are not part of it, so its location names
    // the line of its first word).
    let mut has_code = false;
    let mut first_code = 0usize;
    // Parentheses open in the current statement, and where the outermost opened.
    let mut depth = 0usize;
    let mut paren_open = 0usize;
    // `BEGIN ATOMIC` bodies: nesting depth of BEGIN/CASE … END, 0 when outside one.
    let mut atomic_depth = 0usize;
    let mut atomic_open = 0usize;
    let mut prev_begin: Option<usize> = None;
    for t in Tokens::new(src) {
        let t = t?;
        // One look at the kind (and a punctuation's byte) per token: this runs over every
        // file of a set at each load.
        let (word, punct) = match t.kind {
            Kind::LineComment | Kind::BlockComment => continue,
            Kind::MetaCommand => {
                return Err(SplitError::MetaCommand {
                    command: t.text.split_whitespace().next().unwrap_or("\\").to_string(),
                    line: line_of(src, t.offset),
                })
            }
            Kind::Word => (true, 0),
            Kind::Punct => (false, t.text.as_bytes()[0]),
            _ => (false, 0),
        };
        let begin_here = (word && t.text.eq_ignore_ascii_case("BEGIN")).then_some(t.offset);
        if punct == b';' && depth == 0 && atomic_depth == 0 {
            if has_code {
                push_statement(src, first_code, t.offset, &mut out);
            }
            has_code = false;
            prev_begin = None;
            continue;
        }
        if !has_code {
            first_code = t.offset;
        }
        has_code = true;
        if punct == b'(' {
            if depth == 0 {
                paren_open = t.offset;
            }
            depth += 1;
        } else if punct == b')' {
            depth = depth.saturating_sub(1);
        } else if word && atomic_depth == 0 {
            if let (true, Some(open)) = (t.text.eq_ignore_ascii_case("ATOMIC"), prev_begin) {
                atomic_depth = 1;
                atomic_open = open;
            }
        } else if word && (begin_here.is_some() || t.text.eq_ignore_ascii_case("CASE")) {
            atomic_depth += 1;
        } else if word && t.text.eq_ignore_ascii_case("END") {
            atomic_depth -= 1;
        }
        prev_begin = begin_here;
    }
    if atomic_depth > 0 {
        return Err(SplitError::Unterminated {
            what: "BEGIN ATOMIC body (no matching END)",
            line: line_of(src, atomic_open),
        });
    }
    if depth > 0 {
        return Err(SplitError::Unterminated {
            what: "parenthesis",
            line: line_of(src, paren_open),
        });
    }
    if has_code {
        push_statement(src, first_code, src.len(), &mut out);
    }
    Ok(out)
}

/// Pushes the statement from its first word at `first` to `end`.
fn push_statement<'a>(src: &'a str, first: usize, end: usize, out: &mut Vec<Statement<'a>>) {
    out.push(Statement {
        text: src[first..end].trim_end(),
        offset: first,
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
                "SELECT E'it\\'s;', 'o''k;'"
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

    /// psql tracks parentheses; a rule's action list holds several statements.
    #[test]
    fn semicolons_inside_parentheses_do_not_split() {
        let src = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 1";
        let t = texts(src);
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[0].ends_with("INSERT INTO b VALUES (2))"));
    }

    /// An unterminated `BEGIN ATOMIC` once swallowed the rest of the file silently.
    #[test]
    fn an_unterminated_begin_atomic_names_its_line() {
        let src = "SELECT 1;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\nCREATE TABLE t (id int);";
        assert_eq!(
            split(src).unwrap_err(),
            SplitError::Unterminated {
                what: "BEGIN ATOMIC body (no matching END)",
                line: 3
            }
        );
    }

    /// psql meta-commands passed the load check and failed at run time glued to the next
    /// statement.
    #[test]
    fn psql_meta_commands_are_refused_with_their_line() {
        assert_eq!(
            split("SELECT 1;\n\\set ON_ERROR_STOP on\nSELECT 2;").unwrap_err(),
            SplitError::MetaCommand {
                command: "\\set".into(),
                line: 2
            }
        );
        assert!(split("\\i other.sql").is_err());
        assert!(split("\\connect db").is_err());
        // a backslash inside a string or a comment is not one
        assert_eq!(texts("SELECT E'\\\\n', '\\' -- \\x\n").len(), 1);
    }

    #[test]
    fn comment_only_statements_are_dropped() {
        assert_eq!(
            texts("-- just a note\n;\n/* and this */;\n"),
            Vec::<&str>::new()
        );
        assert_eq!(
            texts("-- migrate:no-transaction\nSELECT 1;\n-- trailing"),
            vec!["SELECT 1"]
        );
    }

    #[test]
    fn unterminated_constructs_name_their_line() {
        assert_eq!(
            split("SELECT 1;\nSELECT 'oops").unwrap_err(),
            SplitError::Unterminated {
                what: "quoted string",
                line: 2
            }
        );
        assert_eq!(split("\n\nDO $x$ BEGIN").unwrap_err().line(), 3);
        let what = |src| match split(src).unwrap_err() {
            SplitError::Unterminated { what, .. } => what,
            e => panic!("{e}"),
        };
        assert_eq!(what("/* /* */"), "block comment");
        assert_eq!(what("SELECT \"x"), "quoted identifier");
        assert_eq!(what("SELECT (1;\nSELECT 2"), "parenthesis");
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
            "(1)",
            "(a; b)",
            "(x (y; z) w)",
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

    /// A failing index on line 12 under a comment header was reported at `:1:1`: the
    /// comments above a statement are not part of it, so its location is its first word.
    #[test]
    fn a_statement_starts_at_its_first_word_not_at_the_comments_above_it() {
        let src = "-- Indexes.\n--\n/* more */\n\nCREATE INDEX i ON t (a);\n\n-- next\nCREATE INDEX j ON t (b);";
        let statements = split(src).unwrap();
        let lines: Vec<usize> = statements.iter().map(|s| line_of(src, s.offset)).collect();
        assert_eq!(lines, [5, 8]);
        assert!(statements[0].text.starts_with("CREATE INDEX i"));
    }
}
