//! Rebuild when a migration changes: `sqlx::migrate!` embeds the folder, and
//! without this cargo keeps a binary that lacks a new migration.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
