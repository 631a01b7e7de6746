//! A loopback TCP proxy in front of the test PostgreSQL that a test can switch off and on:
//! "the database went away" without stopping the machine's shared server. Off, it closes
//! new connections at once and cuts every connection it was carrying.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use storefront::config::DatabaseUrl;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct DbProxy {
    pub port: u16,
    upstream: String,
    enabled: Arc<AtomicBool>,
    /// Bumped on every switch-off; connections end when it changes.
    cut: watch::Sender<u64>,
}

impl DbProxy {
    /// Starts forwarding to the test server's host and port.
    pub async fn start(server: &DatabaseUrl) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let upstream = server.host_description();
        let enabled = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let proxy = Self {
            port,
            upstream: upstream.clone(),
            enabled: enabled.clone(),
            cut: cut.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !enabled.load(Ordering::Acquire) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut_signal = cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_signal.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    /// The same database URL, but through this proxy.
    pub fn url_for(&self, database: &DatabaseUrl) -> DatabaseUrl {
        let raw =
            database
                .expose()
                .replacen(&self.upstream, &format!("127.0.0.1:{}", self.port), 1);
        DatabaseUrl::parse(&raw).expect("proxied URL")
    }

    /// The database "goes away": new connections fail, open ones are cut.
    pub fn stop(&self) {
        self.enabled.store(false, Ordering::Release);
        self.cut.send_modify(|generation| *generation += 1);
    }

    /// The database "comes back".
    pub fn resume(&self) {
        self.enabled.store(true, Ordering::Release);
    }
}
