// Re-embed migrations whenever a file under migrations/ changes, so `embed_migrations!`
// never ships stale SQL.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
