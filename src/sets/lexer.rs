//! The one SQL lexer: what the splitter cuts statements with, what the load checks read
//! the first words of a statement with, and what the data-at-risk check of `down` reads
//! `DROP`, `TRUNCATE` and `ALTER TABLE ... DROP COLUMN` with. One lexer, so that what is a
//! string, a comment or a word is decided once.
//!
//! It knows exactly what can hide a `;` or a keyword in PostgreSQL: quoted strings (`'…'`
//! with `''`, `E'…'` with backslash escapes, `U&'…'`, `B'…'`, `X'…'`, `N'…'`), quoted
//! identifiers, dollar quotes (`$$`, `$tag$`), line comments and nesting block comments.
//! A backslash outside all of those is a psql meta-command (`\set`, `\i`), which is not SQL.

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A keyword or unquoted identifier (letters, digits, `_`, `$`).
    Word,
    /// `"…"`.
    QuotedIdent,
    /// A string constant in any of its forms.
    String,
    /// `$tag$ … $tag$`.
    DollarString,
    /// A number, or a `$1` parameter.
    Number,
    /// `-- …` to the end of the line.
    LineComment,
    /// `/* … */`, nested.
    BlockComment,
    /// Any other single character: `(`, `)`, `,`, `;`, `.`, operators.
    Punct,
    /// A backslash outside quotes and comments: a psql meta-command, to the end of the line.
    MetaCommand,
}

/// One token: its kind, text and byte offset in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    pub offset: usize,
}

impl Token<'_> {
    /// A word equal to `keyword`, ignoring case.
    pub fn is(&self, keyword: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(keyword)
    }
    pub fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct && self.text.starts_with(c)
    }
    pub fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }
    /// The name a word or quoted identifier stands for: unquoted words fold to lower case.
    pub fn name(&self) -> Option<String> {
        match self.kind {
            Kind::Word => Some(self.text.to_lowercase()),
            Kind::QuotedIdent => Some(self.text[1..self.text.len() - 1].replace("\"\"", "\"")),
            _ => None,
        }
    }
    /// The body of a dollar-quoted string, without its tags.
    pub fn dollar_body(&self) -> Option<&str> {
        if self.kind != Kind::DollarString {
            return None;
        }
        let tag_len = self.text[1..].find('$')? + 2;
        self.text.get(tag_len..self.text.len() - tag_len)
    }
    /// The value of a plain `'…'` string constant (no escapes), if this is one.
    pub fn plain_string(&self) -> Option<String> {
        (self.kind == Kind::String && self.text.starts_with('\''))
            .then(|| self.text[1..self.text.len() - 1].replace("''", "'"))
    }
}

