//! Re-embed migrations whenever a file under migrations/ changes, so `embed_migrations!`
//! never ships stale SQL; and record the SHA-256 of each migration's up.sql (the bytes
//! `embed_migrations!` embeds) for the checksum check (src/db/checksums.rs).

use std::fmt::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let mut entries: Vec<(String, String)> = std::fs::read_dir("migrations")
        .expect("migrations/ exists")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("up.sql").is_file())
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let up = std::fs::read(entry.path().join("up.sql")).expect("readable up.sql");
            println!(
                "cargo:rerun-if-changed={}",
                entry.path().join("up.sql").display()
            );
            let digest = Sha256::digest(&up);
            let hex = digest.iter().fold(String::new(), |mut out, byte| {
                let _ = write!(out, "{byte:02x}");
                out
            });
            // Diesel's version: the name's leading part, dashes removed.
            let version: String = name
                .split('_')
                .next()
                .unwrap_or_default()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            (version, hex)
        })
        .collect();
    entries.sort();
    let table = entries
        .iter()
        .map(|(version, hex)| format!("    (\"{version}\", \"{hex}\"),\n"))
        .collect::<String>();
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migration_checksums.rs");
    std::fs::write(
        out,
        format!("/// (version, SHA-256 of up.sql) of every embedded migration.\npub const EMBEDDED_CHECKSUMS: &[(&str, &str)] = &[\n{table}];\n"),
    )
    .expect("write migration_checksums.rs");
}
