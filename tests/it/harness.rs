//! A real Postgres for every test. The server comes from, in order:
//! 1. `MIGRATE_TEST_DATABASE_URL` (a URL whose user may create databases);
//! 2. with the `testcontainers` feature, a `postgres` container (machines with Docker);
//! 3. otherwise a throwaway cluster from this machine's server binaries: the same
//!    `migrate::cluster::Cluster` that `migrate sandbox` runs, started once per test binary
//!    and stopped when it exits. Its directory is in memory when the machine has room
//!    (`ClusterOptions::in_memory`): the suite creates and drops a database per test and
//!    applies the sets hundreds of times, and on disk the files that costs were a third of
//!    its time (the integration tests took 97 s on disk, 70 s in memory).
//!
//! Each test gets its own fresh database, cloned from an empty template, and drops it when
//! done. The databases are made and dropped by admin sessions kept open for the whole run
//! ([`admin_exec`]), not by a new connection each time.

use migrate::config::{Config, MigrationSet};
use migrate::run::Run;
use sqlx::{Connection, PgConnection};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

struct Server {
    /// URL of a database to run CREATE/DROP DATABASE from.
    admin_url: String,
    /// Template to clone test databases from, if the harness made one.
    template: Option<String>,
    /// The role tests connect as, when not the admin URL's: `postgres` on the Supabase
    /// stand-in, where it is not a superuser.
    test_user: Option<String>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static SUPABASE: OnceLock<Server> = OnceLock::new();

/// The two kinds of server every end-to-end test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain PostgreSQL, the tests connecting as a superuser.
    Plain,
    /// A Supabase stand-in (`tests/fixtures/supabase/`): superuser `supabase_admin`; tests
    /// connect as `postgres`, an ordinary role owning the database, with the platform's
    /// roles, `auth` schema, extensions, default privileges and publication.
    Supabase,
}

pub const MODES: [Mode; 2] = [Mode::Plain, Mode::Supabase];

/// The Supabase stand-in: its own cluster, set up once from the fixture SQL, with a
/// template database every Supabase-mode test database is cloned from.
fn supabase_server() -> &'static Server {
    SUPABASE.get_or_init(|| {
        let admin_url = local_cluster(Some("supabase_admin"));
        let template = format!("migrate_supabase_template_{}", std::process::id());
        let (url, name) = (admin_url.clone(), template.clone());
        block_on(move || async move {
            let fixtures = crate_root().join("tests/fixtures/supabase");
            let read = |f: &str| std::fs::read_to_string(fixtures.join(f)).unwrap();
            let mut c = PgConnection::connect(&url).await.expect("admin connection");
            sqlx::raw_sql(&read("cluster.sql"))
                .execute(&mut c)
                .await
                .expect("the stand-in's roles");
            sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\" OWNER postgres"))
                .execute(&mut c)
                .await
                .expect("the stand-in's template");
            let mut t = PgConnection::connect(&database_url(&url, &name))
                .await
                .expect("connecting to the stand-in's template");
            sqlx::raw_sql(&read("database.sql"))
                .execute(&mut t)
                .await
                .expect("the stand-in's platform objects");
        });
        Server {
            admin_url,
            template: Some(template),
            test_user: Some("postgres".into()),
        }
    })
}
static STANDBY: OnceLock<String> = OnceLock::new();

/// A hot standby (a server that never leaves recovery, as a replica): the URL of its
/// `postgres` database. It takes reads and refuses every write.
pub fn standby_url() -> String {
    STANDBY
        .get_or_init(|| {
            cluster_with(migrate::cluster::ClusterOptions {
                standby: true,
                ..cluster_options()
            })
        })
        .clone()
}

/// A name no other test of this process uses, for server-wide objects such as roles.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    )
}

static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// Runs the future `make` returns on a thread and runtime of its own (callers are inside a
/// test's runtime, where blocking on another future is not allowed).
pub fn block_on<F, Fut, T>(make: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(make())
    })
    .join()
    .expect("the helper thread finishes")
}

/// Starts a local cluster on a thread that lives as long as the test binary: the server is
/// tied to the thread that started it, and is stopped and removed at exit. Returns the
/// superuser's URL of its `postgres` database.
fn local_cluster(superuser: Option<&str>) -> String {
    cluster_with(migrate::cluster::ClusterOptions {
        superuser: superuser.map(str::to_string),
        ..cluster_options()
    })
}

