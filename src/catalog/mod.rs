//! The one catalog model: a database's schema read from `pg_catalog` into typed objects
//! (`model::Def`, with their owner and canonical text), keyed by kind and name, with the
//! dependency graph between them. `diff`, `verify` and the rollback proof all
//! compare these models, so they agree on what "the same schema" means.
//!
//! Introspection runs one query per object kind (the files under `sql/`), whatever the size
//! of the database, inside one read-only repeatable-read transaction so the kinds are read
//! from one snapshot. The text is free of oids and of anything that differs between two
//! servers holding the same schema: the session's time zone, and the owner of objects the
//! role the catalog is read relative to owns (an object shows its owner only when someone
//! else owns it; for a set, that role is whoever applied it).
//!
//! A set may be installed into any schema, so introspection is relative to a *home* schema:
//! objects in it are named without their schema, and the session reads with `search_path`
//! set to it, so the server itself renders references to home objects without the qualifier
//! (and qualifies everything else). No definition text is edited: string literals, comments
//! and routine bodies are exactly as stored. The two headers the server always qualifies (a
//! routine's own name, an index's table) are built from the typed name in the catalog
//! queries. The same set therefore renders identically in `public` and in its own schema.
//!
//! Monthly partitions named `<parent>_YYYY_MM` come and go with the calendar; they render as
//! one object `<parent>_YYYY_MM` so a database migrated in another month has the same model.
//! Platform schemas of Supabase (`auth`, `storage`, ...) are left out, except for the
//! policies and triggers a migration puts on their tables.

mod fetch;
pub mod model;
pub mod text;
pub mod versions;

pub use fetch::helper_sessions;
pub use text::{parse, render};

use crate::run::Run;
use sqlx::{Connection, PgConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// The CTE `ns` (covered schemas) that most queries start from.
const NAMESPACES: &str = include_str!("sql/namespaces.sql");

/// Separates the fields of one object on the wire (see [`read`]).
const FIELD_SEPARATOR: char = '\u{1f}';
const FIELD_SEPARATOR_SQL: &str = "E'\\x1f'";

/// What depends on what, read after the objects.
const DEPENDENCIES: &str = include_str!("sql/dependencies.sql");

/// One query per object kind; each returns `(kind, schema, name, body)`. `true`: the query
/// starts from [`NAMESPACES`].
const QUERIES: &[(&str, bool, &str)] = &[
    ("schemas", true, include_str!("sql/schemas.sql")),
    ("tables", true, include_str!("sql/tables.sql")),
    ("columns", true, include_str!("sql/columns.sql")),
    ("constraints", true, include_str!("sql/constraints.sql")),
    ("indexes", true, include_str!("sql/indexes.sql")),
    ("policies", false, include_str!("sql/policies.sql")),
    ("triggers", false, include_str!("sql/triggers.sql")),
    ("functions", true, include_str!("sql/functions.sql")),
    ("views", true, include_str!("sql/views.sql")),
    ("sequences", true, include_str!("sql/sequences.sql")),
    ("types", true, include_str!("sql/types.sql")),
    ("collations", true, include_str!("sql/collations.sql")),
    (
        "default privileges",
        false,
        include_str!("sql/default_privileges.sql"),
    ),
    ("extensions", false, include_str!("sql/extensions.sql")),
    ("publications", false, include_str!("sql/publications.sql")),
    ("grants", true, include_str!("sql/grants.sql")),
    ("rules", true, include_str!("sql/rules.sql")),
    ("statistics", true, include_str!("sql/statistics.sql")),
];

/// Schemas Supabase manages. Their objects are the platform's, not a set's.
pub const PLATFORM_SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "extensions",
    "graphql",
    "graphql_public",
    "vault",
    "pgsodium",
    "pgsodium_masks",
    "net",
    "cron",
    "pgbouncer",
    "supabase_functions",
    "supabase_migrations",
    "_realtime",
    "_analytics",
    "pgtle",
];

/// Supabase's API roles, which the platform's default privileges grant everything a project
/// creates in `public`: default privileges for them are the environment's, not a set's.
pub const PLATFORM_API_ROLES: &[&str] = &["anon", "authenticated", "service_role"];

/// Kinds that belong to the user even inside a platform schema.
const USER_KINDS_IN_PLATFORM: &[&str] = &["policy", "trigger"];

/// Kinds of objects that live in no schema (read with an empty schema name).
const GLOBAL_KINDS: &[&str] = &["publication", "default privileges"];

