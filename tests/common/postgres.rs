//! A PostgreSQL database of a test's own, on the server `.ci/postgres` starts.
//!
//! `KEYLEDGER_TEST_DATABASE` is that server's admin URL. Without it the PostgreSQL tests say
//! they are skipped and pass — unless `KEYLEDGER_REQUIRE_POSTGRES=1` (CI), where a missing
//! server fails them.
#![allow(dead_code)]

use sqlx::Connection as _;

/// The admin URL, or `None` (after saying so) when this machine runs no test server.
pub fn admin_url(test: &str) -> Option<String> {
    match std::env::var("KEYLEDGER_TEST_DATABASE") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("KEYLEDGER_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{test}: KEYLEDGER_TEST_DATABASE is not set, and KEYLEDGER_REQUIRE_POSTGRES=1"
            );
            eprintln!("{test}: skipped, KEYLEDGER_TEST_DATABASE is not set (see .ci/postgres)");
            None
        }
    }
}

/// A new, empty database on the test server: its URL. Made on a thread of its own, so
/// that sync and async callers alike can have one.
pub fn new_database(test: &str) -> Option<String> {
    let admin = admin_url(test)?;
    let name = format!("kltest_{}", uuid::Uuid::new_v4().simple());
    let url = with_database(&admin, &name);
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            })
    })
    .join()
    .unwrap();
    Some(url)
}

/// `url` with its database (the path) replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
