//! `migrate new SET NAME --from URL`, one row per kind of change made to a database holding
//! Witchcraft's head: the pair is written only after its proof, applies with `up` to a
//! database at the head, leaves no drift against the desired database (`diff --against`),
//! and `down` gives the head's catalog back (`diff` against the committed catalog).

use crate::harness::*;
use std::sync::OnceLock;

/// One kind of change, made on the desired database.
struct Change {
    kind: &'static str,
    sql: &'static str,
}

const CHANGES: &[Change] = &[
    Change {
        kind: "column added",
        sql: "ALTER TABLE users ADD COLUMN nickname text",
    },
    Change {
        kind: "column dropped",
        sql: "ALTER TABLE user_profiles DROP COLUMN bio",
    },
    Change {
        kind: "column type changed",
        sql: "ALTER TABLE ai_models ALTER COLUMN context_window TYPE bigint",
    },
    Change {
        kind: "column default",
        sql: "ALTER TABLE user_profiles ALTER COLUMN locale SET DEFAULT 'fr'",
    },
    Change {
        kind: "index",
        sql: "CREATE INDEX user_profiles_locale_idx ON user_profiles (locale)",
    },
    Change {
        kind: "check constraint",
        sql: "ALTER TABLE users ADD CONSTRAINT users_name_short CHECK (length(name) < 500)",
    },
    Change {
        kind: "table",
        sql: "CREATE TABLE pets (id bigint PRIMARY KEY, owner_id bigint NOT NULL REFERENCES users (id), name text NOT NULL);
              ALTER TABLE pets ENABLE ROW LEVEL SECURITY",
    },
    Change {
        kind: "function",
        sql: "CREATE FUNCTION twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE RETURN x * 2",
    },
    Change {
        kind: "view",
        sql: "CREATE VIEW active_models WITH (security_invoker = true) AS SELECT id, name FROM ai_models WHERE is_active",
    },
    Change {
        kind: "policy",
        sql: "CREATE POLICY ai_models_none ON ai_models AS RESTRICTIVE FOR DELETE USING (false)",
    },
    Change {
        kind: "comment",
        sql: "COMMENT ON TABLE users IS 'people who sign in'",
    },
];

/// A database at Witchcraft's head, copied for each row.
fn head() -> &'static TestDb {
    static HEAD: OnceLock<TestDb> = OnceLock::new();
    HEAD.get_or_init(|| {
        block_on(|| async {
            let (db, c) = migrated("witchcraft").await;
            drop(c);
            db
        })
    })
}

/// Every kind of change, named `generate::` and the kind.
pub fn trials() -> Vec<libtest_mimic::Trial> {
    CHANGES
        .iter()
        .map(|c| crate::case(format!("generate::{}", c.kind), move || a_change(c)))
        .collect()
}

async fn a_change(change: &'static Change) {
    let head = head();
    let scratch = admin_url();
    let desired = TestDb::copy_of(head).await;
    let mut c = desired.conn().await;
    sqlx::raw_sql(change.sql).execute(&mut c).await.unwrap();
    drop(c);
    let dir = project_copy();
    let target = TestDb::copy_of(head).await;
    let out = run(target
        .migrate()
        .current_dir(dir.path())
        .args(["new", "witchcraft", "change", "--from", &desired.url])
        .args(["--allow-data-loss", "--scratch-url", &scratch]));
    assert!(
        out.code == 0 && out.stdout.contains("proof: PASS"),
        "new: {}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        files_of(dir.path(), "witchcraft", "0014_"),
        ["0014_change.down.sql", "0014_change.up.sql"]
    );
    let up =
        std::fs::read_to_string(dir.path().join("schema/witchcraft/0014_change.up.sql")).unwrap();
    let steps: [&[&str]; 4] = [
        &["up"],
        &["diff", "--against", &desired.url],
        &["down", "--yes"],
        &["diff"],
    ];
    for args in steps {
        let out = run(target
            .migrate()
            .current_dir(dir.path())
            .args(["--set", "witchcraft"])
            .args(args));
        assert_eq!(
            out.code, 0,
            "{args:?}:\n{}{}\nup:\n{up}",
            out.stdout, out.stderr
        );
    }
}
