//! Supabase's Security and Performance Advisors on each set, on the Supabase stand-in: no
//! lint of level WARN or ERROR fires on a set's own objects (tests/it/sql/advisors.sql holds
//! the lints, written from their documented definitions).

use crate::harness::*;

const ADVISORS: &str = include_str!("sql/advisors.sql");

async fn findings(c: &mut sqlx::PgConnection, schemas: &[&str]) -> Vec<String> {
    let schemas: Vec<String> = schemas.iter().map(|s| s.to_string()).collect();
    sqlx::query_scalar(ADVISORS)
        .bind(&schemas)
        .fetch_all(c)
        .await
        .unwrap()
}

#[tokio::test]
async fn witchcraft_passes_the_advisors() {
    let (_db, mut c) = migrated_in(Mode::Supabase, "witchcraft").await;
    let found = findings(&mut c, &["public", "witchcraft_auth"]).await;
    assert!(found.is_empty(), "{found:#?}");
}

#[tokio::test]
async fn aethercrown98_passes_the_advisors() {
    let (_db, mut c) = migrated_in(Mode::Supabase, "aethercrown98").await;
    let found = findings(&mut c, &["public"]).await;
    assert!(found.is_empty(), "{found:#?}");
}

/// The lints find what they are meant to: the findings that 0013 removed from Witchcraft
/// (17 overlapping policies, 2 functions without a pinned search_path) are there at 0012.
#[tokio::test]
async fn the_advisors_find_what_witchcraft_0013_fixed() {
    let db = TestDb::in_mode(Mode::Supabase).await;
    let mut c = db.conn().await;
    let set = embedded_set("witchcraft");
    migrate::engine::up(&mut c, &set, Some(12), "5s", &quiet)
        .await
        .unwrap();
    let found = findings(&mut c, &["public", "witchcraft_auth"]).await;
    let count = |lint: &str| found.iter().filter(|f| f.starts_with(lint)).count();
    assert_eq!(count("multiple_permissive_policies:"), 17, "{found:#?}");
    assert_eq!(count("function_search_path_mutable:"), 2, "{found:#?}");
    assert_eq!(found.len(), 19, "{found:#?}");
}