pub fn is_platform_schema(schema: &str) -> bool {
    PLATFORM_SCHEMAS.contains(&schema) || schema.starts_with("supabase_")
}

#[derive(Debug, Error)]
#[error("reading the catalog ({query}): {reason}")]
pub struct CatalogError {
    pub query: &'static str,
    pub reason: String,
}

/// One object of the model: its typed definition and owner, read once when the object is
/// made (from the catalog query's fields, or from committed text), and the canonical text
/// they render to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogObject {
    /// Schema the object lives in (`None` when read back from canonical text).
    pub schema: Option<String>,
    pub kind: model::Kind,
    /// The typed definition (`Def::Text` for a body this version does not read).
    pub def: model::Def,
    /// The owner (quoted as an identifier) when it is not the role the catalog was read
    /// relative to.
    pub owner: Option<String>,
    /// Canonical text of the object's definition, its owner field last.
    pub body: String,
}

impl CatalogObject {
    /// An object of `kind` defined by `def`, owned by `owner`.
    pub fn new(
        kind: model::Kind,
        schema: Option<String>,
        def: model::Def,
        owner: Option<String>,
    ) -> CatalogObject {
        let body = match &def {
            model::Def::Text(text) => text.clone(),
            def => def.render(),
        };
        CatalogObject {
            schema,
            kind,
            body: model::with_owner(body, owner.as_deref()),
            def,
            owner,
        }
    }

    /// An object of `kind` from its fields (one per line of its canonical body).
    pub fn from_fields(
        kind: model::Kind,
        schema: Option<String>,
        fields: Vec<String>,
    ) -> CatalogObject {
        let (def, owner) = model::Def::from_fields(kind, fields);
        CatalogObject::new(kind, schema, def, owner)
    }

    /// An object of `kind` from its canonical body (committed text).
    pub fn from_body(kind: model::Kind, schema: Option<String>, body: &str) -> CatalogObject {
        CatalogObject::from_fields(kind, schema, model::fields_of(body))
    }
}

/// A database schema as canonical objects, keyed `"<kind> <name>"`.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub objects: BTreeMap<String, CatalogObject>,
    /// The role (quoted as an identifier) whose ownership the bodies leave unsaid: an
    /// object's `owner` field appears only when someone else owns it. `None` when read back
    /// from text (the committed catalogs leave out the role that applied the set).
    pub owner: Option<String>,
    /// For each object, the objects it needs (`pg_depend`): read from a database when asked
    /// for (what planning a repair needs), or from the `dependencies` of committed text.
    /// Derived from the objects, so not part of equality.
    pub dependencies: BTreeMap<String, BTreeSet<String>>,
}

impl PartialEq for Catalog {
    fn eq(&self, other: &Catalog) -> bool {
        self.objects == other.objects
    }
}

impl Eq for Catalog {}

/// The result of one introspection, with how many queries it sent and over how many
/// sessions (helpers join on large catalogs).
#[derive(Debug)]
pub struct Introspection {
    pub catalog: Catalog,
    pub queries: usize,
    pub sessions: usize,
}

impl Catalog {
    /// Only the objects in `schemas`, plus policies and triggers on platform tables, and the
    /// publications that have a member in `schemas`. Default privileges count in `schemas`
    /// and for every schema, less what the platform sets up before any migration (on
    /// Supabase: grants to its API roles, and those of its own `supabase_*` roles): no set
    /// sets any, so any other is drift.
    pub fn scoped(&self, schemas: &[String]) -> Catalog {
        let in_scope = |key: &str, o: &CatalogObject| match &o.schema {
            Some(s) if key.starts_with("default privileges ") => {
                (s.is_empty() || schemas.contains(s))
                    && !key.starts_with("default privileges for supabase_")
                    && !key.starts_with("default privileges for \"supabase_")
            }
            Some(s) if s.is_empty() => false,
            Some(s) => {
                schemas.contains(s)
                    || (is_platform_schema(s)
                        && USER_KINDS_IN_PLATFORM
                            .iter()
                            .any(|k| key.starts_with(&format!("{k} "))))
            }
            None => true,
        };
        let mut objects: BTreeMap<String, CatalogObject> = self
            .objects
            .iter()
            .filter(|(key, o)| in_scope(key, o))
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        let publications: Vec<String> = objects
            .keys()
            .filter_map(|k| k.strip_prefix("publication member "))
            .filter_map(|m| m.split_once(':').map(|(p, _)| format!("publication {p}")))
            .collect();
        for key in publications {
            if let Some(o) = self.objects.get(&key) {
                objects.insert(key, o.clone());
            }
        }
        objects.retain(|_, o| {
            if o.kind != model::Kind::DefaultPrivileges {
                return true;
            }
            if let model::Def::Grants(g) = &o.def {
                let mut g = g.clone();
                g.entries
                    .retain(|(who, _)| !PLATFORM_API_ROLES.contains(&who.as_str()));
                *o = CatalogObject::new(o.kind, o.schema.clone(), model::Def::Grants(g), None);
            }
            !o.body.is_empty()
        });
        Catalog {
            objects,
            dependencies: self.dependencies.clone(),
            owner: self.owner.clone(),
        }
    }

