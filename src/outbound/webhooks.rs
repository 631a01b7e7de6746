//! Webhooks to other systems' endpoints: Standard Webhooks v1 deliveries with a 10 s
//! timeout, and the guard that keeps them off this network. An endpoint that resolves to
//! a loopback, private, link-local or otherwise internal address is refused when it is
//! created ([`check_target`]) and again when a delivery connects (the client's resolver
//! drops such addresses, and an IP literal is checked before sending), so a name that
//! changes its address later cannot reach inside either. Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::WebhookSecret;

/// How long an endpoint has to answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `ip` is an address on the public internet (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                // 100.64.0.0/10, carrier-grade NAT.
                || (a == 100 && (64..128).contains(&b))
                // 198.18.0.0/15, benchmarking.
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7, unique local.
                || (first & 0xfe00) == 0xfc00
                // fe80::/10, link-local.
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Checks an endpoint URL as given: http or https, a host, and (unless `allow_private`)
/// every address it resolves to public. The complaint names what is wrong.
pub async fn check_target(raw: &str, allow_private: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|err| format!("is not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    let host = url
        .host_str()
        .ok_or_else(|| "must name a host".to_owned())?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if allow_private {
        return Ok(url);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| format!("host {host:?} does not resolve"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("host {host:?} does not resolve"));
    }
    if let Some(internal) = addresses.iter().find(|address| !is_public(address.ip())) {
        return Err(format!(
            "resolves to {}, a loopback, private or link-local address",
            internal.ip()
        ));
    }
    Ok(url)
}

/// A resolver that gives the client only public addresses.
#[derive(Debug)]
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| is_public(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// One delivery to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub url: &'a str,
    /// The event's id: the `webhook-id`.
    pub event_id: &'a str,
    pub body: &'a [u8],
    /// Every secret that signs it (two during a rotation's overlap).
    pub secrets: &'a [WebhookSecret],
    /// Unix seconds, the `webhook-timestamp`.
    pub timestamp: i64,
}

/// What the endpoint made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// A 2xx.
    Delivered(u16),
    /// 410 Gone: the endpoint asks to be disabled.
    Gone,
    /// Another status, no answer in time, or a refused target.
    Failed { status: Option<u16>, error: String },
}

/// The webhook client: one connection pool for every endpoint.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl WebhookSender {
    /// Fails only when the TLS backend cannot start.
    pub fn new(allow_private: bool) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(4);
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: builder.build()?,
            allow_private,
        })
    }

    /// Sends one delivery, Standard Webhooks v1. The answer's body is never read.
    pub async fn send(&self, outgoing: Outgoing<'_>) -> Sent {
        if !self.allow_private {
            if let Some(refusal) = literal_refusal(outgoing.url) {
                return Sent::Failed {
                    status: None,
                    error: refusal,
                };
            }
        }
        let signatures: Vec<String> = outgoing
            .secrets
            .iter()
            .map(|secret| secret.sign(outgoing.event_id, outgoing.timestamp, outgoing.body))
            .collect();
        let answer = self
            .client
            .post(outgoing.url)
            .header("content-type", "application/json")
            .header("webhook-id", outgoing.event_id)
            .header("webhook-timestamp", outgoing.timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(outgoing.body.to_vec())
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                Sent::Delivered(response.status().as_u16())
            }
            Ok(response) if response.status() == reqwest::StatusCode::GONE => Sent::Gone,
            Ok(response) => Sent::Failed {
                status: Some(response.status().as_u16()),
                error: format!("answered {}", response.status()),
            },
            Err(err) => Sent::Failed {
                status: None,
                error: describe(&err),
            },
        }
    }
}

/// Why a URL whose host is an IP literal may not be sent to (the resolver never sees
/// those), if it may not.
fn literal_refusal(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    (!is_public(ip)).then(|| format!("refused: {ip} is not a public address"))
}

/// The error and its causes in one line (reqwest's own text omits the cause).
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "no answer within 10 s".to_owned()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn literal_targets_are_checked_before_sending() {
        assert!(literal_refusal("http://127.0.0.1:9/hook").is_some());
        assert!(literal_refusal("http://[::1]/hook").is_some());
        assert!(literal_refusal("http://10.0.0.1/").is_some());
        assert_eq!(literal_refusal("https://1.1.1.1/hook"), None);
        assert_eq!(literal_refusal("https://example.com/hook"), None);
    }
}
