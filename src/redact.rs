//! Keeps passwords out of every message, log line and JSON document: any database URL shown
//! to a user goes through [`redact_url`] first, and free text that may quote one (a driver
//! error) goes through [`redact_text`].

/// Replaces the password of a `postgres://user:password@host/db` URL, and any `password=`
/// query parameter, with `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_params(url);
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..rest_start]);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(&redact_params(&rest[authority_end..]));
    out
}

/// `password=secret` (URL query or key/value connection string) becomes `password=***`.
fn redact_params(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let before_ok = i == 0 || matches!(rest.as_bytes()[i - 1], b'?' | b'&' | b' ' | b';');
        let value_start = i + "password=".len();
        out.push_str(&rest[..value_start]);
        if before_ok {
            let end = rest[value_start..]
                .find(['&', ' ', ';'])
                .map_or(rest.len(), |e| value_start + e);
            out.push_str("***");
            rest = &rest[end..];
        } else {
            rest = &rest[value_start..];
        }
    }
    out.push_str(rest);
    out
}

/// Redacts every `scheme://…` URL found in free text.
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
    out.push_str(&redact_params(rest));
    out
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
        assert_eq!(
            redact_url("postgres://u:p@ss:w@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("host=h password=x user=u"),
            "host=h password=*** user=u"
        );
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
