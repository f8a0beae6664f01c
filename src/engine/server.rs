//! What kind of server a run talks to: its PostgreSQL version, and whether it is a Supabase
//! project (or a server set up like one). On Supabase the migrating role is not a superuser,
//! the platform owns `auth`, `storage`, `realtime` and more, and its default privileges open
//! new objects to the API roles: `status` says which it is, so an operator knows which rules
//! apply before running anything.

use super::error::{db, EngineError};
use serde::Serialize;
use sqlx::{PgConnection, Row};

/// The server and the platform around the database.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServerInfo {
    /// `server_version` as the server reports it, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub version: String,
    /// `server_version_num`, e.g. 150018.
    pub version_num: i32,
    /// `supabase` or `postgres`.
    pub platform: &'static str,
    /// The role the run connects as, and whether it is a superuser.
    pub role: String,
    pub superuser: bool,
}

/// The server-wide sign of a Supabase project (or a server set up like one): its superuser
/// role `supabase_admin`. Server-wide, so it holds in any database of the server.
pub const PLATFORM_ROLE_EXISTS: &str =
    "EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_admin')";

/// Whether the server `conn` talks to is Supabase's, whatever database it is connected to.
pub async fn is_platform_server(conn: &mut PgConnection) -> Result<bool, EngineError> {
    sqlx::query_scalar(&format!("SELECT {PLATFORM_ROLE_EXISTS}"))
        .fetch_one(conn)
        .await
        .map_err(db("reading what kind of server this is"))
}

/// Reads the server's version and platform. Supabase is recognised by what every project
/// has and plain Postgres does not: the `supabase_admin` role and Supabase Auth's
/// `auth.users` table. (A database migrated here on plain Postgres has an `auth` schema of
/// this tool's shim, but no `auth.users` and no `supabase_admin`.) Read from the catalog, not
/// with `to_regclass`, which fails for a role without USAGE on `auth`.
pub async fn inspect(conn: &mut PgConnection) -> Result<ServerInfo, EngineError> {
    let row = sqlx::query(&format!(
        "SELECT current_setting('server_version') AS version,
                current_setting('server_version_num')::int AS version_num,
                current_user::text AS role,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
                {PLATFORM_ROLE_EXISTS}
                  AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE n.nspname = 'auth' AND c.relname = 'users') AS supabase"
    ))
    .fetch_one(conn)
    .await
    .map_err(db("reading what kind of server this is"))?;
    let supabase: bool = row.get("supabase");
    Ok(ServerInfo {
        version: row.get("version"),
        version_num: row.get("version_num"),
        platform: if supabase { "supabase" } else { "postgres" },
        role: row.get("role"),
        superuser: row.get("superuser"),
    })
}

impl std::fmt::Display for ServerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let version = self
            .version
            .split_whitespace()
            .next()
            .unwrap_or(&self.version);
        match self.platform {
            "supabase" => write!(f, "Supabase (or set up like it), PostgreSQL {version}")?,
            _ => write!(f, "PostgreSQL {version}")?,
        }
        write!(
            f,
            "; connected as {}{}",
            self.role,
            if self.superuser { " (superuser)" } else { "" }
        )
    }
}
