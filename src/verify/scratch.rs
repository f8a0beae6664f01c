//! Scratch databases: empty databases that `snapshot` and the rollback proof apply migrations
//! to, then drop. Only those two verbs need one; `verify` and `diff` only read.
//!
//! A scratch database is dangerous in exactly one way: if its connection reached another
//! database, the proof would migrate and roll back real data. So the connection is built
//! from parsed options with the database set explicitly (a `?dbname=` in the URL cannot win),
//! and nothing runs until `current_database()` says it is the scratch database. Its name
//! carries a random token from the server, so two runs on one server (containers share
//! pids) never meet, and only a database this run created is ever dropped.
//!
//! The proof must meet what `up` meets. On Supabase (or a server set up like it) a database
//! made from `template1` lacks the platform: no `auth` schema, none of the default
//! privileges that open new objects to the API roles, no `supabase_realtime`. So a scratch
//! database can be cloned from a named template that carries the platform's surface
//! (`--scratch-template`), and on a Supabase-like server one is required.

use crate::cluster::{Cluster, ClusterError, ClusterOptions};
use crate::engine::{self, error::reason, quote_ident, EngineError};
use crate::redact::redact_url;
use crate::run::Run;
use sqlx::postgres::PgConnectOptions;
use sqlx::PgConnection;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ScratchError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("creating scratch database {name} on {server}: {reason}; --scratch-url needs a role that may create databases (CREATEDB), or leave it out to use a throwaway local server")]
    Create {
        name: String,
        server: String,
        reason: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("refusing to use the scratch connection: it reached database {actual:?} instead of the new scratch database {expected:?}; nothing was run on it")]
    WrongDatabase { expected: String, actual: String },
    #[error("the scratch server {server} is Supabase (or set up like it): a scratch database made from template1 would lack the platform's auth schema, default privileges and publication, and the proof would test something else than `up` meets; pass --scratch-template with a database that carries the platform (docs/schemas.md: \"The rollback proof on Supabase\")")]
    PlatformWithoutTemplate { server: String },
    #[error("dropping scratch database {name} on {server}: {reason}; drop it by hand")]
    Drop {
        name: String,
        server: String,
        reason: String,
    },
}

/// A server to make scratch databases on: the one `--scratch-url` names, or a throwaway
/// cluster from this machine's server binaries.
pub struct ScratchServer {
    admin: PgConnectOptions,
    shown: String,
    /// The database scratch databases are cloned from; `template1` when `None`.
    template: Option<String>,
    /// The run whose sessions the scratch connections are (a signal cancels them).
    run: Run,
    _cluster: Option<Cluster>,
}

impl ScratchServer {
    /// Uses `scratch_url` when given, else starts a throwaway local server; scratch
    /// databases are cloned from `template` when given.
    pub fn start(
        run: &Run,
        scratch_url: Option<&str>,
        template: Option<&str>,
    ) -> Result<ScratchServer, ScratchError> {
        Ok(match scratch_url {
            Some(url) => ScratchServer {
                admin: engine::options(url)?,
                shown: redact_url(url),
                template: template.map(str::to_string),
                run: run.clone(),
                _cluster: None,
            },
            None => {
                // A scratch server's data is small and lives as long as this run: in memory,
                // its DDL costs less (ClusterOptions::in_memory).
                let cluster = Cluster::start(&ClusterOptions {
                    in_memory: true,
                    ..Default::default()
                })?;
                let url = cluster.url("postgres");
                ScratchServer {
                    admin: engine::options(&url)?,
                    shown: "a throwaway local server".into(),
                    template: template.map(str::to_string),
                    run: run.clone(),
                    _cluster: Some(cluster),
                }
            }
        })
    }

    /// Runs `work` on a new empty database, dropped afterwards whatever happened.
    pub async fn with_database<T, E: From<ScratchError>>(
        &self,
        purpose: &str,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut admin = engine::connect_with(&self.run, &self.admin, &self.shown)
            .await
            .map_err(|e| self.named(e))?;
        let name = self.create(&mut admin, purpose).await?;
        let result = self.use_database(&name, work).await;
        let dropped = sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&name)
        ))
        .execute(&mut admin)
        .await;
        let value = result?;
        dropped.map_err(|e| ScratchError::Drop {
            name: name.clone(),
            server: self.shown.clone(),
            reason: reason(&e),
        })?;
        Ok(value)
    }

    /// Creates the scratch database under a name no other run can hold.
    async fn create(
        &self,
        admin: &mut PgConnection,
        purpose: &str,
    ) -> Result<String, ScratchError> {
        let token: String = sqlx::query_scalar(
            "SELECT substr(md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text), 1, 16)",
        )
        .fetch_one(&mut *admin)
        .await
        .map_err(engine::error::db("choosing a scratch database name"))?;
        let name = format!("migrate_scratch_{purpose}_{token}");
        let from = match &self.template {
            Some(t) => format!(" TEMPLATE {}", quote_ident(t)),
            None => {
                // Server-wide: the database the scratch URL names may hold no platform
                // objects even where every project database does.
                let platform = engine::server::is_platform_server(admin).await?;
                if platform {
                    return Err(ScratchError::PlatformWithoutTemplate {
                        server: self.shown.clone(),
                    });
                }
                String::new()
            }
        };
        sqlx::raw_sql(&format!("CREATE DATABASE {}{from}", quote_ident(&name)))
            .execute(&mut *admin)
            .await
            .map_err(|source| ScratchError::Create {
                name: name.clone(),
                server: self.shown.clone(),
                reason: reason(&source),
                source,
            })?;
        Ok(name)
    }

    /// A connection error, naming `--scratch-url` as the URL to check when it was given.
    fn named(&self, e: EngineError) -> ScratchError {
        match self._cluster {
            None => ScratchError::Engine(e.held_by("--scratch-url")),
            Some(_) => ScratchError::Engine(e),
        }
    }

    /// Another session on scratch database `name`, one of this server's: for work that
    /// watches the first session's from the side.
    pub async fn session(&self, name: &str) -> Result<PgConnection, ScratchError> {
        if !name.starts_with("migrate_scratch_") {
            return Err(ScratchError::WrongDatabase {
                expected: "a migrate_scratch_ database".into(),
                actual: name.to_string(),
            });
        }
        let opts = self.admin.clone().database(name);
        engine::connect_with(&self.run, &opts, &self.shown)
            .await
            .map_err(|e| self.named(e))
    }

    async fn use_database<T, E: From<ScratchError>>(
        &self,
        name: &str,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let opts = self.admin.clone().database(name);
        let mut conn = engine::connect_with(&self.run, &opts, &self.shown)
            .await
            .map_err(|e| self.named(e))?;
        let actual: String = sqlx::query_scalar("SELECT current_database()::text")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| {
                ScratchError::from(engine::error::db("checking the scratch database")(e))
            })?;
        if actual != name {
            return Err(ScratchError::WrongDatabase {
                expected: name.to_string(),
                actual,
            }
            .into());
        }
        // The work replays migrations, maybe many times: their notices are not news here.
        sqlx::raw_sql("SET client_min_messages = warning")
            .execute(&mut conn)
            .await
            .map_err(|e| {
                ScratchError::from(engine::error::db("preparing the scratch database")(e))
            })?;
        work(&mut conn).await
    }
}
