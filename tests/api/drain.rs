//! Draining on SIGTERM / Ctrl-C, seen from outside the binary: unready at once, still
//! serving (new connections too) with `Connection: close` until the drain ends, then
//! stopped with exit code 0.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::binary::{start_binary, until_refusing_connections};
use crate::common::TestDb;

/// The server process, killed if a failed assertion leaves it running (its drain may be
/// long).
struct Server(Option<std::process::Child>);

impl Server {
    fn signal(&self, signal: i32) {
        let id = self.0.as_ref().map_or(0, std::process::Child::id);
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(id as i32, signal) };
    }

    fn is_running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|child| child.try_wait().unwrap().is_none())
    }

    /// Waits for the process to end: its exit status and what it wrote to stderr (read
    /// to the end, so a failed exit shows why).
    async fn exit_status(mut self) -> (std::process::ExitStatus, String) {
        use std::io::Read;

        let mut child = self.0.take().unwrap();
        tokio::task::spawn_blocking(move || {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            (child.wait().unwrap(), stderr)
        })
        .await
        .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP/1.1 GET on an open connection; the response head, lower-cased, and whether
/// the server closed the connection after it.
async fn get_on(stream: &mut TcpStream, path: &str) -> (String, bool) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: storefront\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap());
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    // After a `Connection: close` answer the server closes: the next read sees EOF.
    let closed = if head.contains("\r\nconnection: close\r\n") {
        let mut rest = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut rest)).await;
        matches!(read, Ok(Ok(0)))
    } else {
        false
    };
    (head, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_readiness_503_at_once_while_everything_else_is_served_until_the_drain_ends()
{
    let db = TestDb::new();
    // A drain far longer than the test: it ends with a second signal (Ctrl-C), so nothing
    // here depends on how fast the machine is.
    let (server, base) =
        start_binary(&db, &[("SHUTDOWN_DRAIN_SECS", "300"), ("RUST_LOG", "warn")]).await;
    let mut server = Server(Some(server));
    let client = reqwest::Client::new();
    // A keep-alive connection opened before the signal, as a proxy keeps one.
    let mut kept = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let (head, closed) = get_on(&mut kept, "/health/live").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close") && !closed, "{head}");

    server.signal(libc::SIGTERM);
    // 200 until the signal is handled, then 503; never refused (the listener stays open).
    let deadline = Instant::now() + Duration::from_secs(30);
    let unready = loop {
        let response = client
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .expect("/health/ready answers while draining");
        if response.status() == 503 {
            break response;
        }
        assert_eq!(response.status(), 200);
        assert!(
            Instant::now() < deadline,
            "/health/ready still 200 after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        unready.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = unready.json().await.unwrap();
    assert_eq!(problem["code"], "service_unavailable");
    assert!(
        problem["detail"].as_str().unwrap().contains("draining"),
        "{problem}"
    );

    // Reads and writes are still served, on new connections, each closing its own.
    let listed = client
        .get(format!("{base}/api/v1/products"))
        .send()
        .await
        .expect("a new connection while draining");
    assert_eq!(listed.status(), 200);
    assert_eq!(listed.headers()["connection"], "close");
    let registered = client
        .post(format!("{base}/api/v1/users"))
        .json(&serde_json::json!({"username": "late_lee", "email": "lee@example.com", "password": "correct horse"}))
        .send()
        .await
        .expect("a write while draining");
    assert_eq!(registered.status(), 201);
    assert_eq!(registered.headers()["connection"], "close");
    // The connection from before the signal: answered once more, then closed by the server.
    let (head, closed) = get_on(&mut kept, "/health/live").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        closed,
        "the server closed the kept-alive connection after its answer"
    );
    assert!(server.is_running());

    // The second signal ends the drain: the listener closes and the process exits 0.
    server.signal(libc::SIGINT);
    until_refusing_connections(&base).await;
    let (status, stderr) = server.exit_status().await;
    assert!(
        status.success(),
        "exit status {status:?}; stderr:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_ctrl_c_the_drain_ends_by_itself_and_the_process_exits_0() {
    let db = TestDb::new();
    let (server, base) =
        start_binary(&db, &[("SHUTDOWN_DRAIN_SECS", "1"), ("RUST_LOG", "warn")]).await;
    let server = Server(Some(server));
    server.signal(libc::SIGINT);
    // No second signal: the drain period alone ends it.
    until_refusing_connections(&base).await;
    let (status, stderr) = server.exit_status().await;
    assert!(
        status.success(),
        "exit status {status:?}; stderr:\n{stderr}"
    );
}