/// A construct that was opened and never closed.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("unterminated {what} starting at line {line}")]
pub struct LexError {
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

/// Line numbers of increasing offsets of one text, counted as it goes: asking for each
/// statement of a file in order costs one pass over the file, not one per statement.
pub struct LineCounter<'a> {
    src: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    pub fn new(src: &'a str) -> LineCounter<'a> {
        LineCounter {
            src: src.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of `offset` (as [`line_of`]); an offset before the last one asked
    /// for starts the count again.
    pub fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.src.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.src[self.offset..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

/// What each byte can be, one table lookup per byte: every run of `migrate` lexes every file
/// of its set to check it, and the suite's thousands of runs do so unoptimised, where a
/// function call per byte cost three times as much.
const SPACE: u8 = 1;
const IDENT_START: u8 = 2;
const IDENT: u8 = 4;
static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_whitespace() {
            class[b] |= SPACE;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            class[b] |= IDENT_START | IDENT;
        }
        if c.is_ascii_digit() || c == b'$' {
            class[b] |= IDENT;
        }
        b += 1;
    }
    class
};

fn is_ident_start(b: u8) -> bool {
    CLASS[b as usize] & IDENT_START != 0
}

/// Where the line that `from` (a character's start) is in ends: its `\n`, or the end of
/// `src`.
fn line_end(src: &str, from: usize) -> usize {
    src[from..].find('\n').map_or(src.len(), |at| from + at)
}

/// Every token of `src`, in order, comments included.
pub fn tokens(src: &str) -> Result<Vec<Token<'_>>, LexError> {
    Tokens::new(src).collect()
}

/// The tokens of `src` one at a time, comments included: a reader that needs only the
/// first words of a statement stops there instead of lexing all of it. After an error it
/// yields nothing more.
pub struct Tokens<'a> {
    src: &'a str,
    i: usize,
}

impl<'a> Tokens<'a> {
    pub fn new(src: &'a str) -> Tokens<'a> {
        Tokens { src, i: 0 }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Result<Token<'a>, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        let src = self.src;
        let b = src.as_bytes();
        let mut i = self.i;
        let unterminated = |what, at| LexError {
            what,
            line: line_of(src, at),
        };
        let n = b.len();
        while i < n && CLASS[b[i] as usize] & SPACE != 0 {
            i += 1;
        }
        if i >= b.len() {
            self.i = i;
            return None;
        }
        let start = i;
        let c = b[i];
        // An error ends the iteration: the next call finds nothing left.
        self.i = b.len();
        let kind = match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = line_end(src, i);
                Kind::LineComment
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    if i + 1 >= b.len() {
                        return Some(Err(unterminated("block comment", start)));
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
                Kind::BlockComment
            }
            b'\'' => {
                i = match string_end(b, i, false) {
                    Some(end) => end,
                    None => return Some(Err(unterminated("quoted string", start))),
                };
                Kind::String
            }
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Some(Err(unterminated("quoted identifier", start))),
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                Kind::QuotedIdent
            }
            b'$' => {
                // `$tag$` where tag is empty or an identifier not starting with a digit;
                // `$1` is a parameter.
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
                if j < b.len() && b[j] == b'$' && (j == i + 1 || !b[i + 1].is_ascii_digit()) {
                    let tag = &src[i..=j];
                    match src[j + 1..].find(tag) {
                        Some(rel) => i = j + 1 + rel + tag.len(),
                        None => return Some(Err(unterminated("dollar-quoted string", start))),
                    }
                    Kind::DollarString
                } else {
                    i = j.max(i + 1);
                    Kind::Number
                }
            }
            b'\\' => {
                i = line_end(src, i);
                Kind::MetaCommand
            }
            _ if is_ident_start(c) => {
                while i < n && CLASS[b[i] as usize] & IDENT != 0 {
                    i += 1;
                }
                let word = &src[start..i];
                // String constants with a prefix: E'…' (backslash escapes), B'…', X'…',
                // N'…', U&'…'.
                let prefixed = match b.get(i) {
                    Some(b'\'')
                        if matches!(word, "E" | "e" | "B" | "b" | "X" | "x" | "N" | "n") =>
                    {
                        Some(word.eq_ignore_ascii_case("e"))
                    }
                    Some(b'&')
                        if word.eq_ignore_ascii_case("u") && b.get(i + 1) == Some(&b'\'') =>
                    {
                        i += 1;
                        Some(false)
                    }
                    _ => None,
                };
                match prefixed {
                    Some(escapes) => {
                        i = match string_end(b, i, escapes) {
                            Some(end) => end,
                            None => return Some(Err(unterminated("quoted string", start))),
                        };
                        Kind::String
                    }
                    None => Kind::Word,
                }
            }
            _ if c.is_ascii_digit() => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_')
                {
                    i += 1;
                }
                Kind::Number
            }
            _ => {
                i += src[i..].chars().next().map_or(1, char::len_utf8);
                Kind::Punct
            }
        };
        self.i = i;
        Some(Ok(Token {
            kind,
            text: &src[start..i],
            offset: start,
        }))
    }
}