    /// The catalog as a set installed in `home` sees it (what `snapshot` commits, `verify`
    /// and `adopt` compare, and the rollback proof proves):
    /// - `home` is where the set is installed, not one of its objects: its owner, comment
    ///   and the USAGE roles get on it are the environment's (Postgres gives PUBLIC USAGE on
    ///   `public`, Supabase grants its API roles). Who may CREATE in it is not: no set grants
    ///   that, so a CREATE granted to anyone but its owner stays in.
    /// - a publication is shared by the platform and every set (Supabase creates
    ///   `supabase_realtime` empty; the sets add their tables and note in its comment what
    ///   they did, to undo only that), so its comment is no one set's and is left out.
    ///
    /// Comparisons of two databases keep all of it.
    pub fn as_sets_see_it(mut self, home: &str) -> Catalog {
        for o in self.objects.values_mut() {
            if let model::Def::Publication(p) = &o.def {
                let mut p = p.clone();
                p.comment = None;
                *o = CatalogObject::new(
                    o.kind,
                    o.schema.clone(),
                    model::Def::Publication(p),
                    o.owner.clone(),
                );
            }
        }
        let objects = &mut self.objects;
        objects.remove(&format!("schema {home}"));
        let grants_key = format!("{} {home}", model::Kind::GrantsOnSchema.as_str());
        if let Some(o) = objects.get_mut(&grants_key) {
            if let model::Def::Grants(g) = &o.def {
                let mut g = g.clone();
                for (_, privileges) in g.entries.iter_mut() {
                    privileges.retain(|(p, _)| p == "CREATE");
                }
                g.entries.retain(|(_, privileges)| !privileges.is_empty());
                *o = CatalogObject::new(o.kind, o.schema.clone(), model::Def::Grants(g), None);
            }
            if o.body.is_empty() {
                objects.remove(&grants_key);
            }
        }
        self
    }

    /// The objects of the schemas `schemas` (every schema the catalog holds when empty),
    /// with the objects of no schema: what `diff` compares between two databases.
    pub fn in_schemas(&self, schemas: &[String]) -> Catalog {
        let objects = self
            .objects
            .iter()
            .filter(|(_, o)| match &o.schema {
                Some(s) => s.is_empty() || schemas.is_empty() || schemas.contains(s),
                None => true,
            })
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        Catalog {
            objects,
            dependencies: self.dependencies.clone(),
            owner: self.owner.clone(),
        }
    }

