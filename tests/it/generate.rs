//! `migrate new SET NAME --from URL`: what the files say of data loss, and the refusals,
//! which write nothing. Each kind of change is a row of `tests/cases/generate.rs`.

use crate::harness::*;

#[tokio::test]
async fn data_loss_is_commented_out_and_refusals_write_nothing() {
    let (head, c) = migrated("witchcraft").await;
    drop(c);
    let scratch = admin_url();
    let desired = TestDb::copy_of(&head).await;
    let mut c = desired.conn().await;
    sqlx::raw_sql("CREATE TABLE pets (id bigint PRIMARY KEY)")
        .execute(&mut c)
        .await
        .unwrap();
    let dir = project_copy();
    let new = |extra: &[&str]| {
        run(desired
            .migrate()
            .current_dir(dir.path())
            .args(["new", "witchcraft", "add_pets", "--from", &desired.url])
            .args(["--scratch-url", &scratch])
            .args(extra))
    };
    // the down of an added table is a DROP, written commented out for review
    let out = new(&["--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["proof"], "pass");
    assert!(doc["creates"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("table pets")));
    let down = std::fs::read_to_string(dir.path().join("schema/witchcraft/0014_add_pets.down.sql"))
        .unwrap();
    assert!(
        down.contains(
            "-- data loss: dropping table pets deletes its rows\n-- DROP TABLE \"pets\";"
        ),
        "{down}"
    );
    assert!(!down.contains("SET search_path"), "{down}");
    assert!(
        out.stderr.is_empty() || !out.stderr.contains("error"),
        "{}",
        out.stderr
    );
    // until the DROP is reviewed and uncommented the set does not load, as for any
    // migration whose file holds no statement yet
    let out = new(&[]);
    assert_refused(&out, 2, "0014_add_pets.down.sql: contains no SQL statement");

    // another schema differs: refused, naming it and --schema; nothing written
    sqlx::raw_sql("CREATE SCHEMA side; CREATE TABLE side.notes (id integer)")
        .execute(&mut c)
        .await
        .unwrap();
    let dir = project_copy();
    let out = run(desired
        .migrate()
        .current_dir(dir.path())
        .args(["new", "witchcraft", "add_pets", "--from", &desired.url])
        .args(["--scratch-url", &scratch]));
    assert_refused(&out, 1, "pass --schema NAME");
    assert!(out.stderr.contains("table side.notes"), "{}", out.stderr);
    assert!(files_of(dir.path(), "witchcraft", "0014_").is_empty());
    // with --schema side the schema is the set's: generated
    let out = run(desired
        .migrate()
        .current_dir(dir.path())
        .args(["new", "witchcraft", "add_pets", "--from", &desired.url])
        .args(["--schema", "side", "--scratch-url", &scratch]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let up =
        std::fs::read_to_string(dir.path().join("schema/witchcraft/0014_add_pets.up.sql")).unwrap();
    assert!(up.contains("CREATE TABLE \"side\".\"notes\""), "{up}");

    // nothing differs: nothing to generate, nothing written
    let dir = project_copy();
    let out = run(head
        .migrate()
        .current_dir(dir.path())
        .args(["new", "witchcraft", "nothing", "--from", &head.url])
        .args(["--scratch-url", &scratch]));
    assert_refused(&out, 1, "there is nothing to generate");
    assert!(files_of(dir.path(), "witchcraft", "0014_").is_empty());
}

/// The declarative workflow: schema files (a folder, applied in name order) are the desired
/// state; `diff --from-file` reports where the migrations and the files disagree, `new
/// --from-file` writes the migration that makes them agree, and after its snapshot the
/// files and the migrations agree. A file that fails is named with its line.
#[tokio::test]
async fn schema_files_are_the_desired_state_of_new_and_diff() {
    let (head, c) = migrated("witchcraft").await;
    drop(c);
    let scratch = admin_url();
    let dump = std::process::Command::new(client("pg_dump"))
        .args([
            "--schema-only",
            "-n",
            "public",
            "-n",
            "witchcraft_auth",
            &head.url,
        ])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let files = tempfile::tempdir().unwrap();
    let text = String::from_utf8(dump.stdout)
        .unwrap()
        .replace("CREATE SCHEMA public;", "");
    std::fs::write(files.path().join("01_head.sql"), text).unwrap();
    std::fs::write(
        files.path().join("02_pets.sql"),
        "CREATE TABLE pets (id bigint PRIMARY KEY, name text NOT NULL);\nALTER TABLE pets ENABLE ROW LEVEL SECURITY;\n",
    )
    .unwrap();
    let folder = files.path().to_str().unwrap();
    let dir = project_copy();
    let migrate = |args: &[&str]| {
        run(head
            .migrate()
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .args(args)
            .args(["--scratch-url", &scratch]))
    };
    let out = migrate(&["--set", "witchcraft", "diff", "--from-file", folder]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("missing     table pets"),
        "{}",
        out.stdout
    );
    let out = migrate(&[
        "new",
        "witchcraft",
        "add_pets",
        "--from-file",
        folder,
        "--allow-data-loss",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("proof: PASS"), "{}", out.stdout);
    let out = migrate(&["--set", "witchcraft", "snapshot"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = migrate(&["--set", "witchcraft", "diff", "--from-file", folder]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // a file that fails is named, with its line
    std::fs::write(
        files.path().join("03_broken.sql"),
        "\nCREATE TABLE broken (id nosuchtype);\n",
    )
    .unwrap();
    let out = migrate(&["--set", "witchcraft", "diff", "--from-file", folder]);
    assert_refused(
        &out,
        2,
        "03_broken.sql line 2: type \"nosuchtype\" does not exist",
    );
}

/// A check on a table that exists at the head is added NOT VALID in a transaction and
/// validated in a second, no-transaction migration; lint's trace of both is printed (the
/// validation lets writes through), weighed against DATABASE_URL's tables when there is
/// one, and `--json` carries both. `--one-migration` keeps
/// everything in one transaction: the check added as it is, no second pair.
#[tokio::test]
async fn a_check_on_an_existing_table_is_validated_apart_unless_one_migration() {
    let (head, c) = migrated("witchcraft").await;
    drop(c);
    let scratch = admin_url();
    let desired = TestDb::copy_of(&head).await;
    let mut c = desired.conn().await;
    sqlx::raw_sql(
        "ALTER TABLE users ADD COLUMN age integer;
         ALTER TABLE users ADD CONSTRAINT users_age_adult CHECK (age >= 18)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let new = |dir: &std::path::Path, extra: &[&str]| {
        run(desired
            .migrate()
            .current_dir(dir)
            .args(["new", "witchcraft", "user_age", "--from", &desired.url])
            .args(["--scratch-url", &scratch, "--allow-data-loss"])
            .args(extra))
    };
    let dir = project_copy();
    let out = new(dir.path(), &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let read = |name: &str| {
        std::fs::read_to_string(dir.path().join("schema/witchcraft").join(name)).unwrap()
    };
    let up = read("0014_user_age.up.sql");
    assert!(
        up.contains("ADD CONSTRAINT \"users_age_adult\" CHECK (age >= 18) NOT VALID;"),
        "{up}"
    );
    let up2 = read("0015_user_age_concurrently.up.sql");
    assert!(up2.starts_with("-- migrate:no-transaction\n"), "{up2}");
    assert!(
        up2.contains("ALTER TABLE \"users\" VALIDATE CONSTRAINT \"users_age_adult\";"),
        "{up2}"
    );
    // lint's trace, weighed against the tables of DATABASE_URL (the harness gives the
    // desired database): the validation reads users under a lock that lets writes through
    assert!(
        out.stdout
            .contains("lint (weighed against the tables of --database-url)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("validates constraint users_age_adult on users by reading all of users under SHARE UPDATE EXCLUSIVE"),
        "{}",
        out.stdout
    );

    let dir = project_copy();
    let out = new(dir.path(), &["--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["concurrently"]["migration"], 15);
    assert_eq!(
        doc["concurrently"]["up_sql"][0],
        "ALTER TABLE \"users\" VALIDATE CONSTRAINT \"users_age_adult\";"
    );
    let traced: Vec<i64> = doc["lint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(traced, [14, 15]);
    assert_eq!(doc["lint_live_sizes"], true);

    // without a database to weigh against, the trace alone
    let dir = project_copy();
    let out = run(desired
        .migrate()
        .env_remove("DATABASE_URL")
        .current_dir(dir.path())
        .args(["new", "witchcraft", "user_age", "--from", &desired.url])
        .args([
            "--scratch-url",
            &scratch,
            "--allow-data-loss",
            "--one-migration",
        ]));
    assert!(
        out.stdout.contains("lint (without the live tables' sizes"),
        "{}",
        out.stdout
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(files_of(dir.path(), "witchcraft", "0015_").is_empty());
    let up =
        std::fs::read_to_string(dir.path().join("schema/witchcraft/0014_user_age.up.sql")).unwrap();
    assert!(
        up.contains("ADD CONSTRAINT \"users_age_adult\" CHECK (age >= 18);"),
        "{up}"
    );
    // lint sees the check read users under ACCESS EXCLUSIVE
    assert!(
        out.stdout.contains("validating-scan (line 4): validates constraint users_age_adult on users by reading all of users under ACCESS EXCLUSIVE"),
        "{}",
        out.stdout
    );
}