/// The end (exclusive) of the string constant whose opening quote is at `open`.
fn string_end(b: &[u8], open: usize, escapes: bool) -> Option<usize> {
    let mut i = open + 1;
    loop {
        match b.get(i)? {
            b'\\' if escapes => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The tokens of `src` that are not comments.
pub fn code_tokens(src: &str) -> Result<Vec<Token<'_>>, LexError> {
    Ok(tokens(src)?
        .into_iter()
        .filter(|t| !t.is_comment())
        .collect())
}

/// The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] [schema.]name ON ...`
/// statement builds, as (schema, name); `None` for any other statement, and for an unnamed
/// index (the server picks its name). Such a build that fails leaves an INVALID index.
pub fn concurrent_index(statement: &str) -> Option<(Option<String>, String)> {
    let tokens = code_tokens(statement).ok()?;
    let mut t = tokens.iter().peekable();
    if !t.next()?.is("CREATE") {
        return None;
    }
    if t.peek()?.is("UNIQUE") {
        t.next();
    }
    if !t.next()?.is("INDEX") || !t.next()?.is("CONCURRENTLY") {
        return None;
    }
    if t.peek()?.is("IF") {
        t.next();
        if !t.next()?.is("NOT") || !t.next()?.is("EXISTS") {
            return None;
        }
    }
    let first = t.next()?;
    if first.is("ON") {
        return None;
    }
    let first = first.name()?;
    if t.peek().is_some_and(|d| d.is_punct('.')) {
        t.next();
        let second = t.next()?.name()?;
        return Some((Some(first), second));
    }
    Some((None, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loading a big file counted the lines from the start of the file for every statement
    /// (quadratic: 10 s for 5 MB, over a minute for 50 MB); the counter gives the same lines in
    /// one pass.
    #[test]
    fn lines_counted_as_they_go_are_the_lines_of_their_offsets() {
        let src = "a;\nb;\n\nc;\n  d\n";
        let mut lines = LineCounter::new(src);
        for offset in [0, 1, 3, 4, 7, 9, 12, src.len(), src.len() + 5] {
            assert_eq!(lines.line_at(offset), line_of(src, offset), "{offset}");
        }
        // going back starts the count again
        assert_eq!(lines.line_at(3), 2);
    }

    #[test]
    fn concurrent_index_names() {
        let cases = [
            (
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_a ON t (a)",
                Some((None, "idx_a")),
            ),
            (
                "-- why\ncreate unique index concurrently \"Idx B\" on t (b)",
                Some((None, "Idx B")),
            ),
            (
                "CREATE INDEX CONCURRENTLY s.idx_c ON s.t (c)",
                Some((Some("s"), "idx_c")),
            ),
            ("CREATE INDEX CONCURRENTLY ON t (a)", None),
            ("CREATE INDEX idx_d ON t (a)", None),
            ("DROP INDEX CONCURRENTLY idx_a", None),
        ];
        for (sql, want) in cases {
            let want =
                want.map(|(s, n): (Option<&str>, &str)| (s.map(str::to_string), n.to_string()));
            assert_eq!(concurrent_index(sql), want, "{sql}");
        }
    }

    fn kinds(src: &str) -> Vec<(Kind, &str)> {
        tokens(src)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn every_kind_of_token() {
        assert_eq!(
            kinds("SELECT e'a\\'b', U&'x', \"Q\"\"q\", $1, $t$ ; $t$ -- c\n/* a /* b */ */ café;\\set x"),
            vec![
                (Kind::Word, "SELECT"),
                (Kind::String, "e'a\\'b'"),
                (Kind::Punct, ","),
                (Kind::String, "U&'x'"),
                (Kind::Punct, ","),
                (Kind::QuotedIdent, "\"Q\"\"q\""),
                (Kind::Punct, ","),
                (Kind::Number, "$1"),
                (Kind::Punct, ","),
                (Kind::DollarString, "$t$ ; $t$"),
                (Kind::LineComment, "-- c"),
                (Kind::BlockComment, "/* a /* b */ */"),
                (Kind::Word, "café"),
                (Kind::Punct, ";"),
                (Kind::MetaCommand, "\\set x"),
            ]
        );
    }

    #[test]
    fn names_and_bodies() {
        let t = tokens("Users \"Mixed\"\"Case\" $f$ DROP TABLE x $f$ 'it''s'").unwrap();
        assert_eq!(t[0].name().as_deref(), Some("users"));
        assert_eq!(t[1].name().as_deref(), Some("Mixed\"Case"));
        assert_eq!(t[2].dollar_body(), Some(" DROP TABLE x "));
        assert_eq!(t[3].plain_string().as_deref(), Some("it's"));
    }

    #[test]
    fn multibyte_text_never_splits_a_character() {
        let src = "COMMENT ON TABLE t IS 'café'; SELECT ü→ß";
        let all = tokens(src).unwrap();
        assert!(all.iter().all(|t| src.is_char_boundary(t.offset)));
        // like Postgres, any non-ASCII character is part of an identifier
        assert_eq!(all.last().unwrap().text, "ü→ß");
    }
}
