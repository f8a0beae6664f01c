//! Publications and their members (with column lists and row filters): created, dropped and altered in place.

use super::*;

/// `ALTER PUBLICATION ... ADD TABLE` for the member `def`, with its column list and row
/// filter.
pub(crate) fn add_member(publication: &str, table: &str, def: &Def) -> String {
    let (columns, filter) = match def {
        Def::Member {
            columns, filter, ..
        } => (columns.as_deref(), filter.as_deref()),
        _ => (None, None),
    };
    format!(
        "ALTER PUBLICATION {} ADD TABLE {}{}{};",
        quote_ident(publication),
        quote_path(table),
        columns.map(|c| format!(" ({c})")).unwrap_or_default(),
        filter.map(|w| format!(" WHERE ({w})")).unwrap_or_default()
    )
}

pub(crate) fn publication_with(p: &crate::catalog::model::Publication) -> String {
    format!(
        "(publish = '{}', publish_via_partition_root = {})",
        p.publish, p.via_root
    )
}

pub(crate) fn drop(plan: &mut Plan, kind: Kind, name: &str) {
    let sql = match (kind, name.split_once(':')) {
        (Kind::PublicationMember, Some((publication, table))) => format!(
            "ALTER PUBLICATION {} DROP TABLE {};",
            quote_ident(publication),
            quote_path(table)
        ),
        _ => format!("DROP PUBLICATION {};", quote_ident(name)),
    };
    plan.add(Phase::DropPublications, sql);
}

pub(crate) fn create(plan: &mut Plan, name: &str, def: &Def) {
    match (def, name.split_once(':')) {
        (Def::Publication(p), _) => plan.add(
            Phase::Publications,
            format!(
                "CREATE PUBLICATION {}{} WITH {};",
                quote_ident(name),
                if p.all_tables { " FOR ALL TABLES" } else { "" },
                publication_with(p)
            ),
        ),
        (Def::Member { .. }, Some((publication, table))) => {
            plan.add(Phase::Publications, add_member(publication, table, def))
        }
        _ => plan.skip(&format!("publication member {name}"), "malformed name"),
    }
}

/// A publication's options set in place (`FOR ALL TABLES` only by making it again); a
/// member's column list or row filter by dropping and adding the table.
pub(crate) fn change(plan: &mut Plan, name: &str, e: &Def, a: &Def) {
    match (e, a, name.split_once(':')) {
        (Def::Publication(ep), Def::Publication(ap), _) if ep.all_tables != ap.all_tables => plan
            .skip(
                &format!("publication {name}"),
                "FOR ALL TABLES is changed by recreating the publication",
            ),
        (Def::Publication(ep), _, _) => plan.add(
            Phase::Publications,
            format!(
                "ALTER PUBLICATION {} SET {};",
                quote_ident(name),
                publication_with(ep)
            ),
        ),
        (Def::Member { .. }, _, Some((publication, table))) => plan.add(
            Phase::Publications,
            format!(
                "ALTER PUBLICATION {} DROP TABLE {};\n{}",
                quote_ident(publication),
                quote_path(table),
                add_member(publication, table, e)
            ),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_added_with_its_column_list_and_row_filter() {
        let def = Def::parse(
            Kind::PublicationMember,
            "publication pub\ncolumns (id, status)\nwhere (status <> 'x'::text)",
        );
        assert_eq!(
            add_member("pub", "t", &def),
            "ALTER PUBLICATION \"pub\" ADD TABLE \"t\" (id, status) WHERE (status <> 'x'::text);"
        );
    }
}
