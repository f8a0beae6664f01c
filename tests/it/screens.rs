//! What each verb shows a person, pinned as insta snapshots: standard output, standard error
//! and the exit code of every verb off a terminal with colours off, on a small set of its own
//! (so the snapshots change only when the output does). What varies from run to run (URLs,
//! ports, paths, times, server versions, process ids) is replaced by a placeholder.

use crate::harness::*;
use std::path::Path;

/// A small shop: products, orders with an indexed foreign key, a column added later; row
/// level security everywhere, so that `verify` passes; one upkeep statement.
fn shop() -> TempSet {
    let set = TempSet::new(
        "shop",
        &[
            (
                "0001_products.up.sql",
                "CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL);\n\
                 ALTER TABLE products ENABLE ROW LEVEL SECURITY;\n",
            ),
            ("0001_products.down.sql", "DROP TABLE products;\n"),
            (
                "0002_orders.up.sql",
                "CREATE TABLE orders (id bigint PRIMARY KEY, product_id bigint NOT NULL REFERENCES products, qty int NOT NULL CHECK (qty > 0));\n\
                 CREATE INDEX orders_product_id ON orders (product_id);\n\
                 ALTER TABLE orders ENABLE ROW LEVEL SECURITY;\n",
            ),
            ("0002_orders.down.sql", "DROP TABLE orders;\n"),
            (
                "0003_order_notes.up.sql",
                "ALTER TABLE orders ADD COLUMN note text;\n",
            ),
            (
                "0003_order_notes.down.sql",
                "ALTER TABLE orders DROP COLUMN note;\n",
            ),
        ],
    );
    std::fs::write(
        &set.config,
        "[[set]]\nname = \"shop\"\ndir = \"shop\"\nmaintenance = [\"SELECT count(*) FROM products\"]\n",
    )
    .unwrap();
    set
}

/// The run, as a person saw it: the command, the exit code, then both streams.
fn screen(args: &str, out: &Output) -> String {
    format!(
        "$ migrate {args}\nexit code: {}\n--- stdout\n{}--- stderr\n{}",
        out.code, out.stdout, out.stderr
    )
}

