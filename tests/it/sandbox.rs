//! `migrate sandbox`: a throwaway server with every set applied, gone when the command ends
//! unless it is kept.

use crate::harness::*;
use sqlx::Connection;

fn sandbox(args: &[&str]) -> serde_json::Value {
    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(crate_root())
        .arg("sandbox")
        .arg("--json")
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[tokio::test]
async fn sandbox_applies_every_set_and_removes_the_server_on_exit() {
    let v = sandbox(&[]);
    let dbs = v["databases"].as_array().unwrap();
    let names: Vec<&str> = dbs.iter().map(|d| d["set"].as_str().unwrap()).collect();
    assert_eq!(names, ["aethercrown98", "witchcraft"]);
    let ac = &dbs[0]["status"];
    assert_eq!(
        ac["current_version"],
        embedded_set("aethercrown98").latest()
    );
    assert!(ac["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "applied"));
    let wc = &dbs[1]["status"];
    assert_eq!(wc["current_version"], embedded_set("witchcraft").latest());
    assert!(wc["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "applied"));
    assert_eq!(v["server"]["kept"], false);
    let dir = v["server"]["dir"].as_str().unwrap();
    assert!(!std::path::Path::new(dir).exists(), "{dir} was not removed");
    let url = dbs[0]["url"].as_str().unwrap();
    assert!(
        sqlx::PgConnection::connect(url).await.is_err(),
        "the server still answers"
    );
}

/// With -q the sandbox prints its status and URLs, and no progress.
#[test]
fn sandbox_quiet_prints_no_progress() {
    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(crate_root())
        .args(["-q", "sandbox", "--set", "witchcraft"])
        .env_remove("DATABASE_URL")
        .envs(test_bindir().map(|d| ("MIGRATE_PG_BINDIR", d)))
        .stdin(std::process::Stdio::null()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("witchcraft  postgres://"),
        "{}",
        out.stdout
    );
    for progress in ["starting a throwaway", "applied 0001", "server stopped"] {
        assert!(!out.stderr.contains(progress), "{}", out.stderr);
    }
}

#[tokio::test]
async fn sandbox_keep_leaves_a_server_running() {
    let v = sandbox(&["--keep", "--set", "aethercrown98"]);
    let url = v["databases"][0]["url"].as_str().unwrap();
    let dir = v["server"]["dir"].as_str().unwrap().to_string();
    let pid = v["server"]["pid"].as_i64().unwrap() as i32;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'ai_clones', 'ai_tasks', 'payments', 'activity_logs')").await,
        5
    );
    drop(c);
    // SAFETY: signalling the kept server this test started.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // SAFETY: signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn sandbox_runs_the_server_binaries_it_is_given() {
    let bindir = test_bindir().unwrap_or_else(|| migrate::cluster::find_bindir().unwrap());
    let v = sandbox(&[
        "--set",
        "witchcraft",
        "--pg-bindir",
        bindir.to_str().unwrap(),
    ]);
    assert_eq!(
        std::path::Path::new(v["server"]["bindir"].as_str().unwrap()),
        bindir
    );
    // The version the binaries report is the one the server runs.
    let out = std::process::Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .unwrap();
    let reported = String::from_utf8_lossy(&out.stdout);
    let version = v["server"]["version"].as_str().unwrap();
    let number = version.split_whitespace().next().unwrap();
    assert!(reported.contains(number), "{reported} / {version}");
    assert_eq!(
        v["databases"][0]["status"]["current_version"],
        embedded_set("witchcraft").latest()
    );

    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(crate_root())
        .args(["sandbox", "--pg-bindir", "/nonexistent/bin"])
        .stdin(std::process::Stdio::null()));
    assert_refused(
        &out,
        1,
        "/nonexistent/bin does not hold PostgreSQL's server binaries (initdb and postgres)",
    );
}

#[tokio::test]
async fn the_suite_runs_the_server_version_it_was_given() {
    // MIGRATE_TEST_PG_BINDIR picks the version under test (.ci/run: 16, 17 and 18 after the
    // full suite on 15); the servers of the suite must be that version.
    let bindir = test_bindir().unwrap_or_else(|| migrate::cluster::find_bindir().unwrap());
    let out = std::process::Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .unwrap();
    let reported = String::from_utf8_lossy(&out.stdout).to_string();
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let version: Vec<String> = strings(&mut c, "SELECT current_setting('server_version')").await;
    let number = version[0].split_whitespace().next().unwrap().to_string();
    if std::env::var_os("MIGRATE_TEST_DATABASE_URL").is_none() {
        assert!(
            reported.contains(&format!(" {number}")),
            "{reported} / {number}"
        );
    }
}

#[test]
fn sandbox_stops_and_removes_its_server_on_sigterm() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(crate_root())
        .args(["sandbox", "--set", "witchcraft"])
        .env_remove("DATABASE_URL")
        .envs(test_bindir().map(|d| ("MIGRATE_PG_BINDIR", d)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    // Signalled while it sets its server up (initdb takes longer than this).
    for line in lines.by_ref() {
        if line
            .unwrap()
            .contains("starting a throwaway PostgreSQL server")
        {
            break;
        }
    }
    let prefix = format!("migrate-pg-{pid}-");
    let dirs = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    };
    // the server's directory is there: initdb is running
    let started = std::time::Instant::now();
    while dirs().is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no server directory"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: signalling the child this test started.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{rest:?}");
    assert!(
        dirs().is_empty(),
        "the server directory is left: {:?}",
        dirs()
    );
}

/// A throwaway server's data directory is initdb's the first time, then a copy of the cached
/// one made by the same binaries: the second server starts from what the cache holds (a
/// setting written into the cached copy shows up in it) and works as the first did.
#[tokio::test]
async fn a_second_server_starts_from_the_cached_data_directory() {
    use migrate::cluster::{Cluster, ClusterOptions};
    let cache = temp_dir("initdb-cache");
    let opts = ClusterOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..cluster_options()
    };
    let first = Cluster::start(&opts).unwrap();
    let entries: Vec<std::path::PathBuf> = std::fs::read_dir(cache.path().join("initdb"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].join("PG_VERSION").is_file());
    assert!(!first.data_dir().join("migrate-cache-complete").exists());
    first.stop().unwrap();
    let conf = entries[0].join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\nmigrate.from_cache = 'yes'\n");
    std::fs::write(&conf, text).unwrap();

    let second = Cluster::start(&opts).unwrap();
    let mut c = sqlx::PgConnection::connect(&second.url("postgres"))
        .await
        .unwrap();
    let from: String = sqlx::query_scalar("SELECT current_setting('migrate.from_cache')")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(from, "yes");
    sqlx::raw_sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .execute(&mut c)
        .await
        .unwrap();
    drop(c);
    second.stop().unwrap();
}

