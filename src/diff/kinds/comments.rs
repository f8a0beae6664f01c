//! Comments and owners, for every kind that has them: `COMMENT ON` and `ALTER ... OWNER TO`
//! when what the expected catalog says differs from the database (or from what a new
//! object gets).

use super::*;

/// How `COMMENT ON` and `ALTER ... OWNER TO` name the object `name` of `kind` (`TABLE t`,
/// `FUNCTION f(integer)`, `POLICY p ON t`); `None` for kinds that have neither.
pub(crate) fn object_target(kind: Kind, name: &str) -> Option<String> {
    let word = sql_word(kind)?;
    Some(match kind {
        Kind::Schema | Kind::Publication => format!("{word} {}", quote_ident(name)),
        Kind::Function | Kind::Procedure => {
            let (f, args) = name.split_once('(')?;
            format!("{word} {}({args}", quote_path(f))
        }
        Kind::Trigger | Kind::Policy | Kind::Constraint | Kind::Rule => {
            let (table, object) = table_and_name(name);
            format!("{word} {object} ON {table}")
        }
        _ => format!("{word} {}", quote_path(name)),
    })
}

pub(crate) fn comment_of(def: &Def) -> Option<&String> {
    match def {
        Def::Schema(s) => s.comment.as_ref(),
        Def::Table(t) => t.comment.as_ref(),
        Def::Column(c) => c.comment.as_ref(),
        Def::View { comment, .. } | Def::Routine { comment, .. } => comment.as_ref(),
        Def::Enum { comment, .. } | Def::CompositeType { comment, .. } => comment.as_ref(),
        Def::Domain(d) => d.comment.as_ref(),
        Def::RangeType(r) => r.comment.as_ref(),
        Def::Collation(c) => c.comment.as_ref(),
        Def::Constraint { comment, .. }
        | Def::Index { comment, .. }
        | Def::Trigger { comment, .. }
        | Def::Rule { comment, .. }
        | Def::Statistics { comment, .. } => comment.as_ref(),
        Def::Policy(p) => p.comment.as_ref(),
        Def::Publication(p) => p.comment.as_ref(),
        _ => None,
    }
}

/// `ALTER ... OWNER TO` when the owner `expected` gives the object `(kind, name, def)`
/// differs from its owner in `actual` (`exists`), or from the role running the repair when
/// it is created. An owner a catalog leaves unsaid is the role it was read relative to (for
/// the committed catalogs, whoever applied the set: the actual database's).
pub(crate) fn owner(
    plan: &mut Plan,
    object: (Kind, &str, &Def),
    catalogs: [&Catalog; 2],
    exists: bool,
) {
    let (kind, name, def) = object;
    let [expected, actual] = catalogs;
    let key = format!("{} {name}", kind.as_str());
    if !kind.is_owned() || matches!(def, Def::Sequence(s) if s.owned_by.is_some()) {
        // a sequence owned by a column follows its table's owner
        return;
    }
    let owner_in = |catalog: &Catalog| catalog.objects.get(&key).and_then(|o| o.owner.clone());
    let unsaid = expected.owner.clone().or_else(|| actual.owner.clone());
    let want = owner_in(expected).or(unsaid);
    let have = if exists {
        owner_in(actual).or_else(|| actual.owner.clone())
    } else {
        actual.owner.clone()
    };
    if want == have {
        return;
    }
    if let Some(target) = object_target(kind, name) {
        plan.add(
            Phase::Comments,
            format!(
                "ALTER {target} OWNER TO {};",
                want.as_deref().unwrap_or("CURRENT_USER")
            ),
        );
    }
}

/// `COMMENT ON` when the comment of `expected` differs from `actual`'s (none when created
/// without one).
pub(crate) fn comment(
    plan: &mut Plan,
    kind: Kind,
    name: &str,
    expected: &Def,
    actual: Option<&Def>,
) {
    let want = comment_of(expected);
    if want == actual.and_then(comment_of) {
        return;
    }
    if let Some(target) = object_target(kind, name) {
        plan.add(
            Phase::Comments,
            format!(
                "COMMENT ON {target} IS {};",
                want.map_or("NULL", String::as_str)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_named_as_comment_on_and_owner_to_name_them() {
        assert_eq!(
            object_target(Kind::Function, "f(a integer)").unwrap(),
            "FUNCTION \"f\"(a integer)"
        );
        assert_eq!(
            object_target(Kind::Policy, "users.p").unwrap(),
            "POLICY \"p\" ON \"users\""
        );
        assert_eq!(
            object_target(Kind::MaterializedView, "s.m").unwrap(),
            "MATERIALIZED VIEW \"s\".\"m\""
        );
        assert!(object_target(Kind::GrantsOnTable, "t").is_none());
    }

    #[test]
    fn a_comment_is_set_only_when_it_differs() {
        let with = Def::parse(
            Kind::Index,
            "CREATE INDEX i ON t USING btree (a)\ncomment 'x'",
        );
        let without = Def::parse(Kind::Index, "CREATE INDEX i ON t USING btree (a)");
        let mut plan = Plan::default();
        comment(&mut plan, Kind::Index, "i", &with, Some(&with));
        assert!(plan.steps.is_empty());
        comment(&mut plan, Kind::Index, "i", &without, Some(&with));
        assert_eq!(plan.steps[0].1, "COMMENT ON INDEX \"i\" IS NULL;");
    }
}
