//! Schemas and extensions: created, dropped, and an extension updated or moved in place.

use super::*;

/// A version as numbers where it has them (`1.10` after `1.9`), for ordering.
pub(crate) fn version_key(version: &str) -> Vec<(u64, String)> {
    version
        .split(['.', '-'])
        .map(|part| (part.parse().unwrap_or(0), part.to_string()))
        .collect()
}

/// `DROP SCHEMA`, or `DROP EXTENSION` (which drops what the extension owns).
pub(crate) fn drop(plan: &mut Plan, kind: Kind, name: &str) {
    if kind == Kind::Extension {
        plan.lossy(
            Phase::DropTypes,
            &format!("dropping extension {name} drops what it owns"),
            format!("DROP EXTENSION {};", quote_ident(name)),
        );
    } else {
        plan.add(
            Phase::DropSchemas,
            format!("DROP SCHEMA {};", quote_ident(name)),
        );
    }
}

pub(crate) fn create(plan: &mut Plan, name: &str, def: &Def) {
    match def {
        Def::Schema(_) => plan.add(
            Phase::CreateSchemas,
            format!("CREATE SCHEMA {};", quote_ident(name)),
        ),
        Def::Extension { schema, version } => plan.add(
            Phase::Extensions,
            format!(
                "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {} VERSION '{version}';",
                quote_ident(name),
                quote_ident(schema)
            ),
        ),
        _ => {}
    }
}

/// An extension updated (upwards only: going back drops and creates it again) or moved.
pub(crate) fn change(plan: &mut Plan, name: &str, e: &Def, a: &Def) {
    let (
        Def::Extension {
            schema: es,
            version: ev,
        },
        Def::Extension {
            schema: as_,
            version: av,
        },
    ) = (e, a)
    else {
        return;
    };
    if ev != av && version_key(ev) > version_key(av) {
        plan.add(
            Phase::Extensions,
            format!("ALTER EXTENSION {} UPDATE TO '{ev}';", quote_ident(name)),
        );
    } else if ev != av {
        plan.lossy(
            Phase::Extensions,
            &format!("going back from version {av} of extension {name} drops it and what depends on it, and creates it again"),
            format!(
                "DROP EXTENSION {n};\nCREATE EXTENSION {n} WITH SCHEMA {} VERSION '{ev}';",
                quote_ident(es),
                n = quote_ident(name)
            ),
        );
    }
    if es != as_ {
        plan.add(
            Phase::Extensions,
            format!(
                "ALTER EXTENSION {} SET SCHEMA {};",
                quote_ident(name),
                quote_ident(es)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extension_goes_up_in_place_and_back_only_by_being_made_again() {
        assert!(version_key("1.10") > version_key("1.9"));
        let at = |v: &str| Def::Extension {
            schema: "extensions".into(),
            version: v.into(),
        };
        let mut plan = Plan::default();
        change(&mut plan, "pg_trgm", &at("1.6"), &at("1.5"));
        assert_eq!(
            plan.steps[0].1,
            "ALTER EXTENSION \"pg_trgm\" UPDATE TO '1.6';"
        );
        let mut plan = Plan::default();
        change(&mut plan, "pg_trgm", &at("1.5"), &at("1.6"));
        assert!(
            plan.steps[0].1.starts_with("-- data loss: going back"),
            "{:?}",
            plan.steps
        );
    }
}