/// The server binaries the suite runs (`MIGRATE_TEST_PG_BINDIR`), when not the ones this
/// machine has installed: the same tests against another PostgreSQL version.
pub fn test_bindir() -> Option<PathBuf> {
    std::env::var_os("MIGRATE_TEST_PG_BINDIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// Options for a throwaway cluster of the version under test.
pub fn cluster_options() -> migrate::cluster::ClusterOptions {
    migrate::cluster::ClusterOptions {
        bindir: test_bindir(),
        in_memory: true,
        ..Default::default()
    }
}

/// The servers shared by every test of this binary: stopped, and their directories
/// removed, when the test binary exits normally (`atexit`).
static AT_EXIT: std::sync::Mutex<Vec<migrate::cluster::Cluster>> =
    std::sync::Mutex::new(Vec::new());

fn stop_at_exit(cluster: migrate::cluster::Cluster) {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    extern "C" fn stop_all() {
        let all = std::mem::take(&mut *AT_EXIT.lock().unwrap_or_else(|p| p.into_inner()));
        for c in all {
            let _ = c.stop();
        }
    }
    REGISTER.call_once(|| {
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(stop_all);
        }
    });
    AT_EXIT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(cluster);
}

/// [`local_cluster`] with any options.
fn cluster_with(opts: migrate::cluster::ClusterOptions) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("test-postgres".into())
        .spawn(move || {
            let cluster = migrate::cluster::Cluster::start(&opts);
            match cluster {
                Ok(c) => {
                    tx.send(Ok(c.url("postgres"))).ok();
                    stop_at_exit(c);
                }
                Err(e) => {
                    tx.send(Err(e.to_string())).ok();
                    return;
                }
            }
            loop {
                std::thread::park();
            }
        })
        .expect("spawning the server thread");
    match rx.recv().expect("the server thread answers") {
        Ok(url) => url,
        Err(e) => panic!("cannot start the test server: {e}"),
    }
}

/// The image of the container backend: the module's default is PostgreSQL 11, older than
/// the harness (`STRATEGY FILE_COPY`) and the schemas (`WITH (FORCE)`, `tgparentid`) need.
/// `MIGRATE_TEST_PG_IMAGE_TAG` picks another tag of the `postgres` image.
pub const CONTAINER_TAG: &str = "17-alpine";

/// The oldest PostgreSQL `migrate` supports, and the harness checks its server against.
pub const MIN_SERVER_VERSION_NUM: i32 = 150000;

#[cfg(feature = "testcontainers")]
fn container() -> String {
    use testcontainers_modules::postgres::Postgres;
    use testcontainers_modules::testcontainers::runners::SyncRunner;
    use testcontainers_modules::testcontainers::ImageExt;
    let tag = std::env::var("MIGRATE_TEST_PG_IMAGE_TAG").unwrap_or_else(|_| CONTAINER_TAG.into());
    let node = Postgres::default()
        .with_tag(tag)
        .start()
        .expect("starting a postgres container (is Docker running?)");
    let port = node.get_host_port_ipv4(5432).expect("the container's port");
    // The container lives until the test binary exits.
    std::mem::forget(node);
    format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres")
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("MIGRATE_TEST_DATABASE_URL") {
            return Server {
                admin_url: url,
                template: None,
                test_user: None,
            };
        }
        #[cfg(feature = "testcontainers")]
        let admin_url = container();
        #[cfg(not(feature = "testcontainers"))]
        let admin_url = local_cluster(None);
        let template = format!("migrate_test_template_{}", std::process::id());
        let (url, name) = (admin_url.clone(), template.clone());
        block_on(move || async move {
            let mut c = PgConnection::connect(&url).await.expect("admin connection");
            let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
                .fetch_one(&mut c)
                .await
                .unwrap();
            assert!(
                version >= MIN_SERVER_VERSION_NUM,
                "the test server runs PostgreSQL {version}; migrate needs {MIN_SERVER_VERSION_NUM} or newer"
            );
            sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut c)
                .await
                .expect("creating the template database");
        });
        Server {
            admin_url,
            template: Some(template),
            test_user: None,
        }
    })
}

/// `admin_url` pointing at database `db`: the path replaced, and any `dbname` parameter
/// (which would win over the path) removed.
pub fn database_url(admin_url: &str, db: &str) -> String {
    let mut u = url::Url::parse(admin_url).expect("the test server URL parses");
    u.set_path(&format!("/{db}"));
    let query: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "dbname")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.set_query(None);
    if !query.is_empty() {
        u.query_pairs_mut().extend_pairs(query);
    }
    u.to_string()
}

