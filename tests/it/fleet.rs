//! `--targets FILE`: one command over 50 databases of one server, four of them broken in
//! different ways (unreachable, wrong password, a lock held by another session, a drifted
//! schema). The healthy ones are migrated, each broken one is reported with its own error,
//! `verify` flags the drift, no password reaches the output, and `--retry-failed` runs only
//! the targets that failed.

use crate::harness::*;
use migrate::cluster::{Cluster, ClusterOptions};
use sqlx::{Connection, PgConnection};
use std::collections::BTreeMap;

const DATABASES: usize = 50;
const WRONG: &str = "pa?ss-Word9";
const RIGHT: &str = "right-Pass-1";

/// `migrate --targets FILE ARGS...` with `--json`: its exit code and report, by target name.
fn fleet(file: &std::path::Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(crate_root())
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .arg("--json")
        .arg("--targets")
        .arg(file)
        .args(args));
    assert!(!out.stdout.contains(RIGHT) && !out.stderr.contains(RIGHT));
    let report = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, report, out.stderr)
}

fn by_name(report: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

fn targets_file(dir: &std::path::Path, entries: &[(String, String)]) -> std::path::PathBuf {
    let mut text = String::new();
    for (name, url) in entries {
        text.push_str(&format!("[[target]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
        // One target takes another set than the command line's.
        if name == "t01" {
            text.push_str("sets = [\"aethercrown98\"]\n");
        }
        text.push('\n');
    }
    let path = dir.join(format!("targets-{}.toml", unique_name("f")));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_fleet_is_migrated_in_one_command_and_only_its_failures_are_retried() {
    let dir = std::env::temp_dir().join(unique_name("migrate-fleet"));
    std::fs::create_dir_all(&dir).unwrap();
    let hba = dir.join("pg_hba.conf");
    std::fs::write(
        &hba,
        "host all fleet_pw 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\nlocal all all trust\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&hba, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Cluster::start(&ClusterOptions {
        settings: vec![("hba_file".into(), hba.display().to_string())],
        ..cluster_options()
    })
    .expect("a server for the fleet");
    let port = server.port();
    let url = |db: &str| format!("postgres://postgres@127.0.0.1:{port}/{db}");
    let mut admin = PgConnection::connect(&url("postgres")).await.unwrap();
    sqlx::raw_sql(&format!("CREATE ROLE fleet_pw LOGIN PASSWORD '{RIGHT}'"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut entries = Vec::new();
    for i in 0..DATABASES {
        let db = format!("fleet_{i:02}");
        sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
            .execute(&mut admin)
            .await
            .unwrap();
        entries.push((format!("t{i:02}"), url(&db)));
    }
    // Broken: nothing listens on a port just freed; a wrong password; a lock held by
    // another session; a drifted schema (which `up` finds nothing to do on).
    let closed = free_port();
    entries[46].1 = format!("postgres://postgres@127.0.0.1:{closed}/fleet_46");
    sqlx::raw_sql("ALTER DATABASE fleet_47 OWNER TO fleet_pw")
        .execute(&mut admin)
        .await
        .unwrap();
    let with_password = |pw: &str| format!("postgres://fleet_pw:{pw}@127.0.0.1:{port}/fleet_47");
    entries[47].1 = with_password(&WRONG.replace('?', "%3F"));
    let mut holder = PgConnection::connect(&url("fleet_48")).await.unwrap();
    migrate::engine::history::ensure(&mut holder).await.unwrap();
    hold_set_lock(&mut holder, "witchcraft").await;
    let drifted = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(crate_root())
        .env("DATABASE_URL", url("fleet_49"))
        .stdin(std::process::Stdio::null())
        .args(["--set", "witchcraft", "up"]));
    assert_eq!(drifted.code, 0, "{}", drifted.stderr);
    let mut c49 = PgConnection::connect(&url("fleet_49")).await.unwrap();
    sqlx::raw_sql("DROP INDEX idx_agent_sessions_user_active")
        .execute(&mut c49)
        .await
        .unwrap();
    let file = targets_file(&dir, &entries);

    let (code, report, progress) = fleet(
        &file,
        &[
            "--set",
            "witchcraft",
            "--lock-wait",
            "1s",
            "--parallel",
            "4",
            "up",
        ],
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["summary"]["total"], DATABASES);
    assert_eq!(report["summary"]["failed"], 3, "{report}");
    assert_eq!(report["summary"]["parallel"], 4);
    assert!(progress.contains("fleet: [50/50, 3 failed]"), "{progress}");
    let targets = by_name(&report);
    let latest = embedded_set("witchcraft").latest();
    for i in (0..46).chain([49]).filter(|i| *i != 1) {
        let t = &targets[&format!("t{i:02}")];
        assert_eq!(t["result"], "ok", "{t}");
        assert_eq!(t["sets"][0]["set"], "witchcraft", "{t}");
        assert_eq!(t["sets"][0]["after"], latest, "{t}");
    }
    let t01 = &targets["t01"]["sets"];
    assert_eq!(t01.as_array().unwrap().len(), 1, "{t01}");
    assert_eq!(t01[0]["set"], "aethercrown98");
    assert_eq!(t01[0]["after"], embedded_set("aethercrown98").latest());
    assert_eq!(targets["t00"]["sets"][0]["before"], 0);
    assert_eq!(
        targets["t00"]["sets"][0]["applied"]
            .as_array()
            .unwrap()
            .len() as i64,
        latest
    );
    assert_eq!(targets["t49"]["sets"][0]["applied"], serde_json::json!([]));
    let error = |name: &str| targets[name]["error"].as_str().unwrap_or("").to_string();
    assert!(
        error("t46").contains("Connection refused"),
        "{}",
        error("t46")
    );
    assert!(
        error("t47").contains("password authentication failed for user \"fleet_pw\""),
        "{}",
        error("t47")
    );
    assert!(
        error("t48").contains(
            "gave up waiting for the lock of set `witchcraft` after 1s; it is held by pid"
        ),
        "{}",
        error("t48")
    );
    // The healthy databases really are migrated, the broken ones untouched.
    for i in [0, 17, 45] {
        let mut c = PgConnection::connect(&url(&format!("fleet_{i:02}")))
            .await
            .unwrap();
        assert_eq!(
            scalar_i64(&mut c, "SELECT max(version) FROM migrate.history").await,
            latest
        );
    }
    assert_eq!(
        scalar_i64(&mut holder, "SELECT count(*) FROM migrate.history").await,
        0
    );

    // The other verbs, and the runs after the repairs, on the first eleven and the four
    // broken ones: the other healthy ones are alike, and each costs a `migrate` run a verb.
    let few: Vec<_> = entries[..11]
        .iter()
        .chain(&entries[46..])
        .cloned()
        .collect();
    let few_file = targets_file(&dir, &few);
    let (code, report, _) = fleet(&few_file, &["--set", "witchcraft", "verify"]);
    assert_eq!(code, 1);
    let targets = by_name(&report);
    assert_eq!(targets["t10"]["result"], "ok");
    assert_eq!(targets["t49"]["result"], "failed");
    assert!(
        targets["t49"]["error"]
            .as_str()
            .unwrap()
            .contains("catalog"),
        "{}",
        targets["t49"]
    );

    let (code, report, _) = fleet(&few_file, &["--set", "witchcraft", "diff"]);
    assert_eq!(code, 1);
    let targets = by_name(&report);
    assert_eq!(targets["t10"]["result"], "ok", "{}", targets["t10"]);
    assert!(
        targets["t49"]["error"]
            .as_str()
            .unwrap()
            .contains("witchcraft: drift, 1 missing"),
        "{}",
        targets["t49"]
    );
    let (code, report, _) = fleet(&few_file, &["--set", "witchcraft", "status"]);
    assert_eq!(code, 1, "the unreachable and the refused ones fail");
    assert_eq!(report["summary"]["total"], few.len());
    assert_eq!(by_name(&report)["t48"]["sets"][0]["after"], 0);

    // Repaired: the lock released, the right password; the retry runs only the three.
    release_set_lock(&mut holder, "witchcraft").await;
    let report_path = dir.join("first.json");
    let first = fleet(
        &few_file,
        &["--set", "witchcraft", "--lock-wait", "1s", "up"],
    );
    std::fs::write(&report_path, first.1.to_string()).unwrap();
    let (_, second, _) = (first.0, first.1, ());
    assert_eq!(
        second["summary"]["failed"], 2,
        "the lock is free now: {second}"
    );
    entries[47].1 = with_password(RIGHT);
    let fixed = targets_file(&dir, &entries);
    let (code, report, _) = fleet(
        &fixed,
        &[
            "--set",
            "witchcraft",
            "--retry-failed",
            report_path.to_str().unwrap(),
            "up",
        ],
    );
    assert_eq!(code, 1, "t46 is still unreachable: {report}");
    let targets = by_name(&report);
    assert_eq!(
        targets.keys().cloned().collect::<Vec<_>>(),
        ["t46", "t47"],
        "{report}"
    );
    assert_eq!(targets["t47"]["result"], "ok", "{report}");
    assert_eq!(targets["t46"]["result"], "failed");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

/// Ctrl-C did not stop a fleet: the task that sees signals was never polled while the
/// targets ran, so all of them were migrated (exit 0); sent to the process group, the
/// running child stopped but the targets not yet started were still migrated. Now the first
/// signal starts no new target, the running one rolls back, the report says which targets
/// finished, were interrupted or never started, the run exits 130, and `--retry-failed` on
/// its report migrates the rest.
#[tokio::test]
async fn ctrl_c_stops_a_fleet_and_the_report_resumes_it() {
    let set = TempSet::new(
        "slow",
        &[
            (
                "0001_slow.up.sql",
                "CREATE TABLE slow_t (id integer); SELECT pg_sleep(0.6);",
            ),
            ("0001_slow.down.sql", "DROP TABLE slow_t;"),
        ],
    );
    let mut dbs = Vec::new();
    let mut entries = Vec::new();
    for i in 0..8 {
        let db = TestDb::new().await;
        entries.push((format!("t{i}"), db.url.clone()));
        dbs.push(db);
    }
    let mut text = String::new();
    for (name, url) in &entries {
        text.push_str(&format!(
            "[[target]]\nname = \"{name}\"\nurl = \"{url}\"\n\n"
        ));
    }
    let targets = set.dir.join("targets.toml");
    std::fs::write(&targets, text).unwrap();
    let report = set.dir.join("report.json");
    let fleet = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_migrate"));
        cmd.current_dir(&set.dir)
            .env_remove("DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .args(["--json", "--config"])
            .arg(&set.config)
            .arg("--targets")
            .arg(&targets)
            .args(["--parallel", "1", "up"])
            .args(extra);
        cmd
    };
    let mut child = fleet(&[]).spawn().unwrap();
    // the first target done and the second started: its progress lines say so
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the fleet's progress");
        if line.contains("fleet: up t1 ...") {
            break;
        }
    }
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(130), "{stdout}{stderr}");
    std::fs::write(&report, &stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let results: Vec<String> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["result"].as_str().unwrap().to_string())
        .collect();
    let count = |r: &str| results.iter().filter(|x| *x == r).count();
    assert_eq!(count("ok"), 1, "{results:?}");
    assert_eq!(count("interrupted"), 1, "{results:?}");
    assert_eq!(count("not started"), 8 - count("ok") - 1, "{results:?}");
    assert_eq!(doc["summary"]["interrupted_by"], "SIGINT", "{stdout}");
    // what finished is migrated, the interrupted target rolled back, the rest untouched
    for (db, result) in dbs.iter().zip(&results) {
        let mut c = db.conn().await;
        let has: bool = sqlx::query_scalar("SELECT to_regclass('slow_t') IS NOT NULL")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(has, result == "ok", "{result}");
    }
    // the report resumes the run: only what did not finish runs, and all of it succeeds
    let out = fleet(&["--retry-failed", report.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["summary"]["total"], 8 - count("ok"), "{stdout}");
    for db in &dbs {
        let mut c = db.conn().await;
        let has: bool = sqlx::query_scalar("SELECT to_regclass('slow_t') IS NOT NULL")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert!(has);
    }
}
