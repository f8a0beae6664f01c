//! PgBouncer, for real, between `migrate` and the test server: a transaction-mode pooler on
//! an ordinary port must be refused from the server's answers, not from the port number.

use crate::harness::*;
use migrate::run::Run;
use std::process::{Child, Command, Stdio};

/// A PgBouncer on a free loopback port in front of the plain test server.
pub struct Pgbouncer {
    pub port: u16,
    child: Child,
    /// removed once the child is gone
    _dir: tempfile::TempDir,
}

impl Pgbouncer {
    pub fn start(upstream_url: &str, pool_mode: &str) -> Pgbouncer {
        let upstream = url::Url::parse(upstream_url).unwrap();
        let port = free_port();
        let guard = temp_dir("pgbouncer");
        let dir = guard.path().to_path_buf();
        std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {dir}/users.txt\npool_mode = {pool_mode}\n\
                 default_pool_size = 2\nmax_client_conn = 50\nlogfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n\
                 ignore_startup_parameters = extra_float_digits,search_path,options\n",
                upstream.port().unwrap(),
                dir = dir.display()
            ),
        )
        .unwrap();
        let binary = ["/usr/sbin/pgbouncer", "pgbouncer"]
            .into_iter()
            .find(|b| !b.starts_with('/') || std::path::Path::new(b).exists())
            .unwrap();
        let mut cmd = Command::new(binary);
        // PgBouncer refuses to run as root
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let _ = Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(&dir)
                .status();
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting pgbouncer (Debian: apt-get install pgbouncer): {e}")
            });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer did not start: {}",
                std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Pgbouncer {
            port,
            child,
            _dir: guard,
        }
    }

    /// `url` (a database of the test server) through this PgBouncer.
    pub fn url(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.to_string()
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `up` and `down` refused Supabase's transaction pooler by its port (6543) only. Behind
/// PgBouncer in transaction mode on any port they refuse, from what the server answers, and
/// change nothing; in session mode they run.
#[tokio::test]
async fn up_and_down_refuse_a_transaction_pooler_on_any_port() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let pooler = Pgbouncer::start(&db.url, "transaction");
    let through = pooler.url(&db.url);
    assert_ne!(pooler.port, 6543);
    for args in [
        vec!["up", "--set", "aethercrown98"],
        vec!["down", "--set", "aethercrown98", "--yes"],
        vec!["maintain", "--set", "aethercrown98"],
        vec!["bootstrap", "--set", "aethercrown98"],
    ] {
        let out = run(db.migrate().env("DATABASE_URL", &through).args(&args));
        assert_refused(&out, 2, "goes through a transaction-mode pooler (a second connection was handed this connection's server session)");
    }
    assert!(!has_history_schema(&mut c).await, "nothing was changed");
    // a session-mode pooler keeps one server session per client: fine
    let session = Pgbouncer::start(&db.url, "session");
    let out = run(db
        .migrate()
        .env("DATABASE_URL", session.url(&db.url))
        .args(["up", "--set", "aethercrown98"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        embedded_set("aethercrown98").migrations.len() as i64
    );
}

/// What the port check misses, the advisory-lock check catches: through PgBouncer in
/// transaction mode, once another client takes the server session that took the lock, the
/// run's next statement lands in a session without it.
#[tokio::test]
async fn the_lock_check_catches_what_the_port_check_misses() {
    let db = TestDb::new().await;
    let pooler = Pgbouncer::start(&db.url, "transaction");
    let through = pooler.url(&db.url);
    migrate::engine::require_session_connection(&through).unwrap();
    let mut run_conn = migrate::engine::connect(&Run::default(), &through)
        .await
        .unwrap();
    hold_set_lock(&mut run_conn, "probe").await;
    // another client takes the server session the lock was taken in (PgBouncer hands out
    // the most recently released one) and keeps it in a transaction
    let mut other = migrate::engine::connect(&Run::default(), &through)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN; SELECT 1")
        .execute(&mut other)
        .await
        .unwrap();
    assert!(!migrate::engine::lock::held(&mut run_conn, "probe")
        .await
        .unwrap());
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
}

/// A run proves its session its own without a second connection only when the server names
/// this very connection's endpoints: directly, yes; through PgBouncer in either mode, no,
/// and the full check with a second connection decides (session mode passes it).
#[tokio::test]
async fn only_a_direct_connection_is_taken_as_its_own_session_without_a_second_one() {
    let db = TestDb::new().await;
    let run = Run::default();
    let mut direct = migrate::engine::connect(&run, &db.url).await.unwrap();
    assert!(migrate::engine::reaches_server_directly(&mut direct).await);
    let transaction = Pgbouncer::start(&db.url, "transaction");
    let session = Pgbouncer::start(&db.url, "session");
    for (through, own) in [
        (session.url(&db.url), true),
        (transaction.url(&db.url), false),
    ] {
        let mut conn = migrate::engine::connect(&run, &through).await.unwrap();
        assert!(
            !migrate::engine::reaches_server_directly(&mut conn).await,
            "{through}"
        );
        // (the pooler's pool is small: this client gives its server session back first)
        drop(conn);
        let proven = migrate::engine::connect_own_session(&run, &through).await;
        assert_eq!(proven.is_ok(), own, "{through}: {:?}", proven.err());
    }
}
