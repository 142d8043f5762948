//! Where the tests find PostgreSQL, and whether they may do without it.

/// The server the tests create their databases on: `ROSTER_TEST_POSTGRES_URL`,
/// or the local one with trust auth (a URL naming its `postgres` database).
pub fn admin_url() -> String {
    std::env::var("ROSTER_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether an unreachable PostgreSQL fails the tests that need it
/// (`ROSTER_TEST_REQUIRE_POSTGRES=1` or `true`, as CI sets) rather than
/// skipping them.
pub fn required() -> bool {
    std::env::var("ROSTER_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v == "true")
}
