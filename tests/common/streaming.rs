//! A PostgreSQL primary with a streaming replica of its own, for tests that need real
//! replication: a replica whose replay can be paused, a primary whose WAL writer can be
//! stalled. Built as `scripts/cluster` builds one (initdb, `pg_basebackup -R`, a second
//! postmaster on another port), under a temporary directory on free ports, with the
//! `storefront` database migrated; both servers stop and the directory goes on drop.
//!
//! Like `scripts/cluster`, the primary commits asynchronously (`synchronous_commit = off`),
//! so a commit is visible on the primary before its WAL has been written, let alone sent.
//! Nothing else flushes WAL unasked: autovacuum commits synchronously, and the background
//! writer and checkpoints flush WAL before writing pages; all three would end a stall.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};
use storefront::config::DatabaseUrl;
use storefront::db;

/// Where the PostgreSQL 15 server binaries are (`PG_BIN` overrides; CI has them here).
fn pg_bin() -> PathBuf {
    std::env::var_os("PG_BIN").map_or_else(
        || PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    )
}

pub struct StreamingPair {
    dir: PathBuf,
    primary_port: u16,
    replica_port: u16,
}

impl StreamingPair {
    /// Starts both servers; `None`, with a notice, on a machine without the PostgreSQL
    /// server binaries (CI has them, so there it fails instead).
    pub fn start() -> Option<Self> {
        if !pg_bin().join("initdb").exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have the PostgreSQL 15 server binaries in {}",
                pg_bin().display()
            );
            eprintln!(
                "skipped: no PostgreSQL server binaries in {}",
                pg_bin().display()
            );
            return None;
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "storefront-replica-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        let pair = Self {
            primary_port: free_port(),
            replica_port: free_port(),
            dir,
        };
        if is_root() {
            // PostgreSQL refuses to run as root; its processes run as user postgres.
            run(Command::new("chown").arg("postgres:").arg(&pair.dir));
        }
        pair.start_primary();
        pair.start_replica();
        Some(pair)
    }

    fn start_primary(&self) {
        let data = self.dir.join("primary");
        run(self.pg("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]));
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             wal_level = replica\nhot_standby = on\nfsync = off\nsynchronous_commit = off\n\
             autovacuum = off\nbgwriter_lru_maxpages = 0\ncheckpoint_timeout = 1h\n\
             max_wal_size = 1GB\nshared_buffers = 32MB\nmax_connections = 40\n",
            self.primary_port,
            self.dir.display()
        );
        append(&data.join("postgresql.conf"), &conf);
        self.pg_ctl_start("primary");
        let mut admin = connect(&self.url(self.primary_port, "postgres"));
        admin
            .batch_execute("CREATE DATABASE storefront")
            .expect("create the storefront database");
        db::run_pending_migrations(&mut self.primary())
            .expect("migrate the primary's storefront database");
    }

    fn start_replica(&self) {
        let data = self.dir.join("replica");
        run(self
            .pg("pg_basebackup")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
            .args(["--checkpoint=fast", "-p", &self.primary_port.to_string()])
            .arg("-D")
            .arg(&data));
        append(
            &data.join("postgresql.conf"),
            &format!("\nport = {}\n", self.replica_port),
        );
        self.pg_ctl_start("replica");
        let mut primary = self.primary();
        for _ in 0..300 {
            let streaming = diesel::select(diesel::dsl::sql::<Bool>(
                "EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming')",
            ))
            .get_result::<bool>(&mut primary)
            .expect("ask the primary for its replicas");
            if streaming {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the replica does not stream (log: {})",
            self.log("replica").display()
        );
    }

    fn pg_ctl_start(&self, name: &str) {
        run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.dir.join(name))
            .arg("-l")
            .arg(self.log(name))
            .args(["-w", "-t", "60", "start"]));
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// A command for PostgreSQL binary `name`, run as user postgres when we are root.
    fn pg(&self, name: &str) -> Command {
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(pg_bin().join(name));
            command
        } else {
            Command::new(pg_bin().join(name))
        };
        command.current_dir(&self.dir);
        command
    }

    fn url(&self, port: u16, database: &str) -> DatabaseUrl {
        DatabaseUrl::parse(&format!("postgres://postgres@127.0.0.1:{port}/{database}"))
            .expect("a postgres URL")
    }

    pub fn primary_url(&self) -> DatabaseUrl {
        self.url(self.primary_port, "storefront")
    }

    pub fn replica_url(&self) -> DatabaseUrl {
        self.url(self.replica_port, "storefront")
    }

    pub fn primary(&self) -> PgConnection {
        connect(&self.primary_url())
    }

    pub fn replica(&self) -> PgConnection {
        connect(&self.replica_url())
    }

    /// Stops replaying WAL on the replica (it still receives it); returns once paused.
    pub fn pause_replay(&self) {
        let mut replica = self.replica();
        replica
            .batch_execute("SELECT pg_wal_replay_pause()")
            .expect("pause replay");
        for _ in 0..300 {
            let state = diesel::select(diesel::dsl::sql::<Text>("pg_get_wal_replay_pause_state()"))
                .get_result::<String>(&mut replica)
                .expect("replay pause state");
            if state == "paused" {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("replay never paused");
    }

    pub fn resume_replay(&self) {
        self.replica()
            .batch_execute("SELECT pg_wal_replay_resume()")
            .expect("resume replay");
    }

    fn wal_writer_pid(&self) -> i32 {
        #[derive(QueryableByName)]
        struct Pid {
            #[diesel(sql_type = Integer)]
            pid: i32,
        }
        let Pid { pid } =
            diesel::sql_query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")
                .get_result(&mut self.primary())
                .expect("the primary's WAL writer");
        pid
    }
}

/// The primary's WAL writer stopped (`SIGSTOP`) until this is dropped (`SIGCONT`): while
/// it is, asynchronous commits stay in the primary's WAL buffers, visible there but
/// neither written nor sent, as on a machine too busy to schedule it.
pub struct WalWriterStall {
    pid: i32,
}

impl WalWriterStall {
    pub fn start(pair: &StreamingPair) -> Self {
        let stall = Self {
            pid: pair.wal_writer_pid(),
        };
        assert!(stall.signal(libc::SIGSTOP), "stop the WAL writer");
        stall
    }

    fn signal(&self, signal: libc::c_int) -> bool {
        // SAFETY: sending a signal has no memory-safety preconditions.
        unsafe { libc::kill(self.pid, signal) == 0 }
    }
}

impl Drop for WalWriterStall {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
    }
}

impl Drop for StreamingPair {
    fn drop(&mut self) {
        for name in ["replica", "primary"] {
            let _ = self
                .pg("pg_ctl")
                .arg("-D")
                .arg(self.dir.join(name))
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn connect(url: &DatabaseUrl) -> PgConnection {
    PgConnection::establish(url.expose()).unwrap_or_else(|err| panic!("connect to {url}: {err}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn run(command: &mut Command) {
    let output = command.output().expect("run a PostgreSQL command");
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .expect("append to postgresql.conf");
}
