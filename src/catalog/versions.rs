//! One canonical text on every supported PostgreSQL version (15 to 18). Where a server
//! version prints the same object differently, the text is brought to one form here, for
//! both sides of every comparison, so a catalog captured on one version verifies clean on
//! another.
//!
//! The differences handled:
//! - **View definitions (16+).** `pg_get_viewdef` no longer qualifies column references
//!   when the query reads a single relation: 15 prints `SELECT q.user_id FROM user_quotas q`,
//!   16 and later `SELECT user_id FROM user_quotas q`. Whole-row references (`q.*`) stay
//!   qualified on every version. The canonical form is the newer, unqualified one:
//!   [`view_definition`] removes the qualifier from 15's text when the query is one
//!   `SELECT` over one relation, and leaves every other query as the server printed it.

use crate::sets::lexer::{code_tokens, Kind, Token};

/// Keywords that may follow the single relation of a simple `SELECT ... FROM name alias`.
const AFTER_FROM: &[&str] = &[
    "WHERE", "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT", "OFFSET",
];

/// `definition` (a view's, from `pg_get_viewdef`) with the qualifiers of column references
/// removed when the query reads exactly one relation, as PostgreSQL 16 and later print it.
pub fn view_definition(definition: &str) -> String {
    let Ok(tokens) = code_tokens(definition) else {
        return definition.to_string();
    };
    let Some(qualifier) = single_relation(&tokens) else {
        return definition.to_string();
    };
    let mut out = String::with_capacity(definition.len());
    let mut copied = 0;
    for w in tokens.windows(3) {
        let (name, dot, column) = (&w[0], &w[1], &w[2]);
        let is_name = |t: &Token| matches!(t.kind, Kind::Word | Kind::QuotedIdent);
        if is_name(name)
            && name.name().as_deref() == Some(qualifier.as_str())
            && dot.is_punct('.')
            && dot.offset == name.offset + name.text.len()
            && is_name(column)
            && column.offset == dot.offset + 1
        {
            out.push_str(&definition[copied..name.offset]);
            copied = column.offset;
        }
    }
    out.push_str(&definition[copied..]);
    out
}

/// The name column references are qualified with when `tokens` are one `SELECT` over one
/// relation (`FROM name [alias]`, then the end or a clause keyword): the alias, or the
/// relation's own name.
fn single_relation(tokens: &[Token<'_>]) -> Option<String> {
    let selects = tokens.iter().filter(|t| t.is("SELECT")).count();
    let set_ops = tokens
        .iter()
        .any(|t| t.is("UNION") || t.is("INTERSECT") || t.is("EXCEPT") || t.is("WITH"));
    if selects != 1 || set_ops || !tokens.first()?.is("SELECT") {
        return None;
    }
    let from = tokens.iter().position(|t| t.is("FROM"))?;
    let mut rest = tokens[from + 1..]
        .iter()
        .filter(|t| !t.is_punct(';'))
        .peekable();
    // The relation: name or schema.name.
    let mut relation = rest.next().filter(|t| t.kind != Kind::Punct)?.name()?;
    if rest.peek().is_some_and(|t| t.is_punct('.')) {
        rest.next();
        relation = rest.next()?.name()?;
    }
    if relation.eq_ignore_ascii_case("ONLY") || relation.eq_ignore_ascii_case("LATERAL") {
        return None;
    }
    let mut qualifier = relation;
    match rest.peek() {
        None => return Some(qualifier),
        Some(t) if AFTER_FROM.iter().any(|k| t.is(k)) => return Some(qualifier),
        Some(t) if t.kind == Kind::Word || t.kind == Kind::QuotedIdent => {
            qualifier = t.name()?;
            rest.next();
        }
        Some(_) => return None,
    }
    match rest.peek() {
        None => Some(qualifier),
        Some(t) if AFTER_FROM.iter().any(|k| t.is(k)) => Some(qualifier),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteens_qualified_single_relation_view_takes_the_newer_form() {
        let v15 = " SELECT q.user_id,\n    quota_usage_percent(q.*) AS pct\n   FROM user_quotas q\n  WHERE q.tokens_limit IS NOT NULL AND (q.tokens_used * 5) >= 4;";
        let v17 = " SELECT user_id,\n    quota_usage_percent(q.*) AS pct\n   FROM user_quotas q\n  WHERE tokens_limit IS NOT NULL AND (tokens_used * 5) >= 4;";
        assert_eq!(view_definition(v15), v17);
        assert_eq!(view_definition(v17), v17);
    }

    #[test]
    fn the_relation_name_serves_when_there_is_no_alias() {
        assert_eq!(
            view_definition(" SELECT users.id,\n    users.\"Name\"\n   FROM users;"),
            " SELECT id,\n    \"Name\"\n   FROM users;"
        );
    }

    #[test]
    fn joins_subqueries_and_set_operations_keep_their_qualifiers() {
        for v in [
            " SELECT a.id\n   FROM a\n     JOIN b ON b.id = a.id;",
            " SELECT a.id\n   FROM a, b;",
            " SELECT a.id,\n    ( SELECT count(*) FROM b WHERE b.a = a.id) AS n\n   FROM a;",
            " SELECT a.id\n   FROM a\nUNION\n SELECT a.id\n   FROM a;",
            " SELECT a.id\n   FROM ONLY a;",
            " SELECT 'a.id' AS x,\n    a.id\n   FROM a\n  WHERE a.x = 'a.y';",
        ] {
            let out = view_definition(v);
            if v.contains("'a.id'") {
                assert_eq!(
                    out,
                    " SELECT 'a.id' AS x,\n    id\n   FROM a\n  WHERE x = 'a.y';"
                );
            } else {
                assert_eq!(out, v);
            }
        }
    }
}