/// The Supabase stand-in as a scratch server for the rollback proof: its `postgres` role
/// (the one migrations run as there) on its `postgres` database, and the template carrying
/// the platform's surface.
pub fn supabase_scratch() -> (String, String) {
    let server = supabase_server();
    let mut u = url::Url::parse(&server.admin_url).unwrap();
    u.set_username("postgres").unwrap();
    (u.to_string(), server.template.clone().unwrap())
}

/// URL of the test server's admin database: where `--scratch-url` may create databases.
pub fn admin_url() -> String {
    server().admin_url.clone()
}

/// A name for a test database no other test of this process uses.
fn next_database_name() -> String {
    format!(
        "migrate_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh database of its own for one test; dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin_url: String,
    /// The role owning it, when not the admin (the Supabase stand-in's `postgres`).
    owner: Option<String>,
}

impl TestDb {
    /// A fresh database on the plain server.
    pub async fn new() -> TestDb {
        TestDb::in_mode(Mode::Plain).await
    }

    /// A fresh database on the server of `mode`.
    pub async fn in_mode(mode: Mode) -> TestDb {
        let server = match mode {
            Mode::Plain => server(),
            Mode::Supabase => supabase_server(),
        };
        let name = next_database_name();
        let mut sql = match &server.template {
            Some(t) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{t}\" STRATEGY FILE_COPY"),
            None => format!("CREATE DATABASE \"{name}\""),
        };
        if let Some(user) = &server.test_user {
            sql.push_str(&format!(" OWNER \"{user}\""));
        }
        admin_exec_async(&server.admin_url, sql)
            .await
            .unwrap_or_else(|e| panic!("creating a test database: {e}"));
        let mut url = url::Url::parse(&database_url(&server.admin_url, &name)).unwrap();
        if let Some(user) = &server.test_user {
            url.set_username(user).unwrap();
        }
        TestDb {
            url: url.to_string(),
            name,
            admin_url: server.admin_url.clone(),
            owner: server.test_user.clone(),
        }
    }

    /// A copy of `source` (`CREATE DATABASE ... TEMPLATE`), which must have no session open,
    /// owned by the same role.
    pub async fn copy_of(source: &TestDb) -> TestDb {
        let name = next_database_name();
        let mut sql = format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{}\" STRATEGY FILE_COPY",
            source.name
        );
        if let Some(owner) = &source.owner {
            sql.push_str(&format!(" OWNER \"{owner}\""));
        }
        admin_exec_async(&source.admin_url, sql)
            .await
            .unwrap_or_else(|e| panic!("copying a test database: {e}"));
        let mut url = url::Url::parse(&source.url).unwrap();
        url.set_path(&name);
        TestDb {
            url: url.to_string(),
            name,
            admin_url: source.admin_url.clone(),
            owner: source.owner.clone(),
        }
    }

    pub async fn conn(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connecting to the test database")
    }

    /// `migrate` with DATABASE_URL set to this database, run from the crate root.
    pub fn migrate(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_migrate"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATABASE_URL", &self.url)
            .env_remove("MIGRATE_PG_BINDIR")
            .stdin(std::process::Stdio::null());
        // Scratch servers and sandboxes the binary starts run the version under test.
        if let Some(d) = test_bindir() {
            cmd.env("MIGRATE_PG_BINDIR", d);
        }
        cmd
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = admin_exec(
            &self.admin_url,
            format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}

/// A statement for a server's admin session, and where its outcome goes.
type AdminRequest = (String, std::sync::mpsc::Sender<Result<(), String>>);

/// The sessions that make and drop the test databases: one per server (by admin URL), kept
/// open on a thread of its own for the whole run. A connection costs the server about 4 ms of
/// CPU to start and end, and every test database used to open two.
static ADMIN_SESSIONS: std::sync::Mutex<
    std::collections::BTreeMap<String, std::sync::mpsc::Sender<AdminRequest>>,
> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Runs `sql` on an admin session of the server `admin_url` names, and waits for it. Drops
/// have a session of their own, so a drop that waits for a database's sessions to end holds
/// up no test waiting for a new database. A session that broke (a test may end every
/// backend) is opened again, and the statement retried once.
fn admin_exec(admin_url: &str, sql: String) -> Result<(), String> {
    let purpose = if sql.starts_with("DROP") {
        "drop"
    } else {
        "make"
    };
    let requests = {
        let mut sessions = ADMIN_SESSIONS.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .entry(format!("{purpose} {admin_url}"))
            .or_insert_with(|| admin_session(admin_url.to_string()))
            .clone()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    requests
        .send((sql, tx))
        .map_err(|_| "the admin session's thread has ended".to_string())?;
    rx.recv()
        .map_err(|_| "the admin session's thread has ended".to_string())?
}

/// [`admin_exec`] from a test's runtime, which goes on running its other tasks meanwhile.
async fn admin_exec_async(admin_url: &str, sql: String) -> Result<(), String> {
    let url = admin_url.to_string();
    tokio::task::spawn_blocking(move || admin_exec(&url, sql))
        .await
        .map_err(|e| e.to_string())?
}

/// Starts the thread that owns the admin session of `admin_url`.
fn admin_session(admin_url: String) -> std::sync::mpsc::Sender<AdminRequest> {
    let (tx, rx) = std::sync::mpsc::channel::<AdminRequest>();
    std::thread::Builder::new()
        .name("test-admin".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            let mut session: Option<PgConnection> = None;
            for (sql, reply) in rx {
                let outcome = runtime.block_on(async {
                    let mut last = String::new();
                    for _ in 0..2 {
                        let mut conn = match session.take() {
                            Some(c) => c,
                            None => match PgConnection::connect(&admin_url).await {
                                Ok(c) => c,
                                Err(e) => return Err(format!("admin connection: {e}")),
                            },
                        };
                        match sqlx::raw_sql(&sql).execute(&mut conn).await {
                            Ok(_) => {
                                session = Some(conn);
                                return Ok(());
                            }
                            // A statement the server refused leaves the session usable, and
                            // is not retried; a broken session (ended by the server: class
                            // 57, or 08) is replaced.
                            Err(sqlx::Error::Database(e))
                                if !e.code().is_some_and(|c| {
                                    c.starts_with("57") || c.starts_with("08")
                                }) =>
                            {
                                session = Some(conn);
                                return Err(e.to_string());
                            }
                            Err(e) => last = e.to_string(),
                        }
                    }
                    Err(last)
                });
                let _ = reply.send(outcome);
            }
        })
        .expect("spawning the admin session's thread");
    tx
}

/// A copy of the project's migrations.toml and schema/, in a folder of its own.
pub fn project_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&crate_root().join("schema"), &dir.path().join("schema"));
    std::fs::copy(
        crate_root().join("migrations.toml"),
        dir.path().join("migrations.toml"),
    )
    .unwrap();
    dir
}

/// The files of `set` in the project `dir` whose names start with `prefix`, sorted.
pub fn files_of(dir: &Path, set: &str, prefix: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir.join("schema").join(set))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|f| f.starts_with(prefix))
        .collect();
    files.sort();
    files
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A set as the binary embeds it.
pub fn embedded_set(name: &str) -> MigrationSet {
    let config = Config::parse(migrate::config::EMBEDDED, "embedded", None).unwrap();
    let set = config.sets.iter().find(|s| s.name == name).unwrap();
    config.load_set(set).unwrap()
}

/// The test fixtures' configuration (`tests/fixtures/migrations.toml`).
pub fn fixtures_config() -> PathBuf {
    crate_root().join("tests/fixtures/migrations.toml")
}

/// A set declared in the fixtures' configuration.
pub fn fixture_set(name: &str) -> MigrationSet {
    let config = Config::load(Some(&fixtures_config())).unwrap();
    let set = config.sets.iter().find(|s| s.name == name).unwrap();
    config.load_set(set).unwrap()
}

/// Takes the lock of `set` on `conn`, as a run of another process would hold it.
pub async fn hold_set_lock(conn: &mut PgConnection, set: &str) {
    use migrate::engine::lock;
    lock::acquire(
        &Run::default(),
        conn,
        set,
        lock::Guard::Set(set),
        std::time::Duration::MAX,
        &quiet,
    )
    .await
    .unwrap();
}

/// Releases what [`hold_set_lock`] took.
pub async fn release_set_lock(conn: &mut PgConnection, set: &str) {
    use migrate::engine::lock;
    lock::release(conn, &[lock::Guard::Set(set)]).await.unwrap();
}

/// Engine progress is not checked by most tests.
pub fn quiet(_: &migrate::engine::Event) {}

/// Output of a finished `migrate` process.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Passwords the tests put in URLs. [`run`] fails any test whose `migrate` output shows one.
pub const TEST_PASSWORDS: &[&str] = &[
    "Sup3r-Secret-Pw",
    "pa/ss-Word9",
    "pa?ss-Word9",
    "my secret kv",
];

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("running migrate");
    let out = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    assert_no_secret(&out.stdout);
    assert_no_secret(&out.stderr);
    assert!(
        !out.stderr.contains("panicked"),
        "migrate panicked:\n{}",
        out.stderr
    );
    out
}