/// A server asked to be in memory keeps its directory in `/dev/shm` when that is a tmpfs with
/// room (else in the temporary directory), with a smaller WAL; one not asked keeps it in the
/// temporary directory. Either works the same and is removed when stopped.
#[tokio::test]
async fn a_server_in_memory_keeps_its_directory_there_when_there_is_room() {
    use migrate::cluster::{memory_dir, Cluster, ClusterOptions};
    for in_memory in [true, false] {
        let server = Cluster::start(&ClusterOptions {
            in_memory,
            ..cluster_options()
        })
        .unwrap();
        let expected = match (in_memory, memory_dir()) {
            (true, Some(dir)) => dir,
            _ => std::env::temp_dir(),
        };
        let root = server.root().to_path_buf();
        assert_eq!(
            root.parent(),
            Some(expected.as_path()),
            "in memory: {in_memory}"
        );
        let mut c = sqlx::PgConnection::connect(&server.url("postgres"))
            .await
            .unwrap();
        let wal: String = sqlx::query_scalar("SHOW max_wal_size")
            .fetch_one(&mut c)
            .await
            .unwrap();
        let in_shm = root.starts_with("/dev/shm");
        assert_eq!(wal == "256MB", in_shm, "{root:?}: max_wal_size {wal}");
        sqlx::raw_sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
            .execute(&mut c)
            .await
            .unwrap();
        drop(c);
        server.stop().unwrap();
        assert!(!root.exists(), "{root:?}");
    }
    // on this kind of machine (Linux, a tmpfs of several GiB) the memory is used
    if let Ok(stat) = std::fs::metadata("/dev/shm") {
        let free = std::process::Command::new("df")
            .args(["--output=avail", "-B1", "/dev/shm"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.lines().nth(1)?.trim().parse::<u64>().ok());
        if stat.is_dir() && free.is_some_and(|f| f >= migrate::cluster::MEMORY_ROOM) {
            assert_eq!(memory_dir(), Some("/dev/shm".into()));
        }
    }
}
