//! The typed catalog model: one definition type per object kind, read once from the fields
//! a catalog query returns (or a committed body splits into) and rendered to canonical text
//! (`render(read(fields)) == fields`, checked on every read: a body that does not read back
//! exactly is kept as text, reported and never repaired). Each object of a catalog carries
//! its typed definition and owner (`CatalogObject`); comparisons and repairs work on those,
//! and the text is what `snapshot` commits and `diff` shows.
//!
//! A body is a list of fields, one per line; a field whose value spans lines (a function's
//! definition, a policy's expression, a comment) continues on lines indented two spaces, so
//! no line of a value can be taken for a field. Each kind reads its fields by their prefix,
//! in the order the catalog queries (`sql/`) write them.

use std::collections::BTreeMap;

/// The kinds of object the model holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Schema,
    Extension,
    Collation,
    Enum,
    Domain,
    CompositeType,
    RangeType,
    Sequence,
    Table,
    Column,
    Constraint,
    Index,
    Function,
    Procedure,
    View,
    MaterializedView,
    Trigger,
    Rule,
    Statistics,
    Policy,
    Publication,
    PublicationMember,
    DefaultPrivileges,
    GrantsOnSchema,
    GrantsOnTable,
    GrantsOnColumn,
    GrantsOnFunction,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 27] = [
        Kind::Schema,
        Kind::Extension,
        Kind::Collation,
        Kind::Enum,
        Kind::Domain,
        Kind::CompositeType,
        Kind::RangeType,
        Kind::Sequence,
        Kind::Table,
        Kind::Column,
        Kind::Constraint,
        Kind::Index,
        Kind::Function,
        Kind::Procedure,
        Kind::View,
        Kind::MaterializedView,
        Kind::Trigger,
        Kind::Rule,
        Kind::Statistics,
        Kind::Policy,
        Kind::Publication,
        Kind::PublicationMember,
        Kind::DefaultPrivileges,
        Kind::GrantsOnSchema,
        Kind::GrantsOnTable,
        Kind::GrantsOnColumn,
        Kind::GrantsOnFunction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Schema => "schema",
            Kind::Extension => "extension",
            Kind::Collation => "collation",
            Kind::Enum => "enum",
            Kind::Domain => "domain",
            Kind::CompositeType => "composite type",
            Kind::RangeType => "range type",
            Kind::Sequence => "sequence",
            Kind::Table => "table",
            Kind::Column => "column",
            Kind::Constraint => "constraint",
            Kind::Index => "index",
            Kind::Function => "function",
            Kind::Procedure => "procedure",
            Kind::View => "view",
            Kind::MaterializedView => "materialized view",
            Kind::Trigger => "trigger",
            Kind::Rule => "rule",
            Kind::Statistics => "statistics",
            Kind::Policy => "policy",
            Kind::Publication => "publication",
            Kind::PublicationMember => "publication member",
            Kind::DefaultPrivileges => "default privileges",
            Kind::GrantsOnSchema => "grants on schema",
            Kind::GrantsOnTable => "grants on table",
            Kind::GrantsOnColumn => "grants on column",
            Kind::GrantsOnFunction => "grants on function",
        }
    }

    /// The kind and name of an object key (`"<kind> <name>"`).
    /// The longest kind name that starts the key wins (`publication member p:t` is a
    /// member, not a publication), whatever the order of [`Kind::ALL`].
    pub fn of_key(key: &str) -> Option<(Kind, &str)> {
        Kind::ALL
            .iter()
            .filter_map(|k| {
                key.strip_prefix(k.as_str())
                    .and_then(|rest| rest.strip_prefix(' '))
                    .map(|name| (*k, name))
            })
            .max_by_key(|(k, _)| k.as_str().len())
    }

    /// Whether objects of this kind have an owner (`ALTER ... OWNER TO`); their body's last
    /// field names it when it is not the role the catalog was read relative to.
    pub fn is_owned(self) -> bool {
        matches!(
            self,
            Kind::Schema
                | Kind::Collation
                | Kind::Enum
                | Kind::Domain
                | Kind::CompositeType
                | Kind::RangeType
                | Kind::Sequence
                | Kind::Table
                | Kind::Function
                | Kind::Procedure
                | Kind::View
                | Kind::MaterializedView
                | Kind::Publication
                | Kind::Statistics
        )
    }

    pub fn is_grants(self) -> bool {
        matches!(
            self,
            Kind::GrantsOnSchema
                | Kind::GrantsOnTable
                | Kind::GrantsOnColumn
                | Kind::GrantsOnFunction
        )
    }
}

