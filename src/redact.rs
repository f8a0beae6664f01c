//! Keeps passwords out of every message, log line and JSON document: any database URL shown
//! to a user goes through [`redact_url`] first, and free text that may quote one (a driver
//! error, a server notice) goes through [`redact_text`].
//!
//! Three layers, because the URLs most likely to be echoed are the malformed ones:
//! - a URL that parses has its password replaced;
//! - a URL that does not parse (`postgres://app:pa/ss@db`) loses everything between `://`
//!   and its last `@`, since nobody can say where its password ends;
//! - every password a run has been given (URLs it connected with, `PGPASSWORD`) is
//!   remembered in its [`Secrets`], and [`Secrets::redact`] replaces any occurrence of it in
//!   any text, whatever the form: the binary passes everything it prints through it.

use std::sync::Mutex;

const HIDDEN: &str = "***";

/// The secrets a run has been given. Short strings are not remembered: replacing every `ab`
/// in a message would mangle it, and the structural rules above already cover them.
#[derive(Debug, Default)]
pub struct Secrets(Mutex<Vec<String>>);
const MIN_REMEMBERED: usize = 4;

impl Secrets {
    /// Remembers `secret` so that [`Secrets::redact`] hides it wherever it appears.
    pub fn remember(&self, secret: &str) {
        if secret.len() < MIN_REMEMBERED {
            return;
        }
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !all.iter().any(|s| s == secret) {
            all.push(secret.to_string());
            // Longest first, so a secret containing another is replaced whole.
            all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Remembers the passwords of a connection string (URL or key=value) and `PGPASSWORD`.
    pub fn remember_url(&self, conn: &str) {
        if let Ok(pw) = std::env::var("PGPASSWORD") {
            self.remember(&pw);
        }
        if let Some(rest) = conn.split_once("://").map(|(_, r)| r) {
            match url::Url::parse(conn) {
                Ok(u) => {
                    if let Some(pw) = u.password() {
                        self.remember(pw);
                        if let Ok(decoded) = percent_decode(pw) {
                            self.remember(&decoded);
                        }
                    }
                }
                Err(_) => {
                    if let Some(at) = rest.rfind('@') {
                        if let Some((_, pw)) = rest[..at].split_once(':') {
                            self.remember(pw);
                        }
                    }
                }
            }
        }
        for value in param_values(conn) {
            self.remember(&value);
        }
    }

    /// [`redact_text`], then every remembered secret replaced, whatever its form.
    pub fn redact(&self, text: &str) -> String {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = redact_text(text);
        for secret in all.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), HIDDEN);
            }
        }
        out
    }
}

fn percent_decode(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// Replaces the password of a `postgres://user:password@host/db` URL, and any `password`
/// parameter, with `***`. A URL that does not parse loses its whole user information.
pub fn redact_url(conn: &str) -> String {
    let Some(scheme_end) = conn.find("://") else {
        return redact_params(conn);
    };
    let rest_start = scheme_end + 3;
    // Everything between `://` and the last `@` goes: where a malformed URL's password ends
    // cannot be known.
    let whole_userinfo = || {
        let rest = &conn[rest_start..];
        match rest.rfind('@') {
            Some(at) => format!("{}{HIDDEN}{}", &conn[..rest_start], &rest[at..]),
            None => conn.to_string(),
        }
    };
    let shown = match url::Url::parse(conn) {
        Ok(mut u) if u.password().is_some() => {
            // Cannot fail: the URL has a host, since it has a password.
            let _ = u.set_password(Some(HIDDEN));
            let text = u.to_string();
            if text.contains(HIDDEN) {
                text
            } else {
                whole_userinfo()
            }
        }
        Ok(_) => conn.to_string(),
        Err(_) => whole_userinfo(),
    };
    redact_params(&shown)
}

/// The values of password parameters in `s` (URL query or key=value string).
fn param_values(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan_params(s, |_, value| out.push(value.to_string()));
    out
}

/// Calls `found(range, value)` for every `…password = value` in `s`: a URL query parameter
/// (ends at `&`) or a key=value parameter (ends at whitespace, or quoted with `'` and `\`
/// escapes as libpq reads it).
fn scan_params(s: &str, mut found: impl FnMut(std::ops::Range<usize>, &str)) {
    let lower = s.to_ascii_lowercase();
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(rel) = lower[from..].find("password") {
        let key_end = from + rel + "password".len();
        from = key_end;
        // the key starts at a separator: start, `?`, `&`, whitespace, `;` or a key prefix
        let mut i = key_end;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let start = i;
        let mut value = String::new();
        if b.get(i) == Some(&b'\'') {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                let ch = s[i..].chars().next().unwrap_or(' ');
                value.push(ch);
                i += ch.len_utf8();
            }
            i = (i + 1).min(b.len());
        } else {
            while i < b.len() && !matches!(b[i], b'&' | b' ' | b'\t' | b'\n' | b';' | b'"') {
                i += 1;
            }
            value.push_str(&s[start..i]);
        }
        found(start..i, &value);
        from = i.max(from);
    }
}

