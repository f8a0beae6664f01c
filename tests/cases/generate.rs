//! `migrate new SET NAME --from URL`, one row per kind of change made to a database holding
//! Witchcraft's head: the pair is written only after its proof, applies with `up` to a
//! database at the head, leaves no drift against the desired database (`diff --against`),
//! and `down` gives the head's catalog back (`diff` against the committed catalog).

use crate::harness::*;

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
    Change {
        kind: "enum type",
        sql: "CREATE TYPE mood AS ENUM ('calm', 'busy'); ALTER TABLE user_profiles ADD COLUMN mood mood",
    },
    Change {
        kind: "sequence",
        sql: "CREATE SEQUENCE ticket_numbers START 1000",
    },
    Change {
        kind: "trigger",
        sql: "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
              CREATE TRIGGER user_profiles_touch BEFORE UPDATE ON user_profiles FOR EACH ROW EXECUTE FUNCTION touch()",
    },
    Change {
        kind: "grant",
        sql: "GRANT SELECT ON ai_models TO PUBLIC",
    },
    Change {
        kind: "revoke",
        sql: "REVOKE SELECT ON ai_providers FROM anon",
    },
    Change {
        kind: "partition",
        sql: "CREATE TABLE ai_usage_requests_archive PARTITION OF ai_usage_requests FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
              ALTER TABLE ai_usage_requests_archive ENABLE ROW LEVEL SECURITY",
    },
    Change {
        kind: "materialized view",
        sql: "CREATE MATERIALIZED VIEW model_names AS SELECT id, name FROM ai_models",
    },
    Change {
        kind: "not null",
        sql: "ALTER TABLE user_profiles ALTER COLUMN display_name SET NOT NULL",
    },
    Change {
        kind: "unique constraint",
        sql: "ALTER TABLE ai_models ADD CONSTRAINT ai_models_display_name_key UNIQUE (display_name)",
    },
    Change {
        kind: "foreign key",
        sql: "ALTER TABLE user_profiles ADD COLUMN referred_by bigint REFERENCES users (id)",
    },
    Change {
        kind: "function body",
        sql: "CREATE FUNCTION twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE RETURN x * 2;
              CREATE OR REPLACE FUNCTION twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE RETURN x + x",
    },
    Change {
        kind: "column renamed",
        sql: "ALTER TABLE user_profiles RENAME COLUMN avatar_url TO picture_url",
    },
];

/// The kinds whose change reads a table that exists at the head, and what a no-transaction
/// migration must then do (up, down) instead of the transactional one: the second migration
/// (0015), or 0014 itself when nothing else is left for a transaction (`true`). Every other
/// kind fits in 0014, in a transaction.
const CONCURRENTLY: &[(&str, &[&str], &[&str], bool)] = &[
    (
        "index",
        &["CREATE INDEX CONCURRENTLY IF NOT EXISTS user_profiles_locale_idx ON user_profiles"],
        &["DROP INDEX CONCURRENTLY IF EXISTS \"user_profiles_locale_idx\";"],
        true,
    ),
    (
        "check constraint",
        &["ALTER TABLE \"users\" VALIDATE CONSTRAINT \"users_name_short\";"],
        &["ADD CONSTRAINT \"users_name_short\" CHECK (length(name) < 500) NOT VALID;"],
        false,
    ),
    (
        "foreign key",
        &["ALTER TABLE \"user_profiles\" VALIDATE CONSTRAINT \"user_profiles_referred_by_fkey\";"],
        &["ADD CONSTRAINT \"user_profiles_referred_by_fkey\" FOREIGN KEY (referred_by) REFERENCES users(id) NOT VALID;"],
        false,
    ),
    (
        "not null",
        &[
            "ALTER TABLE \"user_profiles\" VALIDATE CONSTRAINT \"migrate_display_name_not_null\";\nALTER TABLE \"user_profiles\" ALTER COLUMN \"display_name\" SET NOT NULL;\nALTER TABLE \"user_profiles\" DROP CONSTRAINT \"migrate_display_name_not_null\";",
        ],
        &[
            "ALTER TABLE \"user_profiles\" ALTER COLUMN \"display_name\" DROP NOT NULL;\nALTER TABLE \"user_profiles\" ADD CONSTRAINT \"migrate_display_name_not_null\" CHECK (\"display_name\" IS NOT NULL) NOT VALID;",
        ],
        false,
    ),
    (
        "unique constraint",
        &[
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"ai_models_display_name_key\" ON \"ai_models\" (display_name);",
            "ALTER TABLE \"ai_models\" ADD CONSTRAINT \"ai_models_display_name_key\" UNIQUE USING INDEX \"ai_models_display_name_key\";",
        ],
        &["ALTER TABLE \"ai_models\" DROP CONSTRAINT IF EXISTS \"ai_models_display_name_key\";"],
        true,
    ),
];

/// A database at Witchcraft's head, copied for each row.
fn head() -> &'static TestDb {
    applied_once(Mode::Plain, "witchcraft")
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
    let read = |file: &str| {
        std::fs::read_to_string(dir.path().join("schema/witchcraft").join(file)).unwrap()
    };
    let up = read("0014_change.up.sql");
    let second = files_of(dir.path(), "witchcraft", "0015_");
    match CONCURRENTLY.iter().find(|(kind, ..)| *kind == change.kind) {
        Some((_, ups, downs, alone)) => {
            let (up2, down2) = if *alone {
                assert!(second.is_empty(), "{second:?}");
                (up.clone(), read("0014_change.down.sql"))
            } else {
                assert_eq!(
                    second,
                    [
                        "0015_change_concurrently.down.sql",
                        "0015_change_concurrently.up.sql"
                    ],
                    "{}",
                    out.stdout
                );
                assert!(out
                    .stdout
                    .contains("0015_change_concurrently runs without a transaction"));
                assert!(
                    !up.starts_with("-- migrate:no-transaction") && up.contains(" NOT VALID;"),
                    "{up}"
                );
                (
                    read("0015_change_concurrently.up.sql"),
                    read("0015_change_concurrently.down.sql"),
                )
            };
            for (text, wanted) in [(&up2, ups), (&down2, downs)] {
                assert!(text.starts_with("-- migrate:no-transaction\n"), "{text}");
                for w in wanted.iter() {
                    assert!(text.contains(w), "{w} not in\n{text}");
                }
            }
        }
        None => {
            assert!(second.is_empty(), "{second:?}\n{}", out.stdout);
            assert!(!up.starts_with("-- migrate:no-transaction"), "{up}");
        }
    }
    if change.kind == "column renamed" {
        // a drop and an add of the same definition: a rename, which keeps the values
        assert!(
            up.contains(
                "ALTER TABLE \"user_profiles\" RENAME COLUMN \"avatar_url\" TO \"picture_url\";"
            ) && !up.contains("data loss"),
            "{up}"
        );
        assert!(
            read("0014_change.down.sql").contains(
                "ALTER TABLE \"user_profiles\" RENAME COLUMN \"picture_url\" TO \"avatar_url\";"
            ),
            "{}",
            read("0014_change.down.sql")
        );
    }
    let steps: [&[&str]; 4] = [
        &["up"],
        &["diff", "--against", &desired.url],
        &["down", "--to", "13", "--yes"],
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