/// Pins `out` as the snapshot `name`, with what varies replaced.
fn pin(name: &str, args: &str, out: &Output, dir: &Path) {
    let dir = regex_escape(&dir.display().to_string());
    // The fleet's table pads to the longest target name and time, which vary from run to
    // run: its runs of spaces are pinned as two.
    let padding = if name.starts_with("fleet") {
        (r"(\S)  +", "$1  ")
    } else {
        ("^$", "")
    };
    insta::with_settings!({
        filters => vec![
            (dir.as_str(), "[dir]"),
            (r"/tmp/[^\s:'`,)]+", "[tmp]"),
            (r"migrate_scratch_[a-z]+_[0-9a-z_]+", "[scratch]"),
            (r"migrate_test_[0-9_]+", "[db]"),
            (r"(127\.0\.0\.1|localhost):\d+", "$1:[port]"),
            (r"PostgreSQL \d+(\.\d+)?( \([^)]*\))?", "PostgreSQL [version]"),
            (r" from /\S+", " from [bindir]"),
            (r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d(:\d\d)?)?( UTC)?", "[time]"),
            (r"\b\d+(\.\d+)? ?(ms|s)\b", "[t]"),
            (r"\bpid \d+", "pid [pid]"),
            (r"\bport \d+", "port [port]"),
            padding,
        ],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(format!("screens__{name}"), screen(args, out));
    });
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `migrate --config <shop> ARGS` on `db`, off a terminal, colours and CI unset.
fn shop_run(db: &TestDb, set: &TempSet, args: &str) -> Output {
    run(db
        .migrate()
        .current_dir(&set.dir)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .args(["--config", "migrations.toml"])
        .args(args.split_whitespace()))
}

/// Every verb's human output, from a fresh database through drift to a full rollback.
#[tokio::test]
async fn every_verb_shows_what_it_did() {
    let set = shop();
    let db = TestDb::new().await;
    let dir = set.dir.clone();
    let step = |name: &str, db: &TestDb, args: &str, code: i32| {
        let out = shop_run(db, &set, args);
        assert_eq!(out.code, code, "{args}: {}{}", out.stdout, out.stderr);
        pin(name, args, &out, &dir);
    };
    step("status_fresh", &db, "status", 0);
    step("up_dry_run", &db, "up --dry-run", 0);
    step("up_to_2", &db, "up --to 2", 0);
    step("up", &db, "up", 0);
    step("status_applied", &db, "status", 0);
    step("snapshot", &db, "snapshot", 0);
    step("snapshot_check", &db, "snapshot --check", 0);
    step("verify", &db, "verify", 0);
    step("diff_clean", &db, "diff", 0);
    step("maintain", &db, "maintain", 0);
    step("verify_roundtrip", &db, "verify --roundtrip", 0);

    let mut c = db.conn().await;
    sqlx::raw_sql(
        "INSERT INTO products VALUES (1, 'lamp'), (2, 'desk');\n\
         INSERT INTO orders VALUES (1, 1, 2, 'gift');\n",
    )
    .execute(&mut c)
    .await
    .unwrap();
    step("down_dry_run", &db, "down --dry-run --to 0", 0);
    step("down_refused", &db, "down", 1);

    sqlx::raw_sql(
        "ALTER TABLE products ADD COLUMN colour text;\n\
         DROP INDEX orders_product_id;\n\
         ALTER TABLE orders DISABLE ROW LEVEL SECURITY;\n",
    )
    .execute(&mut c)
    .await
    .unwrap();
    step("diff_drift", &db, "diff", 1);
    step("diff_sql", &db, "diff --sql", 1);
    step("verify_drift", &db, "verify", 1);
    step("down_yes", &db, "down --yes --to 0", 0);

    let fresh = TestDb::new().await;
    step("bootstrap", &fresh, "bootstrap", 0);
    let exported = set.dir.join("exported");
    step(
        "export",
        &fresh,
        &format!("export --supabase {}", exported.display()),
        0,
    );

    let targets = set.dir.join("targets.txt");
    std::fs::write(&targets, format!("{}\n{}\n", fresh.url, db.url)).unwrap();
    // one at a time, so that the progress lines come in one order
    step(
        "fleet_status",
        &db,
        "--targets targets.txt --parallel 1 status",
        0,
    );
    step("sandbox", &db, "sandbox", 0);
    step(
        "unreachable",
        &db,
        "status --database-url postgres://someone:secret@127.0.0.1:1/shop",
        3,
    );
    step("usage", &db, "up --to soon", 2);
    // last: until its files hold SQL, the set does not load
    step("new", &db, "new shop add_customers --no-transaction", 0);
}

/// `adopt`'s output, on a database another tool (sqlx) migrated.
#[tokio::test]
async fn adopt_shows_what_it_took_over() {
    let set = shop();
    let db = TestDb::new().await;
    assert_eq!(shop_run(&db, &set, "up").code, 0);
    sqlx::raw_sql(
        "DROP SCHEMA migrate CASCADE;\n\
         CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL, installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, checksum bytea NOT NULL, execution_time bigint NOT NULL);\n\
         INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)\n\
         SELECT v, 'm', true, '\\x00', 1 FROM generate_series(1, 3) v;\n",
    )
    .execute(&mut db.conn().await)
    .await
    .unwrap();
    // without the committed catalogs there is nothing to check the database against: the
    // error names the file where this set's files are, not where the embedded sets' are
    let out = shop_run(&db, &set, "adopt --from sqlx");
    pin(
        "adopt_without_snapshot",
        "adopt --from sqlx",
        &out,
        &set.dir,
    );
    assert!(
        out.stderr.contains(" shop/expected_versions.txt"),
        "{}",
        out.stderr
    );
    let fresh = TestDb::new().await;
    assert_eq!(shop_run(&fresh, &set, "snapshot").code, 0);
    let out = shop_run(&db, &set, "adopt --from sqlx");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    pin("adopt", "adopt --from sqlx", &out, &set.dir);
}

/// No snapshot file outlives its test: every `.snap` under tests/it/snapshots is named by a
/// literal in the test file that writes it (diff.rs's case names, this file's screen names),
/// so a renamed or removed case fails here instead of leaving a stale file behind.
#[test]
fn every_snapshot_file_is_written_by_a_test() {
    let dir = crate_root().join("tests/it/snapshots");
    let source =
        |file: &str| std::fs::read_to_string(crate_root().join("tests/it").join(file)).unwrap();
    let (diff, screens) = (source("diff.rs"), source("screens.rs"));
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        // (a .snap.new is insta's pending review of a failing run, never committed)
        if file.ends_with(".snap.new") {
            continue;
        }
        let Some(stem) = file.strip_suffix(".snap") else {
            stale.push(file);
            continue;
        };
        let written = match (
            stem.strip_prefix("it__diff__"),
            stem.strip_prefix("screens__"),
        ) {
            (Some(name), _) => diff.contains(&format!("name: \"{name}\"")),
            (_, Some(name)) => screens.contains(&format!("\"{name}\"")),
            _ => false,
        };
        if !written {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "snapshots no test writes (remove them): {stale:?}"
    );
}