/// `password=secret` (URL query or key/value connection string) becomes `password=***`.
fn redact_params(s: &str) -> String {
    let mut ranges = Vec::new();
    scan_params(s, |range, _| ranges.push(range));
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for r in ranges {
        if r.start < last {
            continue;
        }
        out.push_str(&s[last..r.start]);
        out.push_str(HIDDEN);
        last = r.end;
    }
    out.push_str(&s[last..]);
    out
}

/// Redacts every `scheme://…` URL and every password parameter found in free text.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '.' || c == '-'))
            .map_or(0, |p| p + 1);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '`')
            .map_or(rest.len(), |e| i + e);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    redact_params(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db.example.com:5432/prod?sslmode=require"),
            "postgres://app:***@db.example.com:5432/prod?sslmode=require"
        );
        assert_eq!(redact_url("postgresql://app@h/db"), "postgresql://app@h/db");
        assert_eq!(redact_url("postgres://h:5432/db"), "postgres://h:5432/db");
        assert_eq!(
            redact_url("postgres://h/db?user=a&password=hunter2&sslmode=disable"),
            "postgres://h/db?user=a&password=***&sslmode=disable"
        );
        // a password holding `@` and `:`
        assert!(!redact_url("postgres://u:p@ss:w@h/db").contains("ss:w"));
        assert_eq!(
            redact_url("host=h password=x user=u"),
            "host=h password=*** user=u"
        );
    }

    /// Malformed URLs are the ones echoed in "invalid URL" errors.
    #[test]
    fn passwords_with_slash_or_question_mark_are_hidden() {
        for (url, secret) in [
            ("postgres://app:pa/ss@db/prod", "pa/ss"),
            ("postgres://app:pa?ss@db/prod", "pa?ss"),
            ("postgres://app:pa#ss@db/prod", "pa#ss"),
            ("postgres://app:p@/ss@db:5432/prod?sslmode=require", "p@/ss"),
        ] {
            let shown = redact_url(url);
            assert!(!shown.contains(secret), "{url} -> {shown}");
            assert!(
                shown.ends_with("@db/prod") || shown.contains("@db:5432"),
                "{shown}"
            );
            let t = redact_text(&format!("invalid database URL {url}: bad port"));
            assert!(!t.contains(secret), "{t}");
        }
    }

    #[test]
    fn quoted_key_value_passwords_are_hidden_whole() {
        assert_eq!(
            redact_url("host=h password='my secret' user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(
            redact_text("connecting with host=h password = 'it\\'s me' dbname=x"),
            "connecting with host=h password = *** dbname=x"
        );
        assert_eq!(
            redact_text("sslpassword=k3y host=h"),
            "sslpassword=*** host=h"
        );
    }

    #[test]
    fn remembered_secrets_are_hidden_in_any_text() {
        let secrets = Secrets::default();
        secrets.remember_url("postgres://app:Remember-Me-9@h/db");
        let t = secrets.redact("the server said: password Remember-Me-9 is wrong");
        assert!(!t.contains("Remember-Me-9"), "{t}");
        secrets.remember_url("host=h password='kv secret 42'");
        assert!(!secrets.redact("x kv secret 42 y").contains("kv secret 42"));
        // Another run's secrets are its own.
        assert!(Secrets::default()
            .redact("x kv secret 42 y")
            .contains("kv secret 42"));
    }

    #[test]
    fn urls_inside_text_are_hidden() {
        let t = redact_text(
            "cannot connect to postgres://u:pw@h/db: refused (was \"postgres://v:pw2@g/x\")",
        );
        assert!(!t.contains("pw"), "{t}");
        assert!(
            t.contains("postgres://u:***@h/db:") && t.contains("postgres://v:***@g/x"),
            "{t}"
        );
    }
}
