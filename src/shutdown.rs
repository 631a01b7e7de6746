//! Draining on SIGTERM / Ctrl-C. A load balancer or orchestrator needs time to take an
//! instance out of rotation, so the instance first goes unready (`/health/ready` 503) and
//! keeps serving for the drain period, closing each connection after its answer
//! (`Connection: close`): a proxy's keep-alive connections are retired while the instance
//! still answers, instead of being cut at stop with a request on them. Then it stops
//! accepting (`ListenerGate`) and lets in-flight requests finish.
//!
//! This module holds the flag, the signals and the gate, and says how to stop; the
//! `Connection: close` middleware is HTTP (`http::drain`), and the server itself is
//! stopped by whoever owns it (`startup`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Set once a stop signal arrived; shared by the readiness probe and the middleware that
/// closes connections while draining.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How the server is to stop once `stop_signal` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Let in-flight requests finish (within the server's shutdown timeout).
    Graceful,
    /// Drop everything at once (SIGQUIT).
    Immediate,
}

impl StopMode {
    /// The argument of actix's `ServerHandle::stop`.
    pub fn is_graceful(self) -> bool {
        self == Self::Graceful
    }
}

/// Waits for SIGTERM or SIGINT, drains for `drain`, closes the gate and says to stop
/// gracefully. A second signal ends the drain early; SIGQUIT stops at once, as actix's
/// own handling did. `None` when no signal can be listened for: then the default action
/// (exit) applies, and there is nothing to stop.
pub async fn stop_signal(
    draining: Draining,
    drain: Duration,
    gate: ListenerGate,
) -> Option<StopMode> {
    let mut signals = match Signals::listen() {
        Ok(signals) => signals,
        Err(err) => {
            // Without handlers the default action (exit) applies: no drain, but no hang.
            tracing::error!(%err, "cannot listen for stop signals");
            return None;
        }
    };
    let first = signals.next().await?;
    if first == Stop::Now {
        tracing::info!("SIGQUIT: stopping at once");
        return Some(StopMode::Immediate);
    }
    draining.start();
    tracing::info!(
        drain_secs = drain.as_secs(),
        "stop signal: draining (/health/ready answers 503, connections close after each answer)"
    );
    match tokio::time::timeout(drain, signals.next()).await {
        Ok(Some(Stop::Now)) => {
            tracing::info!("SIGQUIT while draining: stopping at once");
            return Some(StopMode::Immediate);
        }
        Ok(Some(Stop::Drain)) => tracing::info!("second stop signal: ending the drain early"),
        Ok(None) | Err(_) => {}
    }
    tracing::info!("drain over: no new connections; finishing in-flight requests");
    gate.close();
    tokio::time::sleep(GATE_QUIESCE).await;
    Some(StopMode::Graceful)
}

/// Between closing the gate and stopping: time for connections already established to be
/// accepted and their requests started, so that none is cut by the stop.
const GATE_QUIESCE: Duration = Duration::from_millis(500);

/// Stops new connections before the listener closes. Closing a listener resets the
/// connections still in its accept queue, and actix's graceful stop drops a connection
/// whose request has not started: a proxy has already written its request on those, so
/// it cannot retry a POST safely and answers 502. Instead a socket filter first drops
/// incoming connection attempts (the client's SYN retry about a second later meets the
/// closed listener: refused, which a proxy retries elsewhere), the queue empties, and
/// only then does the listener close.
pub struct ListenerGate(Option<std::net::TcpListener>);

impl ListenerGate {
    /// A gate on the listener the server is given (a second handle to the same socket).
    pub fn new(listener: &std::net::TcpListener) -> Self {
        match listener.try_clone() {
            Ok(listener) => Self(Some(listener)),
            Err(err) => {
                tracing::warn!(%err, "no listener gate: the stop may reset queued connections");
                Self(None)
            }
        }
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    /// Our handle is dropped on return, so the socket closes with the server's.
    fn close(self) {
        use std::os::fd::AsRawFd;
        let Some(listener) = self.0 else { return };
        // A classic BPF program of one instruction, "return 0": drop every packet.
        let mut drop_all = [libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let program = libc::sock_fprog {
            len: 1,
            filter: drop_all.as_mut_ptr(),
        };
        // SAFETY: the socket is open (we hold it) and `program` outlives the call, which
        // copies it into the kernel.
        let rc = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&program as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            tracing::warn!(%err, "cannot close the listener gate: the stop may reset queued connections");
        }
    }

    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    fn close(self) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Drain,
    Now,
}

/// SIGTERM, SIGINT and SIGQUIT as one stream, in arrival order.
struct Signals(mpsc::UnboundedReceiver<Stop>);

impl Signals {
    fn listen() -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        for (kind, stop) in [
            (SignalKind::terminate(), Stop::Drain),
            (SignalKind::interrupt(), Stop::Drain),
            (SignalKind::quit(), Stop::Now),
        ] {
            let mut stream = signal(kind)?;
            let tx = tx.clone();
            // On the server's own (single-threaded) runtime, as actix's spawn does.
            tokio::task::spawn_local(async move {
                while stream.recv().await.is_some() {
                    if tx.send(stop).is_err() {
                        return;
                    }
                }
            });
        }
        Ok(Self(rx))
    }

    async fn next(&mut self) -> Option<Stop> {
        self.0.recv().await
    }
}