/// The fields of a body: each line, with the lines indented two spaces below it.
pub fn fields_of(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if body.is_empty() {
        return out;
    }
    for line in body.split('\n') {
        match (line.strip_prefix("  "), out.last_mut()) {
            (Some(more), Some(last)) => {
                last.push('\n');
                last.push_str(more);
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

/// The body of `fields`: one per line, a value's further lines indented two spaces.
pub fn body_of(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| f.replace('\n', "\n  "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The body of an object of `kind` without its owner field, and the owner it names (quoted
/// as an identifier). No owner: the role the catalog was read relative to owns it.
pub fn split_owner(kind: Kind, body: &str) -> (String, Option<String>) {
    if kind.is_owned() {
        let mut fields = fields_of(body);
        if let Some(owner) = fields.last().and_then(|f| f.strip_prefix("owner ")) {
            let owner = owner.to_string();
            fields.pop();
            return (body_of(&fields), Some(owner));
        }
    }
    (body.to_string(), None)
}

/// `body` with the owner field `owner` after its other fields.
pub fn with_owner(body: String, owner: Option<&str>) -> String {
    match owner {
        Some(o) if body.is_empty() => format!("owner {o}"),
        Some(o) => format!("{body}\nowner {o}"),
        None => body,
    }
}

/// Reads the fields of one body by prefix; every field must be read.
struct Reader {
    fields: Vec<Option<String>>,
}

impl Reader {
    fn new(fields: Vec<String>) -> Reader {
        Reader {
            fields: fields.into_iter().map(Some).collect(),
        }
    }
    /// The first field, whatever it says (the definition of index, view, ...).
    fn first(&mut self) -> Result<String, String> {
        self.fields
            .first_mut()
            .and_then(Option::take)
            .ok_or_else(|| "no definition".to_string())
    }
    /// The rest of the first unread field that starts with `prefix`.
    fn take(&mut self, prefix: &str) -> Option<String> {
        self.fields.iter_mut().find_map(|f| {
            let rest = f.as_deref()?.strip_prefix(prefix)?.to_string();
            *f = None;
            Some(rest)
        })
    }
    fn flag(&mut self, field: &str) -> bool {
        match self.fields.iter_mut().find(|f| f.as_deref() == Some(field)) {
            Some(f) => {
                *f = None;
                true
            }
            None => false,
        }
    }
    fn take_all(&mut self, prefix: &str) -> Vec<String> {
        std::iter::from_fn(|| self.take(prefix)).collect()
    }
    fn comment(&mut self) -> Option<String> {
        self.take("comment ")
    }
    fn done<T>(self, value: T) -> Result<T, String> {
        match self.fields.into_iter().flatten().next() {
            Some(f) => Err(format!("unknown field {f:?}")),
            None => Ok(value),
        }
    }
}

/// Pushes `prefix value` when there is a value.
fn push(out: &mut Vec<String>, prefix: &str, value: &Option<String>) {
    if let Some(v) = value {
        out.push(format!("{prefix}{v}"));
    }
}

fn push_flag(out: &mut Vec<String>, field: &str, on: bool) {
    if on {
        out.push(field.to_string());
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub partitioned: bool,
    pub unlogged: bool,
    /// `RANGE (created_at)`
    pub partition_by: Option<String>,
    /// `parent FOR VALUES ...` or `parent DEFAULT`
    pub partition_of: Option<String>,
    /// `a, b`
    pub inherits: Option<String>,
    /// `fillfactor=70, ...`
    pub options: Option<String>,
    /// `nothing`, `full` or `using index i`
    pub replica_identity: Option<String>,
    /// the index `CLUSTER` uses
    pub cluster_on: Option<String>,
    pub rls: bool,
    pub force_rls: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub data_type: String,
    pub not_null: bool,
    /// the expression of `GENERATED ALWAYS AS (...) STORED`, with its parentheses
    pub generated: Option<String>,
    pub default: Option<String>,
    /// `always` or `by default`
    pub identity: Option<String>,
    /// an identity column's sequence: `name start 1 increment 1 min 1 max 2147483647 cache 1`
    /// (and `cycle`)
    pub identity_sequence: Option<String>,
    pub inherited: bool,
    /// `external (type extended)`: the column's storage, and its type's
    pub storage: Option<String>,
    /// `pglz` or `lz4`
    pub compression: Option<String>,
    /// the statistics target, when not the default
    pub statistics: Option<String>,
    /// `n_distinct=100, ...`, sorted
    pub options: Option<String>,
    pub collation: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub command: String,
    pub permissive: bool,
    pub roles: String,
    pub using: Option<String>,
    pub check: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub data_type: String,
    pub start: String,
    pub increment: String,
    pub min: String,
    pub max: String,
    pub cache: String,
    pub cycle: bool,
    pub owned_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub base: String,
    pub collation: Option<String>,
    pub default: Option<String>,
    pub not_null: bool,
    /// `(quoted name, definition)`
    pub constraints: Vec<(String, String)>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeType {
    pub subtype: String,
    pub collation: Option<String>,
    pub opclass: Option<String>,
    pub canonical: Option<String>,
    pub subdiff: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collation {
    pub provider: String,
    /// SQL literals
    pub locale: String,
    pub ctype: Option<String>,
    pub deterministic: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub all_tables: bool,
    /// `insert, update, delete, truncate`
    pub publish: String,
    pub via_root: bool,
    pub comment: Option<String>,
}

/// Privileges by grantee, each with whether it may be granted on.
pub type Acl = BTreeMap<String, BTreeMap<String, bool>>;

/// Grants, or default privileges: per grantee, its privileges. Kept in the order read, and
/// compared as sets.
#[derive(Debug, Clone, Eq)]
pub struct Grants {
    pub entries: Vec<(String, Vec<(String, bool)>)>,
}

impl PartialEq for Grants {
    fn eq(&self, other: &Grants) -> bool {
        self.acl() == other.acl()
    }
}

impl Grants {
    pub fn acl(&self) -> Acl {
        self.entries
            .iter()
            .map(|(who, privileges)| (who.clone(), privileges.iter().cloned().collect()))
            .collect()
    }
}

/// The definition of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Def {
    Schema(Schema),
    Extension {
        schema: String,
        version: String,
    },
    Collation(Collation),
    /// labels as SQL literals, in order
    Enum {
        labels: Vec<String>,
        comment: Option<String>,
    },
    Domain(Domain),
    /// `name type[ collate c]` per attribute, in order
    CompositeType {
        attributes: Vec<String>,
        comment: Option<String>,
    },
    RangeType(RangeType),
    Sequence(Sequence),
    Table(Table),
    Column(Column),
    /// as `pg_get_constraintdef` writes it
    Constraint {
        definition: String,
        comment: Option<String>,
    },
    Index {
        definition: String,
        invalid: bool,
        comment: Option<String>,
    },
    /// functions and procedures: `pg_get_functiondef`
    Routine {
        definition: String,
        comment: Option<String>,
    },
    /// views and materialized views: the query, and the options of `WITH (...)`
    /// (`security_invoker=true`, `check_option=local`, a materialized view's storage
    /// parameters), sorted
    View {
        definition: String,
        options: Option<String>,
        comment: Option<String>,
    },
    /// `None` when enabled for origin sessions (the default)
    Trigger {
        definition: String,
        enabled: Option<String>,
        comment: Option<String>,
    },
    Policy(Policy),
    /// a rule on a table: `pg_get_ruledef`, and its enabled state (`None`: for origin
    /// sessions, the default)
    Rule {
        definition: String,
        enabled: Option<String>,
        comment: Option<String>,
    },
    /// an extended statistics object: `pg_get_statisticsobjdef`, and its statistics target
    /// when not the default
    Statistics {
        definition: String,
        target: Option<String>,
        comment: Option<String>,
    },
    Publication(Publication),
    /// a table in a publication: which, and the column list and row filter it is published
    /// with
    Member {
        publication: String,
        columns: Option<String>,
        filter: Option<String>,
    },
    Grants(Grants),
    /// a body this model does not read (reported, never repaired)
    Text(String),
}

impl Def {
    /// Reads the body of an object of `kind`; a body it cannot read is kept as text.
    /// The owner field is not part of the definition (see [`split_owner`]).
    pub fn parse(kind: Kind, body: &str) -> Def {
        Def::from_fields(kind, fields_of(body)).0
    }

    /// Reads the fields of an object of `kind`, as its catalog query returns them (or as a
    /// committed body splits into them): the definition, and the role its owner field names
    /// (see [`split_owner`]). Fields it cannot read are kept as text.
    pub fn from_fields(kind: Kind, mut fields: Vec<String>) -> (Def, Option<String>) {
        let owner = match fields.last().and_then(|f| f.strip_prefix("owner ")) {
            Some(owner) if kind.is_owned() => Some(owner.to_string()),
            _ => None,
        };
        if owner.is_some() {
            fields.pop();
        }
        let def = Def::read(kind, fields.clone()).unwrap_or_else(|_| Def::Text(body_of(&fields)));
        (def, owner)
    }

    fn read(kind: Kind, fields: Vec<String>) -> Result<Def, String> {
        let body = body_of(&fields);
        let mut r = Reader::new(fields);
        let def = match kind {
            Kind::Schema => Def::Schema(Schema {
                comment: r.comment(),
            }),
            Kind::Extension => Def::Extension {
                schema: r.take("in schema ").ok_or("no schema")?,
                version: r.take("version ").ok_or("no version")?,
            },
            Kind::Collation => Def::Collation(Collation {
                provider: r.take("provider ").ok_or("no provider")?,
                locale: r.take("locale ").ok_or("no locale")?,
                ctype: r.take("ctype "),
                deterministic: !r.flag("nondeterministic"),
                comment: r.comment(),
            }),
            Kind::Enum => Def::Enum {
                labels: literals(&r.take("labels ").ok_or("no labels")?)?,
                comment: r.comment(),
            },
            Kind::Domain => Def::Domain(Domain {
                base: r.take("as ").ok_or("no base type")?,
                collation: r.take("collate "),
                default: r.take("default "),
                not_null: r.flag("not null"),
                constraints: r
                    .take_all("constraint ")
                    .into_iter()
                    .map(|c| split_name(&c))
                    .collect::<Result<_, _>>()?,
                comment: r.comment(),
            }),
            Kind::CompositeType => Def::CompositeType {
                attributes: r.take_all("attribute "),
                comment: r.comment(),
            },
            Kind::RangeType => {
                let opclass = r.take("subtype operator class ");
                let subdiff = r.take("subtype diff ");
                Def::RangeType(RangeType {
                    subtype: r.take("subtype ").ok_or("no subtype")?,
                    collation: r.take("collate "),
                    opclass,
                    canonical: r.take("canonical "),
                    subdiff,
                    comment: r.comment(),
                })
            }
            Kind::Sequence => {
                let data_type = r.take("as ").ok_or("no type")?;
                let numbers = r.take("start ").ok_or("no parameters")?;
                let words: Vec<&str> = numbers.split(' ').collect();
                let at = |name: &str| -> Result<String, String> {
                    words
                        .iter()
                        .position(|w| *w == name)
                        .and_then(|i| words.get(i + 1))
                        .map(|v| v.to_string())
                        .ok_or(format!("no {name}"))
                };
                Def::Sequence(Sequence {
                    data_type,
                    start: words.first().ok_or("no start")?.to_string(),
                    increment: at("increment")?,
                    min: at("min")?,
                    max: at("max")?,
                    cache: at("cache")?,
                    cycle: words.last() == Some(&"cycle"),
                    owned_by: r.take("owned by "),
                })
            }
            Kind::Table => {
                let partitioned = match r.first()?.as_str() {
                    "partitioned table" => true,
                    "table" => false,
                    other => return Err(format!("not a table: {other}")),
                };
                let unlogged = r.flag("unlogged");
                let partition_by = r.take("partition by ");
                let partition_of = r.take("partition of ");
                let inherits = r.take("inherits ");
                let options = r
                    .take("with (")
                    .map(|o| o.trim_end_matches(')').to_string());
                let replica_identity = r.take("replica identity ");
                let cluster_on = r.take("cluster on ");
                let rls = match r.take("row level security ").as_deref() {
                    Some("enabled") => true,
                    Some("disabled") => false,
                    _ => return Err("no row level security".into()),
                };
                Def::Table(Table {
                    partitioned,
                    unlogged,
                    partition_by,
                    partition_of,
                    inherits,
                    options,
                    replica_identity,
                    cluster_on,
                    rls,
                    force_rls: r.flag("force row level security"),
                    comment: r.comment(),
                })
            }
            Kind::Column => Def::Column(Column {
                data_type: r.first()?,
                not_null: r.flag("not null"),
                generated: r
                    .take("generated always as ")
                    .map(|g| g.trim_end_matches(" stored").to_string()),
                default: r.take("default "),
                identity_sequence: r.take("identity sequence "),
                identity: r.take("identity "),
                inherited: r.flag("inherited"),
                storage: r.take("storage "),
                compression: r.take("compression "),
                statistics: r.take("statistics "),
                options: r
                    .take("options (")
                    .map(|o| o.trim_end_matches(')').to_string()),
                collation: r.take("collate "),
                comment: r.comment(),
            }),
            Kind::Constraint => Def::Constraint {
                definition: r.first()?,
                comment: r.comment(),
            },
            Kind::Index => Def::Index {
                definition: r.first()?,
                invalid: r.flag("invalid"),
                comment: r.comment(),
            },
            Kind::Function | Kind::Procedure => Def::Routine {
                definition: r.first()?,
                comment: r.comment(),
            },
            Kind::View | Kind::MaterializedView => Def::View {
                definition: r.first()?,
                options: r
                    .take("with (")
                    .map(|o| o.trim_end_matches(')').to_string()),
                comment: r.comment(),
            },
            Kind::Trigger | Kind::Rule => {
                let definition = r.first()?;
                let enabled = ["disabled", "enabled replica", "enabled always"]
                    .into_iter()
                    .find(|f| r.flag(f))
                    .map(str::to_string);
                let comment = r.comment();
                if kind == Kind::Trigger {
                    Def::Trigger {
                        definition,
                        enabled,
                        comment,
                    }
                } else {
                    Def::Rule {
                        definition,
                        enabled,
                        comment,
                    }
                }
            }
            Kind::Statistics => Def::Statistics {
                definition: r.first()?,
                target: r.take("statistics "),
                comment: r.comment(),
            },
            Kind::Policy => Def::Policy(Policy {
                command: r.take("for ").ok_or("no command")?,
                permissive: if r.flag("permissive") {
                    true
                } else if r.flag("restrictive") {
                    false
                } else {
                    return Err("neither permissive nor restrictive".into());
                },
                roles: r.take("to ").ok_or("no roles")?,
                using: r.take("using (").map(unwrap_parens),
                check: r.take("with check (").map(unwrap_parens),
                comment: r.comment(),
            }),
            Kind::Publication => Def::Publication(Publication {
                all_tables: r.flag("for all tables"),
                publish: r.take("publish ").ok_or("no operations")?,
                via_root: r.flag("publish via partition root"),
                comment: r.comment(),
            }),
            Kind::PublicationMember => Def::Member {
                publication: r.take("publication ").ok_or("no publication")?,
                columns: r.take("columns (").map(unwrap_parens),
                filter: r.take("where (").map(unwrap_parens),
            },
            Kind::DefaultPrivileges
            | Kind::GrantsOnSchema
            | Kind::GrantsOnTable
            | Kind::GrantsOnColumn
            | Kind::GrantsOnFunction => {
                let mut entries = Vec::new();
                while let Some(line) = r.fields.iter_mut().find_map(Option::take) {
                    entries.push(grant_line(&line));
                }
                Def::Grants(Grants { entries })
            }
        };
        let rendered = def.render();
        if rendered != body {
            return Err(format!("reads back as {rendered:?}"));
        }
        r.done(def)
    }

    /// The canonical body.
    pub fn render(&self) -> String {
        let mut f: Vec<String> = Vec::new();
        match self {
            Def::Schema(s) => {
                push(&mut f, "comment ", &s.comment);
            }
            Def::Extension { schema, version } => {
                f.push(format!("in schema {schema}"));
                f.push(format!("version {version}"));
            }
            Def::Collation(c) => {
                f.push(format!("provider {}", c.provider));
                f.push(format!("locale {}", c.locale));
                push(&mut f, "ctype ", &c.ctype);
                push_flag(&mut f, "nondeterministic", !c.deterministic);
                push(&mut f, "comment ", &c.comment);
            }
            Def::Enum { labels, comment } => {
                f.push(format!("labels {}", labels.join(", ")));
                push(&mut f, "comment ", comment);
            }
            Def::Domain(d) => {
                f.push(format!("as {}", d.base));
                push(&mut f, "collate ", &d.collation);
                push(&mut f, "default ", &d.default);
                push_flag(&mut f, "not null", d.not_null);
                for (name, def) in &d.constraints {
                    f.push(format!("constraint {name} {def}"));
                }
                push(&mut f, "comment ", &d.comment);
            }
            Def::CompositeType {
                attributes,
                comment,
            } => {
                f.extend(attributes.iter().map(|a| format!("attribute {a}")));
                push(&mut f, "comment ", comment);
            }
            Def::RangeType(r) => {
                f.push(format!("subtype {}", r.subtype));
                push(&mut f, "collate ", &r.collation);
                push(&mut f, "subtype operator class ", &r.opclass);
                push(&mut f, "canonical ", &r.canonical);
                push(&mut f, "subtype diff ", &r.subdiff);
                push(&mut f, "comment ", &r.comment);
            }
            Def::Sequence(s) => {
                f.push(format!("as {}", s.data_type));
                f.push(format!(
                    "start {} increment {} min {} max {} cache {}{}",
                    s.start,
                    s.increment,
                    s.min,
                    s.max,
                    s.cache,
                    if s.cycle { " cycle" } else { "" }
                ));
                push(&mut f, "owned by ", &s.owned_by);
            }
            Def::Table(t) => {
                f.push(
                    if t.partitioned {
                        "partitioned table"
                    } else {
                        "table"
                    }
                    .into(),
                );
                push_flag(&mut f, "unlogged", t.unlogged);
                push(&mut f, "partition by ", &t.partition_by);
                push(&mut f, "partition of ", &t.partition_of);
                push(&mut f, "inherits ", &t.inherits);
                if let Some(o) = &t.options {
                    f.push(format!("with ({o})"));
                }
                push(&mut f, "replica identity ", &t.replica_identity);
                push(&mut f, "cluster on ", &t.cluster_on);
                f.push(format!(
                    "row level security {}",
                    if t.rls { "enabled" } else { "disabled" }
                ));
                push_flag(&mut f, "force row level security", t.force_rls);
                push(&mut f, "comment ", &t.comment);
            }
            Def::Column(c) => {
                f.push(c.data_type.clone());
                push_flag(&mut f, "not null", c.not_null);
                if let Some(g) = &c.generated {
                    f.push(format!("generated always as {g} stored"));
                }
                push(&mut f, "default ", &c.default);
                push(&mut f, "identity ", &c.identity);
                push(&mut f, "identity sequence ", &c.identity_sequence);
                push_flag(&mut f, "inherited", c.inherited);
                push(&mut f, "storage ", &c.storage);
                push(&mut f, "compression ", &c.compression);
                push(&mut f, "statistics ", &c.statistics);
                if let Some(o) = &c.options {
                    f.push(format!("options ({o})"));
                }
                push(&mut f, "collate ", &c.collation);
                push(&mut f, "comment ", &c.comment);
            }
            Def::Constraint {
                definition,
                comment,
            } => {
                f.push(definition.clone());
                push(&mut f, "comment ", comment);
            }
            Def::Index {
                definition,
                invalid,
                comment,
            } => {
                f.push(definition.clone());
                push_flag(&mut f, "invalid", *invalid);
                push(&mut f, "comment ", comment);
            }
            Def::Routine {
                definition,
                comment,
            } => {
                f.push(definition.clone());
                push(&mut f, "comment ", comment);
            }
            Def::View {
                definition,
                options,
                comment,
            } => {
                f.push(definition.clone());
                if let Some(o) = options {
                    f.push(format!("with ({o})"));
                }
                push(&mut f, "comment ", comment);
            }
            Def::Trigger {
                definition,
                enabled,
                comment,
            }
            | Def::Rule {
                definition,
                enabled,
                comment,
            } => {
                f.push(definition.clone());
                if let Some(e) = enabled {
                    f.push(e.clone());
                }
                push(&mut f, "comment ", comment);
            }
            Def::Statistics {
                definition,
                target,
                comment,
            } => {
                f.push(definition.clone());
                push(&mut f, "statistics ", target);
                push(&mut f, "comment ", comment);
            }
            Def::Policy(p) => {
                f.push(format!("for {}", p.command));
                f.push(
                    if p.permissive {
                        "permissive"
                    } else {
                        "restrictive"
                    }
                    .into(),
                );
                f.push(format!("to {}", p.roles));
                if let Some(u) = &p.using {
                    f.push(format!("using ({u})"));
                }
                if let Some(c) = &p.check {
                    f.push(format!("with check ({c})"));
                }
                push(&mut f, "comment ", &p.comment);
            }
            Def::Publication(p) => {
                push_flag(&mut f, "for all tables", p.all_tables);
                f.push(format!("publish {}", p.publish));
                push_flag(&mut f, "publish via partition root", p.via_root);
                push(&mut f, "comment ", &p.comment);
            }
            Def::Member {
                publication,
                columns,
                filter,
            } => {
                f.push(format!("publication {publication}"));
                if let Some(c) = columns {
                    f.push(format!("columns ({c})"));
                }
                if let Some(w) = filter {
                    f.push(format!("where ({w})"));
                }
            }
            Def::Grants(g) => {
                for (who, privileges) in &g.entries {
                    let list: Vec<String> = privileges
                        .iter()
                        .map(|(p, grantable)| {
                            if *grantable {
                                format!("{p} (grantable)")
                            } else {
                                p.clone()
                            }
                        })
                        .collect();
                    f.push(format!("{who} {}", list.join(", ")));
                }
            }
            Def::Text(body) => return body.clone(),
        }
        body_of(&f)
    }
}

/// `grantee PRIV[ (grantable)], ...`
fn grant_line(line: &str) -> (String, Vec<(String, bool)>) {
    let (who, privileges) = line.split_once(' ').unwrap_or((line, ""));
    let privileges = privileges
        .split(", ")
        .filter(|p| !p.is_empty())
        .map(|p| match p.strip_suffix(" (grantable)") {
            Some(p) => (p.to_string(), true),
            None => (p.to_string(), false),
        })
        .collect();
    (who.to_string(), privileges)
}

/// The name and the rest of a composite type's attribute (`name type[ collate c]`).
pub fn split_attribute(attribute: &str) -> (String, String) {
    split_name(attribute).unwrap_or_else(|_| (attribute.to_string(), String::new()))
}

/// `(expr)` written as `expr)` after its opening parenthesis: the expression.
fn unwrap_parens(rest: String) -> String {
    rest.strip_suffix(')').map(str::to_string).unwrap_or(rest)
}

/// A quoted name and what follows it: `"a b" CHECK (...)` or `name CHECK (...)`.
fn split_name(text: &str) -> Result<(String, String), String> {
    let end = if let Some(rest) = text.strip_prefix('"') {
        let mut i = 0;
        let bytes = rest.as_bytes();
        loop {
            match bytes.get(i) {
                Some(b'"') if bytes.get(i + 1) == Some(&b'"') => i += 2,
                Some(b'"') => break i + 2,
                Some(_) => i += 1,
                None => return Err(format!("unterminated name in {text:?}")),
            }
        }
    } else {
        text.find(' ').unwrap_or(text.len())
    };
    let (name, rest) = text.split_at(end);
    Ok((name.to_string(), rest.trim_start().to_string()))
}

/// The SQL literals of a comma-separated list (`'a', 'b''c', E'd\\e'`), each as written.
fn literals(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i] == b'E' {
            i += 1;
        }
        if bytes.get(i) != Some(&b'\'') {
            return Err(format!("not a literal list: {text:?}"));
        }
        i += 1;
        loop {
            match bytes.get(i) {
                Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                Some(b'\\') if bytes[start] == b'E' => i += 2,
                Some(b'\'') => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
                None => return Err(format!("unterminated literal in {text:?}")),
            }
        }
        out.push(text[start..i].to_string());
        match text[i..].strip_prefix(", ") {
            Some(_) => i += 2,
            None if i == bytes.len() => {}
            None => return Err(format!("not a literal list: {text:?}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_continue_on_indented_lines() {
        let fields = vec![
            "CREATE FUNCTION f()\n RETURNS int\nAS $$ x $$".to_string(),
            "comment 'a\nb'".to_string(),
        ];
        let body = body_of(&fields);
        assert_eq!(
            body,
            "CREATE FUNCTION f()\n   RETURNS int\n  AS $$ x $$\ncomment 'a\n  b'"
        );
        assert_eq!(fields_of(&body), fields);
    }

    #[test]
    fn every_kind_reads_back_what_it_renders() {
        for (kind, body) in [
            (Kind::Schema, "comment 'c'"),
            (Kind::Schema, ""),
            (Kind::Extension, "in schema public\nversion 1.8"),
            (Kind::Collation, "provider libc\nlocale 'C'\nctype 'POSIX'\nnondeterministic"),
            (Kind::Enum, "labels 'a', 'b, c', 'd''e'\ncomment 'x'"),
            (Kind::Domain, "as integer\ndefault 1\nnot null\nconstraint \"a b\" CHECK (VALUE > 0)\nconstraint c CHECK (VALUE < 9)"),
            (Kind::CompositeType, "attribute a integer\nattribute b text collate \"C\""),
            (Kind::RangeType, "subtype double precision\nsubtype operator class x\nsubtype diff float8mi"),
            (Kind::Sequence, "as bigint\nstart 1 increment 5 min 1 max 1000 cache 1 cycle\nowned by u.id"),
            (Kind::Table, "partitioned table\nunlogged\npartition by RANGE (at)\ninherits a, b\nwith (fillfactor=70)\nreplica identity full\nrow level security enabled\nforce row level security\ncomment 'x'"),
            (Kind::Column, "integer\nnot null\ndefault nextval('s'::regclass)\nidentity always\nidentity sequence t_a_seq start 1 increment 1 min 1 max 9 cache 1 cycle\ninherited\nstorage plain (type extended)\ncompression lz4\nstatistics 500\noptions (n_distinct=10)\ncollate \"C\""),
            (Kind::Column, "integer\ngenerated always as ((a + b)) stored"),
            (Kind::Constraint, "PRIMARY KEY (id)"),
            (Kind::Index, "CREATE INDEX i ON t USING btree (a)\ninvalid"),
            (Kind::Function, "CREATE OR REPLACE FUNCTION f()\n   RETURNS int\n  AS $$ x $$\ncomment 'f'"),
            (Kind::View, " SELECT 1 AS x;"),
            (Kind::Trigger, "CREATE TRIGGER t BEFORE UPDATE ON x FOR EACH ROW EXECUTE FUNCTION f()\nenabled always"),
            (Kind::Policy, "for select\npermissive\nto authenticated\nusing ((a = ( SELECT 1\n     FROM t)))\nwith check (true)"),
            (Kind::Publication, "publish insert, update\npublish via partition root"),
            (Kind::Rule, "CREATE RULE r AS\n    ON INSERT TO t DO INSTEAD NOTHING\ndisabled\ncomment 'r'"),
            (Kind::Statistics, "CREATE STATISTICS s (ndistinct) ON a, b FROM t\nstatistics 500\ncomment 's'"),
            (Kind::PublicationMember, "publication p"),
            (Kind::GrantsOnTable, "anon SELECT\nservice_role DELETE, SELECT (grantable)"),
        ] {
            let def = Def::parse(kind, body);
            assert!(!matches!(def, Def::Text(_)), "{kind:?}: {body:?}: {:?}", Def::read(kind, fields_of(body)));
            assert_eq!(def.render(), body, "{kind:?}");
        }
        // what the model cannot read stays text
        assert!(matches!(Def::parse(Kind::Table, "view"), Def::Text(_)));
        assert!(matches!(
            Def::parse(Kind::Extension, "in schema x\nversion 1\nextra"),
            Def::Text(_)
        ));
    }

    #[test]
    fn an_owner_is_read_apart_from_the_definition() {
        let (body, owner) =
            split_owner(Kind::Table, "table\nrow level security enabled\nowner bob");
        assert_eq!(
            (body.as_str(), owner.as_deref()),
            ("table\nrow level security enabled", Some("bob"))
        );
        assert!(!matches!(
            Def::parse(Kind::Table, "table\nrow level security enabled\nowner bob"),
            Def::Text(_)
        ));
        assert_eq!(
            with_owner(body, owner.as_deref()),
            "table\nrow level security enabled\nowner bob"
        );
        // kinds without an owner keep such a line as what it is (a grantee named owner)
        let (body, owner) = split_owner(Kind::GrantsOnTable, "owner SELECT");
        assert_eq!((body.as_str(), owner), ("owner SELECT", None));
        assert_eq!(split_owner(Kind::Schema, "owner x").0, "");
    }

    #[test]
    fn grants_compare_as_sets() {
        let a = Def::parse(Kind::GrantsOnTable, "PUBLIC SELECT\nanon INSERT, SELECT");
        let b = Def::parse(Kind::GrantsOnTable, "anon INSERT, SELECT\nPUBLIC SELECT");
        assert_eq!(a, b);
        assert_ne!(
            a,
            Def::parse(
                Kind::GrantsOnTable,
                "anon INSERT (grantable), SELECT\nPUBLIC SELECT"
            )
        );
    }

    #[test]
    fn keys_have_one_kind() {
        assert_eq!(
            Kind::of_key("grants on table users"),
            Some((Kind::GrantsOnTable, "users"))
        );
        assert_eq!(
            Kind::of_key("publication member p:t"),
            Some((Kind::PublicationMember, "p:t"))
        );
        assert_eq!(
            Kind::of_key("publication p"),
            Some((Kind::Publication, "p"))
        );
        for k in Kind::ALL {
            let key = format!("{} x", k.as_str());
            assert_eq!(Kind::of_key(&key), Some((k, "x")), "{key}");
        }
    }

    /// Every object of both sets' committed catalogs is read as its kind, not kept as text.
    #[test]
    fn the_committed_catalogs_are_read_whole() {
        let config =
            crate::config::Config::parse(crate::config::EMBEDDED, "embedded", None).unwrap();
        for s in &config.sets {
            let set = config.load_set(s).unwrap();
            let catalog = crate::catalog::parse(set.expected_catalog.as_deref().unwrap()).unwrap();
            for (key, object) in &catalog.objects {
                let (kind, _) = Kind::of_key(key).unwrap_or_else(|| panic!("{key}"));
                let def = Def::parse(kind, &object.body);
                assert!(
                    !matches!(def, Def::Text(_)),
                    "{key}: {:?}",
                    Def::read(kind, fields_of(&object.body))
                );
            }
        }
    }
}