    /// The schemas the objects of this catalog live in (named ones only).
    pub fn schemas_used(&self) -> std::collections::BTreeSet<String> {
        self.objects
            .values()
            .filter_map(|o| o.schema.clone())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// A catalog of `(key, body)` pairs, as read back from text (for tests).
    #[cfg(test)]
    pub fn from_bodies(items: &[(&str, &str)]) -> Catalog {
        let objects = items
            .iter()
            .map(|(k, b)| {
                let kind = model::Kind::of_key(k).map_or(model::Kind::Table, |(kind, _)| kind);
                (k.to_string(), CatalogObject::from_body(kind, None, b))
            })
            .collect();
        Catalog {
            objects,
            dependencies: BTreeMap::new(),
            owner: None,
        }
    }

    /// Schemas named by `schema X` objects.
    pub fn schema_names(&self) -> Vec<String> {
        self.objects
            .keys()
            .filter_map(|k| k.strip_prefix("schema "))
            .map(str::to_string)
            .collect()
    }
}

/// `name` if `schema` is the home schema, else `schema.name`.
fn qualify(schema: &str, name: &str, home: &str) -> String {
    if schema == home || schema.is_empty() {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

/// How the home schema is written inside `SET search_path` clauses of canonical text.
pub const HOME_IN_SEARCH_PATH: &str = "'@home'";

/// Writes the home schema as `@home` inside the `SET search_path` clauses of a routine's
/// configuration (a setting, not definition text), so that a routine pinned to its own schema
/// reads the same wherever the set lives. Nothing else of a definition is touched: the server
/// renders definitions relative to the introspecting session's `search_path`, which is the
/// home schema, and string literals, comments and bodies stay exactly as written.
pub fn normalize(body: &str, home: &str) -> String {
    if !body.contains("SET search_path") {
        return body.to_string();
    }
    body.split('\n')
        .map(|line| {
            if line.trim_start().starts_with("SET search_path") {
                line.replace(&format!("'{home}'"), HOME_IN_SEARCH_PATH)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A canonical definition made runnable in a database whose home schema is `home`: the
/// `'@home'` of its `SET search_path` clauses becomes the schema, as Postgres writes it there.
pub fn denormalize(body: &str, home: &str) -> String {
    let item = if home
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        home.to_string()
    } else {
        crate::engine::quote_ident(home)
    };
    let literal = format!("'{}'", item.replace('\'', "''"));
    body.split('\n')
        .map(|line| {
            if line.trim_start().starts_with("SET search_path") {
                line.replace(HOME_IN_SEARCH_PATH, &literal)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// For a monthly partition `<parent>_YYYY_MM` bound to exactly that UTC month, the name it
/// renders under; its `partition of` field then writes the bound generically.
fn monthly_partition(name: &str, fields: &mut [String]) -> Option<String> {
    let (prefix, month) = name.rsplit_once('_')?;
    let (parent, year) = prefix.rsplit_once('_')?;
    if year.len() != 4
        || month.len() != 2
        || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let from = format!("FOR VALUES FROM ('{year}-{month}-01 00:00:00+00') TO ('");
    let field = fields.iter_mut().find(|f| f.starts_with("partition of "))?;
    let (head, _) = field.split_once(&from)?;
    let parent_name = head.trim_start_matches("partition of ").trim();
    if parent_name.rsplit('.').next()? != parent {
        return None;
    }
    *field = format!("{head}FOR VALUES FROM (month start) TO (next month start)");
    Some(format!("{parent}_YYYY_MM"))
}

/// An object's kind and schema, and the `(real name, fields)` of every row that renders
/// under its key (several for monthly partitions).
type Gathered = (model::Kind, Option<String>, Vec<(String, Vec<String>)>);

/// Reads the schema of the database `conn` is connected to; objects the connected role owns
/// carry no owner field.
pub async fn introspect(
    run: &Run,
    conn: &mut PgConnection,
    home: &str,
) -> Result<Introspection, CatalogError> {
    read(run, conn, home, false, None, false).await
}

/// Reads the schema and what depends on what in it (one query more): what planning a
/// repair needs, and comparing does not.
pub async fn introspect_with_dependencies(
    run: &Run,
    conn: &mut PgConnection,
    home: &str,
) -> Result<Introspection, CatalogError> {
    read(run, conn, home, true, None, false).await
}

/// Reads the schema as [`introspect`] does, relative to the owner `owner` (a role name;
/// the connected role when `None`): objects it owns carry no owner field. `verify` reads a
/// set's objects relative to the role that applied the set, whoever runs it.
pub async fn introspect_owned_by(
    run: &Run,
    conn: &mut PgConnection,
    home: &str,
    with_dependencies: bool,
    owner: Option<&str>,
) -> Result<Introspection, CatalogError> {
    read(run, conn, home, with_dependencies, owner, false).await
}

/// Reads the schema as [`introspect`] does, on a session that reads it again and again
/// (the rollback proof reads it three times per migration): the queries are prepared and
/// kept on `conn`, so the server plans them once for the session instead of at every read.
/// A single read is better served by [`introspect`] (one round trip per query, not two).
pub async fn introspect_again(
    run: &Run,
    conn: &mut PgConnection,
    home: &str,
) -> Result<Introspection, CatalogError> {
    read(run, conn, home, false, None, true).await
}

/// Reads with helper sessions when the catalog is big and `conn` is a session of `run`
/// (the run knows how to open a second connection to its server), with the queries
/// prepared and kept on `conn` when `prepared`.
async fn read(
    run: &Run,
    conn: &mut PgConnection,
    home: &str,
    with_dependencies: bool,
    owner: Option<&str>,
    prepared: bool,
) -> Result<Introspection, CatalogError> {
    let fail = |query: &'static str| {
        move |e: sqlx::Error| CatalogError {
            query,
            reason: crate::engine::error::reason(&e),
        }
    };
    let helpers = fetch::helper_options(run, conn).await;
    let owner: String = sqlx::query_scalar("SELECT quote_ident(coalesce($1, current_user::text))")
        .bind(owner)
        .fetch_one(&mut *conn)
        .await
        .map_err(fail("owner"))?;
    let owned = format!("owner {owner}");
    let setup = format!(
        "SET LOCAL TIME ZONE 'UTC'; SET LOCAL jit = off; SET LOCAL search_path = {}",
        crate::engine::quote_ident(home)
    );
    let mut tx = conn.begin().await.map_err(fail("begin"))?;
    sqlx::raw_sql(&format!(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; {setup}"
    ))
    .execute(&mut *tx)
    .await
    .map_err(fail("begin"))?;
    // The snapshot the helpers share; a server that cannot export one is read alone (the
    // transaction is begun again, since the failure aborted it).
    let snapshot = match helpers {
        Some(_) => match sqlx::query_scalar::<_, String>("SELECT pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await
        {
            Ok(snapshot) => Some(snapshot),
            Err(_) => {
                tx.rollback().await.map_err(fail("begin"))?;
                tx = conn.begin().await.map_err(fail("begin"))?;
                sqlx::raw_sql(&format!(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; {setup}"
                ))
                .execute(&mut *tx)
                .await
                .map_err(fail("begin"))?;
                None
            }
        },
        None => None,
    };
    // The fields travel as one text, separated by the ASCII unit separator: decoding a text
    // is cheaper than decoding an array, at a hundred thousand rows.
    let sqls: Vec<String> = QUERIES
        .iter()
        .map(|(_, uses_namespaces, sql)| {
            let sql = if *uses_namespaces {
                format!("{NAMESPACES}{sql}")
            } else {
                sql.to_string()
            };
            format!(
                "SELECT kind, schema, name, array_to_string(fields, {FIELD_SEPARATOR_SQL}) AS fields FROM ({sql}) q"
            )
        })
        .collect();
    let mut names: Vec<&'static str> = QUERIES.iter().map(|(name, _, _)| *name).collect();
    let mut sqls = sqls;
    if with_dependencies {
        names.push("dependencies");
        sqls.push(format!("{NAMESPACES}{DEPENDENCIES}"));
    }
    let shared = match (&helpers, &snapshot) {
        (Some(opts), Some(snapshot)) => Some((opts, snapshot.as_str())),
        _ => None,
    };
    let (mut fetched, sessions) =
        fetch::fetch(run, &mut tx, &names, &sqls, shared, &setup, prepared).await?;
    tx.commit().await.map_err(fail("commit"))?;
    let queries = fetched.len();
    let edges = if with_dependencies {
        fetched.pop().unwrap_or_default()
    } else {
        Vec::new()
    };
    // Monthly partitions collapse into one object; their bodies are gathered first.
    let mut gathered: BTreeMap<String, Gathered> = BTreeMap::new();
    let mut monthly_tables: Vec<(String, String)> = Vec::new();
    for rows in fetched {
        for row in rows {
            let kind: String = row.get("kind");
            let schema: String = row.get("schema");
            let name: String = row.get("name");
            let fields: Option<String> = row.get("fields");
            let fields: Option<Vec<String>> = fields.map(|f| {
                f.split(FIELD_SEPARATOR)
                    .filter(|f| !f.is_empty())
                    .map(str::to_string)
                    .collect()
            });
            if is_platform_schema(&schema)
                && !USER_KINDS_IN_PLATFORM.contains(&kind.as_str())
                && !GLOBAL_KINDS.contains(&kind.as_str())
            {
                continue;
            }
            let mut fields: Vec<String> = fields
                .unwrap_or_default()
                .iter()
                .map(|f| normalize(f, home))
                .collect();
            let Some(typed) = model::Kind::ALL
                .iter()
                .copied()
                .find(|k| k.as_str() == kind)
            else {
                continue;
            };
            if typed.is_owned() && fields.last() == Some(&owned) {
                fields.pop();
            }
            if kind == "view" || kind == "materialized view" {
                if let Some(definition) = fields.first_mut() {
                    *definition = versions::view_definition(definition);
                }
            }
            let mut shown = name.clone();
            if kind == "table" {
                if let Some(generic) = monthly_partition(&name, &mut fields) {
                    monthly_tables.push((schema.clone(), name.clone()));
                    shown = generic;
                }
            } else if kind == "grants on table"
                && monthly_tables
                    .iter()
                    .any(|(s, n)| s == &schema && n == &name)
            {
                let (prefix, _) = name
                    .rsplit_once('_')
                    .and_then(|(p, _)| p.rsplit_once('_'))
                    .unwrap_or((&name, ""));
                shown = format!("{prefix}_YYYY_MM");
            }
            let key = if kind == "schema" || kind == "grants on schema" {
                format!("{kind} {name}")
            } else {
                format!("{kind} {}", qualify(&schema, &shown, home))
            };
            gathered
                .entry(key)
                .or_insert_with(|| (typed, Some(schema.clone()), Vec::new()))
                .2
                .push((name, fields));
        }
    }
    let key_of = |kind: &str, schema: &str, name: &str| {
        if kind == "schema" {
            format!("schema {name}")
        } else {
            format!("{kind} {}", qualify(schema, name, home))
        }
    };
    let mut dependencies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in edges {
        let get = |c: &str| -> String { row.get(c) };
        let from = key_of(&get("kind"), &get("schema"), &get("name"));
        let to = key_of(&get("ref_kind"), &get("ref_schema"), &get("ref_name"));
        if gathered.contains_key(&from) && gathered.contains_key(&to) {
            dependencies.entry(from).or_default().insert(to);
        }
    }
    let objects = gathered
        .into_iter()
        .map(|(key, (kind, schema, mut rows))| {
            rows.sort();
            let object = if rows.iter().all(|(_, f)| *f == rows[0].1) {
                let (_, fields) = rows.swap_remove(0);
                CatalogObject::from_fields(kind, schema, fields)
            } else {
                // Monthly partitions that differ from each other: show each, by its real name.
                let text = rows
                    .iter()
                    .map(|(n, f)| format!("[{n}]\n{}", model::body_of(f)))
                    .collect::<Vec<_>>()
                    .join("\n");
                CatalogObject::new(kind, schema, model::Def::Text(text), None)
            };
            (key, object)
        })
        .collect();
    Ok(Introspection {
        catalog: Catalog {
            objects,
            dependencies,
            owner: Some(owner),
        },
        queries,
        sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Definitions were edited by deleting `<home>.` wherever it appeared, string literals
    /// and comments included, on both sides of every comparison.
    #[test]
    fn only_the_search_path_setting_names_the_home_schema() {
        assert_eq!(
            normalize(
                "SELECT 'https://public.example.com/public.t' -- public.t\n SET search_path TO 'public', 'pg_temp'",
                "public"
            ),
            "SELECT 'https://public.example.com/public.t' -- public.t\n SET search_path TO '@home', 'pg_temp'"
        );
        assert_eq!(normalize("auth.uid()", "public"), "auth.uid()");
    }

    /// `diff --sql` printed `'@home'` back, pinning repaired functions to a schema named
    /// `@home`.
    #[test]
    fn the_home_schema_is_restored_in_search_path() {
        let canonical = normalize(
            " SET search_path TO 'witchcraft', 'pg_temp'\nSELECT '@home'",
            "witchcraft",
        );
        assert_eq!(
            denormalize(&canonical, "witchcraft"),
            " SET search_path TO 'witchcraft', 'pg_temp'\nSELECT '@home'"
        );
        assert_eq!(
            denormalize(" SET search_path TO '@home', 'pg_temp'", "Odd Name"),
            " SET search_path TO '\"Odd Name\"', 'pg_temp'"
        );
    }

    #[test]
    fn monthly_partitions_render_generically() {
        let mut fields = vec![
            "table".to_string(),
            "partition of activity_logs FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')".to_string(),
            "row level security enabled".to_string(),
        ];
        let before = fields.clone();
        // a bound that is not the month the name says is not a monthly partition
        assert!(monthly_partition("activity_logs_2026_12", &mut fields).is_none());
        assert_eq!(fields, before);
        let name = monthly_partition("activity_logs_2026_11", &mut fields).unwrap();
        assert_eq!(name, "activity_logs_YYYY_MM");
        assert_eq!(
            fields[1],
            "partition of activity_logs FOR VALUES FROM (month start) TO (next month start)"
        );
        let mut default = vec!["partition of activity_logs DEFAULT".to_string()];
        assert!(monthly_partition("activity_logs_default", &mut default).is_none());
    }

    #[test]
    fn platform_schemas() {
        assert!(is_platform_schema("auth") && is_platform_schema("supabase_functions"));
        assert!(!is_platform_schema("public") && !is_platform_schema("witchcraft_auth"));
    }
}
