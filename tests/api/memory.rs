//! Memory of the real binary under a burst of password hashing (DESIGN §5: resident size
//! under 64 MiB, bursts of registrations and logins included). Memory, unlike time, is
//! not noisy on a shared machine, so a bound with a generous margin is a test.

use futures_util::stream::{self, StreamExt};

use crate::binary::start_binary;
use crate::common::TestDb;

/// Peak and current resident size of a process, in KiB, from /proc.
fn resident_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_burst_keeps_resident_memory_bounded() {
    let db = TestDb::new();
    // Many blocking threads, as a busy deployment would have: each one that ever hashed
    // used to keep its own 19 MiB.
    let (mut server, base) = start_binary(
        &db,
        &[
            ("WORKERS", "2"),
            ("BLOCKING_THREADS_PER_WORKER", "16"),
            ("REGISTRATION_MAX_PER_ADDRESS", "100000"),
            ("PASSWORD_QUEUE_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    // Idle size with the pool and worker threads warmed up by a few plain requests.
    for _ in 0..20 {
        let _ = client.get(format!("{base}/api/v1/products")).send().await;
    }
    let (_, idle_kib) = resident_kib(server.id());
    // Two bursts: the first frees its work areas; the second allocates them again, where
    // the allocator may put them somewhere freeing does not give back.
    let mut statuses: Vec<u16> = Vec::new();
    for burst in 0..2 {
        statuses.extend(
            stream::iter(0..50)
                .map(|n| {
                    let request = client
                        .post(format!("{base}/api/v1/users"))
                        .json(&serde_json::json!({
                            "username": format!("burst{burst}_{n}"),
                            "email": format!("burst{burst}_{n}@example.com"),
                            "password": "correct horse",
                        }))
                        .send();
                    async move { request.await.map(|r| r.status().as_u16()).unwrap_or(0) }
                })
                .buffer_unordered(32)
                .collect::<Vec<u16>>()
                .await,
        );
    }
    let (peak_kib, after_kib) = resident_kib(server.id());
    let _ = server.kill();
    let _ = server.wait();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    eprintln!(
        "resident around 100 registrations: idle {idle_kib} KiB, peak {peak_kib} KiB, \
         after {after_kib} KiB"
    );
    // Two permits x 19 MiB of argon2 memory plus the service itself: far under 128 MiB.
    assert!(peak_kib < 128 * 1024, "peak resident {peak_kib} KiB");
    // And the work areas go back once the burst is over (keeping even one would be
    // 19 MiB more than idle).
    assert!(
        after_kib < idle_kib + 12 * 1024,
        "resident {after_kib} KiB after the burst, {idle_kib} KiB idle before it"
    );
}
