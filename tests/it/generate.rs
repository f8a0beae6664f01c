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