/// Fails unless the run exited with `code` and its standard error says `says`.
#[track_caller]
pub fn assert_refused(out: &Output, code: i32, says: &str) {
    assert_eq!(out.code, code, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(says),
        "expected {says:?} in:\n{}",
        out.stderr
    );
}

/// Whether the database holds migrate's history schema: a refused run must not create it.
pub async fn has_history_schema(c: &mut PgConnection) -> bool {
    scalar_i64(
        c,
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'migrate'",
    )
    .await
        > 0
}

/// A well-formed bcrypt hash, for Witchcraft users (its CHECK refuses anything else).
pub fn bcrypt() -> String {
    format!("$2b$12${}", &"N9qo8uLOickgx2ZMRZoMye".repeat(3)[..53])
}

/// Fails when `text` shows one of the test passwords.
pub fn assert_no_secret(text: &str) {
    for pw in TEST_PASSWORDS {
        assert!(!text.contains(pw), "a password reached the output:\n{text}");
    }
}

/// `url` with `password` as the password of its user (the test server trusts everyone, so
/// the connection works whatever it is).
pub fn with_password(url: &str, password: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_password(Some(password)).unwrap();
    u.to_string()
}

/// A set written to a temporary directory, with a migrations.toml declaring it as `name`:
/// for tests that need migration files of their own.
pub struct TempSet {
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl TempSet {
    pub fn new(name: &str, files: &[(&str, &str)]) -> TempSet {
        let dir = std::env::temp_dir().join(format!(
            "migrate-test-set-{}-{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(dir.join(name)).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(name).join(file), text).unwrap();
        }
        let config = dir.join("migrations.toml");
        std::fs::write(
            &config,
            format!("[[set]]\nname = \"{name}\"\ndir = \"{name}\"\n"),
        )
        .unwrap();
        TempSet { dir, config }
    }

    /// Writes the set's expected catalogs with `migrate snapshot`, as a developer does
    /// before committing, so `verify` and `diff` have something to compare with.
    pub fn snapshot(&self, db: &TestDb) {
        let out = run(db
            .migrate()
            .arg("--config")
            .arg(&self.config)
            .arg("snapshot"));
        assert_eq!(out.code, 0, "{}", out.stderr);
    }

    /// The set as the library loads it.
    pub fn set(&self) -> MigrationSet {
        let config = Config::load(Some(&self.config)).unwrap();
        config.load_set(&config.sets[0]).unwrap()
    }
}

impl Drop for TempSet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One text column of every row of `sql`.
pub async fn strings(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .fetch_all(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub async fn scalar_i64(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every user object of the database outside the history schema: relations, functions,
/// policies, triggers, schemas, types. Used to prove that a full rollback leaves nothing.
pub async fn user_objects(conn: &mut PgConnection) -> Vec<String> {
    strings(
        conn,
        "WITH ns AS (
           SELECT oid, nspname FROM pg_namespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'migrate')
              AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%')
         SELECT 'schema ' || nspname FROM ns
         UNION ALL SELECT 'relation ' || ns.nspname || '.' || c.relname || ' ' || c.relkind::text
           FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
         UNION ALL SELECT 'function ' || p.oid::regprocedure::text
           FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
         UNION ALL SELECT 'policy ' || pol.polname || ' on ' || pol.polrelid::regclass::text FROM pg_policy pol
         UNION ALL SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass::text
           FROM pg_trigger t WHERE NOT t.tgisinternal
         UNION ALL SELECT 'publication ' || pubname FROM pg_publication
         UNION ALL SELECT 'type ' || ns.nspname || '.' || t.typname
           FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
         ORDER BY 1",
    )
    .await
}

/// Witchcraft's public catalogue: an active provider with an active model (input $0.01, output $0.03 per 1k tokens), and an
/// inactive provider with an inactive model. Returns (provider, model) of the active pair.
pub async fn seed_models(c: &mut PgConnection) -> (i32, i32) {
    sqlx::raw_sql(
        "INSERT INTO ai_providers (name, display_name) VALUES ('openai', 'OpenAI');
         INSERT INTO ai_providers (name, display_name, is_active) VALUES ('retired', 'Retired', false);
         INSERT INTO ai_models (provider_id, name, display_name, input_cost_per_1k_tokens, output_cost_per_1k_tokens)
           SELECT id, 'gpt-4', 'GPT-4', 0.01, 0.03 FROM ai_providers WHERE name = 'openai';
         INSERT INTO ai_models (provider_id, name, display_name, is_active)
           SELECT id, 'gpt-2', 'GPT-2', false FROM ai_providers WHERE name = 'openai';
         INSERT INTO ai_models (provider_id, name, display_name)
           SELECT id, 'old-1', 'Old' FROM ai_providers WHERE name = 'retired';",
    )
    .execute(&mut *c)
    .await
    .unwrap();
    let p: i32 = sqlx::query_scalar("SELECT id FROM ai_providers WHERE name = 'openai'")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    let m: i32 = sqlx::query_scalar("SELECT id FROM ai_models WHERE name = 'gpt-4'")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    (p, m)
}

/// SQL giving Witchcraft user `u` a row of their own in the tables a user owns beyond what
/// registration makes: an access token, a reset token, an agent session with a message, a
/// tool call and feedback, a subscription, a payment and a usage alert.
pub fn witchcraft_rows_of(u: i64) -> String {
    format!(
        "INSERT INTO access_tokens (user_id, token_hash) VALUES ({u}, md5('{u}') || md5('x{u}'));
         INSERT INTO password_reset_tokens (user_id, token_hash) VALUES ({u}, md5('r{u}') || md5('y{u}'));
         WITH s AS (INSERT INTO agent_sessions (user_id) VALUES ({u}) RETURNING id),
              msg AS (INSERT INTO agent_messages (session_id, role, content) SELECT id, 'assistant', 'x' FROM s RETURNING id, session_id),
              t AS (INSERT INTO agent_tool_calls (session_id, message_id, tool_name) SELECT session_id, id, 'search' FROM msg)
         INSERT INTO agent_feedback (user_id, session_id, message_id, rating) SELECT {u}, session_id, id, 5 FROM msg;
         INSERT INTO user_subscriptions (user_id, tier_id) SELECT {u}, id FROM subscription_tiers WHERE name = 'pro';
         INSERT INTO payment_history (user_id, amount_usd, status, payment_provider) VALUES ({u}, 25, 'succeeded', 'stripe');
         INSERT INTO usage_alerts (user_id, alert_type, threshold_percent, usage_percent, period_start)
           VALUES ({u}, 'quota_warning', 80, 81, date_trunc('month', now()));"
    )
}

/// The project's documentation, `(path, text)`: the README, then each file of `docs/` in
/// name order.
pub fn documentation() -> Vec<(String, String)> {
    let mut files = vec![(
        "README.md".to_string(),
        std::fs::read_to_string(crate_root().join("README.md")).unwrap(),
    )];
    let mut docs: Vec<std::path::PathBuf> = std::fs::read_dir(crate_root().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for path in docs {
        let shown = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
        files.push((shown, std::fs::read_to_string(&path).unwrap()));
    }
    files
}

/// The rows of the documentation's table between `<!-- {marker} -->` and `<!-- end of
/// {marker} -->` (in the README or a file of `docs/`): its header and body, without the
/// `| --- |` rule; empty when the markers are missing.
pub fn readme_table(marker: &str) -> Vec<String> {
    let readme: String = documentation()
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join("\n");
    let start = format!("<!-- {marker} -->");
    let end = format!("<!-- end of {marker} -->");
    let Some((body, _)) = readme
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once(&end))
    else {
        return Vec::new();
    };
    body.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| ---"))
        .map(str::to_string)
        .collect()
}

/// Runs `sql` as `role` with JWT claims whose `sub` is `sub` (no claims when `None`), in a
/// transaction that is rolled back; returns the single bigint it selects, or the SQLSTATE of
/// the error.
pub async fn as_role(
    c: &mut PgConnection,
    role: &str,
    sub: Option<&str>,
    sql: &str,
) -> Result<i64, String> {
    sqlx::raw_sql("BEGIN").execute(&mut *c).await.unwrap();
    if let Some(sub) = sub {
        sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
            .bind(serde_json::json!({ "sub": sub, "role": role }).to_string())
            .execute(&mut *c)
            .await
            .unwrap();
    }
    sqlx::raw_sql(&format!("SET LOCAL ROLE {role}"))
        .execute(&mut *c)
        .await
        .unwrap();
    let result = sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut *c).await;
    sqlx::raw_sql("ROLLBACK").execute(&mut *c).await.unwrap();
    result.map_err(|e| {
        e.as_database_error()
            .and_then(|d| d.code().map(|c| c.to_string()))
            .unwrap_or_else(|| e.to_string())
    })
}

/// Asserts that `table` is partitioned by range with one partition per UTC month from the
/// current one to `months_ahead` months ahead, named `<table>_YYYY_MM`, plus `<table>_default`.
pub async fn assert_monthly_partitions(c: &mut PgConnection, table: &str, months_ahead: i32) {
    sqlx::raw_sql("SET TIME ZONE 'UTC'")
        .execute(&mut *c)
        .await
        .unwrap();
    let actual = strings(
        c,
        &format!(
            "SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = '{table}'::regclass ORDER BY 1"
        ),
    )
    .await;
    let expected = strings(
        c,
        &format!(
            "SELECT '{table}_' || to_char(m, 'YYYY_MM') || ' FOR VALUES FROM ('''
                    || to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00'') TO ('''
                    || to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00'')'
               FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                                    date_trunc('month', now() AT TIME ZONE 'UTC') + interval '{months_ahead} months',
                                    interval '1 month') m
             UNION ALL SELECT '{table}_default DEFAULT' ORDER BY 1"
        ),
    )
    .await;
    assert_eq!(actual, expected, "partitions of {table}");
    let strategy = strings(
        c,
        &format!("SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = '{table}'::regclass"),
    )
    .await;
    assert_eq!(strategy, ["r"], "{table} is range-partitioned");
}

/// A fresh database with every migration of the embedded set `set` applied.
pub async fn migrated(set: &str) -> (TestDb, PgConnection) {
    migrated_in(Mode::Plain, set).await
}

/// A fresh database of `mode` with every migration of the embedded set `set` applied: a
/// copy of the one [`applied_once`] keeps.
pub async fn migrated_in(mode: Mode, set: &str) -> (TestDb, PgConnection) {
    let db = TestDb::copy_of(applied_once(mode, set)).await;
    let c = db.conn().await;
    (db, c)
}

/// A database of `mode` the embedded set `set` was applied to, once per test binary and
/// never opened after: applying a set costs several times what copying its database does.
pub fn applied_once(mode: Mode, set: &str) -> &'static TestDb {
    type Cells = Vec<((Mode, String), &'static OnceLock<TestDb>)>;
    static CELLS: std::sync::Mutex<Cells> = std::sync::Mutex::new(Vec::new());
    let cell = {
        let mut cells = CELLS.lock().unwrap_or_else(|p| p.into_inner());
        let key = (mode, set.to_string());
        match cells.iter().find(|(k, _)| *k == key) {
            Some((_, cell)) => *cell,
            None => {
                let cell: &'static OnceLock<TestDb> = Box::leak(Box::default());
                cells.push((key, cell));
                cell
            }
        }
    };
    let set = set.to_string();
    cell.get_or_init(move || {
        block_on(move || async move {
            let db = TestDb::in_mode(mode).await;
            let mut c = db.conn().await;
            migrate::engine::up(&mut c, &embedded_set(&set), None, "5s", &quiet)
                .await
                .unwrap();
            c.close().await.ok();
            db
        })
    })
}

/// Rolls `set` back to `target`, confirming without asking; panics on failure.
pub async fn roll_back(
    c: &mut PgConnection,
    set: &MigrationSet,
    target: migrate::engine::DownTarget,
) -> Vec<migrate::engine::Step> {
    migrate::engine::down(c, set, target, "5s", &mut |_| Ok(()), &quiet)
        .await
        .unwrap()
}

/// Runs every case of a table-driven test, each in a task of its own, and fails once at the
/// end naming every case that failed: a loop of asserts stops at the first failure and
/// hides the rest.
pub async fn every_case<C, F, Fut>(
    cases: impl IntoIterator<Item = C>,
    label: fn(&C) -> String,
    check: F,
) where
    C: 'static,
    F: Fn(C) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let mut failed = Vec::new();
    let mut total = 0;
    // A local task set: the cases' futures need not be Send, and a panic ends only its task.
    let local = tokio::task::LocalSet::new();
    for case in cases {
        total += 1;
        let name = label(&case);
        let task = local.spawn_local(check(case));
        let outcome = local.run_until(task).await;
        if let Err(e) = outcome {
            let why = match e.try_into_panic() {
                Ok(p) => panic_message(p.as_ref()),
                Err(e) => e.to_string(),
            };
            failed.push(format!("--- {name}: {why}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {total} cases failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The message of a caught panic.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// [`every_case`] on `workers` threads at once, each with a runtime of its own: for long
/// table-driven tests whose cases wait on the server and on child processes.
pub fn every_case_in_parallel<C, F, Fut>(
    cases: &'static [C],
    label: fn(&C) -> String,
    check: F,
    workers: usize,
) where
    C: Sync,
    F: Fn(&'static C) -> Fut + Sync,
    Fut: std::future::Future<Output = ()>,
{
    let next = AtomicUsize::new(0);
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else {
                        break;
                    };
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        runtime.block_on(check(case))
                    }));
                    if let Err(p) = outcome {
                        let why = panic_message(p.as_ref());
                        failed
                            .lock()
                            .unwrap()
                            .push(format!("--- {}: {why}", label(case)));
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// Polls `sql` (one boolean) until it is true; fails after 30 s.
pub async fn wait_until(conn: &mut PgConnection, sql: &str) {
    let started = std::time::Instant::now();
    loop {
        let yes: bool = sqlx::query_scalar(sql).fetch_one(&mut *conn).await.unwrap();
        if yes {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "never: {sql}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A loopback port nothing listens on (one the system just handed out and took back): what
/// a test connects to for "refused", or gives a server to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A new directory of its own, removed when the value is dropped, a failing test's too.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("migrate-{prefix}-"))
        .tempdir()
        .unwrap()
}

/// A server that accepts connections and never answers: the address to reach it at.
pub fn silent_server() -> std::net::SocketAddr {
    silent_server_telling().0
}

/// [`silent_server`], and a receiver that gets one message per connection it accepts: what
/// a test waits on to know a client is now waiting for an answer.
pub fn silent_server_telling() -> (std::net::SocketAddr, std::sync::mpsc::Receiver<()>) {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().take(32) {
            held.push(conn);
            let _ = tx.send(());
        }
        std::thread::sleep(std::time::Duration::from_secs(120));
        drop(held);
    });
    (addr, rx)
}

/// `program` (`pg_dump`, `psql`) of the server's installation when it has one, else the one
/// on PATH.
pub fn client(program: &str) -> PathBuf {
    test_bindir()
        .or_else(|| migrate::cluster::find_bindir().ok())
        .and_then(|d| migrate::cluster::program_of(&d, program))
        .unwrap_or_else(|| program.into())
}

/// `pg_dump --schema-only` of `db`, owners included, normalised only by order: without
/// comments, settings and blank lines, each statement's lines sorted (column order is not
/// part of the model), and the statements sorted.
pub fn dump(db: &TestDb) -> Vec<String> {
    let out = std::process::Command::new(client("pg_dump"))
        .args(["--schema-only", "--dbname", &db.url])
        .output()
        .expect("pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut statements = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty()
            || line.starts_with("--")
            || line.starts_with("SET ")
            || line.starts_with("SELECT pg_catalog.set_config")
            || line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict")
        {
            continue;
        }
        current.push(line.trim_end_matches(',').trim().to_string());
        if line.ends_with(';') {
            current.sort();
            statements.push(current.join("\n"));
            current.clear();
        }
    }
    statements.sort();
    statements
}

/// What one `diff --sql --json` found: the keys it names (missing, unexpected and changed, of
/// every set or schema it compared) and its repair, the statements as one script.
pub struct Repair {
    pub named: Vec<String>,
    pub script: String,
}

impl Repair {
    /// Reads the document `diff --sql --json` printed.
    #[track_caller]
    pub fn of(stdout: &str) -> Repair {
        let doc: serde_json::Value = serde_json::from_str(stdout)
            .unwrap_or_else(|e| panic!("diff --json printed no JSON document ({e}):\n{stdout}"));
        let parts: Vec<&serde_json::Value> = match doc["sets"].as_array() {
            Some(sets) => sets.iter().collect(),
            None => vec![&doc],
        };
        let mut named = Vec::new();
        let mut statements = Vec::new();
        for part in parts {
            for list in ["missing", "unexpected"] {
                for key in part[list].as_array().into_iter().flatten() {
                    named.push(key.as_str().unwrap_or_default().to_string());
                }
            }
            for changed in part["changed"].as_array().into_iter().flatten() {
                named.push(changed["object"].as_str().unwrap_or_default().to_string());
            }
            for statement in part["sql"].as_array().into_iter().flatten() {
                statements.push(statement.as_str().unwrap_or_default().to_string());
            }
        }
        Repair {
            named,
            script: statements.join("\n"),
        }
    }

    /// Whether a key it names contains `name`.
    pub fn names(&self, name: &str) -> bool {
        self.named.iter().any(|k| k.contains(name))
    }
}

/// Asserts that two dumps of [`dump`] are equal, showing only the statements that differ.
#[track_caller]
pub fn assert_same_dump(actual: &[String], expected: &[String], context: &str) {
    if actual == expected {
        return;
    }
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|s| !b.contains(s)).cloned().collect()
    };
    panic!(
        "pg_dump differs {context}\nonly in the database:\n{}\nonly in the expected:\n{}",
        only(actual, expected).join("\n"),
        only(expected, actual).join("\n")
    );
}
