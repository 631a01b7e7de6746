//! Memory of the real binary over a process's life of password-hashing bursts (DESIGN §5:
//! resident size under 64 MiB under load, bursts of registrations and logins included, and
//! back near idle afterwards). Memory, unlike time, is not noisy on a shared machine, so a
//! bound with a generous margin is a test.
//!
//! The bounds are on anonymous memory (heap, stacks, mappings): what the service allocates
//! and what used to grow. File-backed pages are the binary's own code, shared and
//! reclaimable, and their size is the build's: 29 MiB for this debug build, 16 MiB for the
//! release build, whose total peak over the same bursts is 61 MiB.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::binary::start_binary;
use crate::common::TestDb;

const KIB_PER_MIB: u64 = 1024;
/// One argon2 work area (m = 19 MiB).
const AREA_KIB: u64 = 19 * KIB_PER_MIB;
/// Password-hashing permits: one per worker, and the server is started with two.
const PERMITS: u64 = 2;
const BURSTS: usize = 6;
const PER_BURST: usize = 40;

/// A field of /proc/<pid>/status, in KiB.
fn status_kib(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
}

fn anonymous_kib(pid: u32) -> u64 {
    status_kib(pid, "RssAnon:")
}

/// The highest anonymous resident size seen while it runs: the kernel keeps a peak only of
/// the total (VmHWM), so a thread samples every few milliseconds. An argon2 work area
/// lives for a whole burst, far longer than the sampling period.
struct PeakSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakSampler {
    fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (peak, stop) = (peak.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(anonymous_kib(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        Self { peak, stop, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.peak.load(Ordering::Relaxed)
    }
}

/// Statuses of `PER_BURST` concurrent posts of the bodies `body(n)` make.
async fn concurrently(
    client: &reqwest::Client,
    url: &str,
    body: impl Fn(usize) -> serde_json::Value,
) -> Vec<u16> {
    stream::iter(0..PER_BURST)
        .map(|n| {
            let request = client.post(url).json(&body(n)).send();
            async move { request.await.map(|r| r.status().as_u16()).unwrap_or(0) }
        })
        .buffer_unordered(32)
        .collect()
        .await
}

/// What a shop does between bursts: browsing, a guest cart and its reads.
async fn other_api_work(client: &reqwest::Client, base: &str) {
    for _ in 0..20 {
        let _ = client
            .get(format!("{base}/api/v1/products?limit=20"))
            .send()
            .await;
    }
    let guest: serde_json::Value = client
        .post(format!("{base}/api/v1/guest-carts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = guest["token"].as_str().unwrap();
    for _ in 0..5 {
        let cart = client
            .get(format!("{base}/api/v1/cart"))
            .header("x-cart-token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(cart.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_password_bursts_keep_resident_memory_bounded_and_return_it() {
    let db = TestDb::new();
    // Many blocking threads, as a busy deployment would have: each thread heap that ever
    // held a work area used to keep it.
    let (mut server, base) = start_binary(
        &db,
        &[
            ("WORKERS", "2"),
            ("BLOCKING_THREADS_PER_WORKER", "16"),
            ("REGISTRATION_MAX_PER_ADDRESS", "100000"),
            ("GUEST_CART_MAX_PER_ADDRESS", "100000"),
            ("PASSWORD_QUEUE_TIMEOUT_MS", "60000"),
            // The request log would fill the unread stderr pipe and stall the server.
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let pid = server.id();
    let client = reqwest::Client::new();
    // Idle size with the pool, the worker threads and the request paths warmed up.
    other_api_work(&client, &base).await;
    let idle_kib = anonymous_kib(pid);

    let sampler = PeakSampler::start(pid);
    let mut after_kib = Vec::new();
    let mut statuses: Vec<u16> = Vec::new();
    for burst in 0..BURSTS {
        let name = move |n: usize| format!("burst{burst}_{n}");
        statuses.extend(
            concurrently(&client, &format!("{base}/api/v1/users"), |n| {
                serde_json::json!({
                    "username": name(n),
                    "email": format!("{}@example.com", name(n)),
                    "password": "correct horse",
                })
            })
            .await,
        );
        statuses.extend(
            concurrently(
                &client,
                &format!("{base}/api/v1/sessions"),
                |n| serde_json::json!({"login": name(n), "password": "correct horse"}),
            )
            .await
            .into_iter()
            // 200 from a login, shown as 201 so one check covers both kinds of request.
            .map(|status| if status == 200 { 201 } else { status }),
        );
        other_api_work(&client, &base).await;
        after_kib.push(anonymous_kib(pid));
    }
    let peak_kib = sampler.finish();
    let total_peak_kib = status_kib(pid, "VmHWM:");
    let _ = server.kill();
    let _ = server.wait();

    eprintln!(
        "anonymous resident over {BURSTS} bursts of {PER_BURST} sign-ups + {PER_BURST} logins: \
         idle {idle_kib} KiB, peak {peak_kib} KiB, after each burst {after_kib:?} KiB; \
         total peak (VmHWM, code pages included) {total_peak_kib} KiB"
    );
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    // At most one work area per permit, plus a little for the requests in flight; one area
    // kept over from an earlier burst would be 19 MiB more.
    let ceiling_kib = idle_kib + PERMITS * AREA_KIB + 8 * KIB_PER_MIB;
    assert!(
        peak_kib < ceiling_kib,
        "peak anonymous resident {peak_kib} KiB, over {ceiling_kib} KiB ({idle_kib} KiB idle \
         + {PERMITS} work areas + 8 MiB)"
    );
    assert!(
        peak_kib < 56 * KIB_PER_MIB,
        "peak anonymous resident {peak_kib} KiB"
    );
    // After every burst the areas are gone: back within a few MiB of idle (sessions,
    // caches and allocator slack), never an area's 19 MiB.
    for (burst, kib) in after_kib.iter().enumerate() {
        assert!(
            *kib < idle_kib + 4 * KIB_PER_MIB,
            "anonymous resident {kib} KiB after burst {burst}, {idle_kib} KiB idle before the first"
        );
    }
}
