//! Where a registry is and how hard to try reaching it.

use std::path::PathBuf;
use url::Url;

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// `host:port` as in image references, or a full `http(s)://` URL.
    pub registry: String,
    /// Plain HTTP even though the host is not a loopback address.
    pub insecure: bool,
    /// A PEM file of extra CA certificates to trust.
    pub ca_file: Option<PathBuf>,
}

impl Endpoint {
    /// The base URL: the scheme given, else plain HTTP for loopback hosts or when asked,
    /// else HTTPS.
    pub fn base_url(&self) -> Url {
        let r = self.registry.trim_end_matches('/');
        if r.starts_with("http://") || r.starts_with("https://") {
            return Url::parse(&format!("{r}/"))
                .unwrap_or_else(|_| Url::parse("http://invalid/").expect("valid"));
        }
        let scheme = if self.insecure || self.plain_http_is_default() {
            "http"
        } else {
            "https"
        };
        Url::parse(&format!("{scheme}://{r}/"))
            .unwrap_or_else(|_| Url::parse("http://invalid/").expect("valid"))
    }

    /// Whether the registry is spoken to without TLS (builders need `--tls-verify=false`).
    pub fn is_plain_http(&self) -> bool {
        self.base_url().scheme() == "http"
    }

    fn plain_http_is_default(&self) -> bool {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(h, p)| {
                if p.chars().all(|c| c.is_ascii_digit()) {
                    h
                } else {
                    self.registry.as_str()
                }
            });
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_or_when_asked() {
        let e = |r: &str, insecure| {
            Endpoint {
                registry: r.into(),
                insecure,
                ca_file: None,
            }
            .base_url()
            .to_string()
        };
        assert_eq!(e("localhost:4999", false), "http://localhost:4999/");
        assert_eq!(e("127.0.0.1:4999", false), "http://127.0.0.1:4999/");
        assert_eq!(e("[::1]:4999", false), "http://[::1]:4999/");
        assert_eq!(
            e("registry.example:5000", false),
            "https://registry.example:5000/"
        );
        assert_eq!(
            e("registry.example:5000", true),
            "http://registry.example:5000/"
        );
        assert_eq!(
            e("https://localhost:4999", false),
            "https://localhost:4999/"
        );
    }
}
