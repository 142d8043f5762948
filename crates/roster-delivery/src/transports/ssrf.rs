//! Keeping outgoing requests away from the service's own network: loopback,
//! private ranges, link-local (cloud metadata), and their IPv6 forms.
//!
//! Checked twice: on the URL when its host is an IP literal (no DNS lookup
//! happens for those), and on every address a name resolves to, in the
//! client's own resolver, so a name that points at a private address, or
//! starts to after the channel was created, is refused too.

use super::TransportError;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use roster_core::channel::is_forbidden_ip;
use std::net::{IpAddr, SocketAddr};
use url::{Host, Url};

/// Parses `raw` as an http(s) URL and refuses a forbidden IP-literal host.
/// Errors never repeat the URL: it may be the channel's secret.
pub(crate) fn check_url(raw: &str, allow_private: bool) -> Result<Url, TransportError> {
    let url = Url::parse(raw).map_err(|e| TransportError::permanent("invalid_url", format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TransportError::permanent("invalid_url", format!("`{}` URLs are not supported", url.scheme())));
    }
    let ip = match url.host() {
        None => return Err(TransportError::permanent("invalid_url", "the URL has no host")),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    match ip {
        Some(ip) if !allow_private && is_forbidden_ip(ip) => Err(blocked(&ip.to_string())),
        _ => Ok(url),
    }
}

fn blocked(host: &str) -> TransportError {
    TransportError::permanent(
        "ssrf_blocked",
        format!("`{host}` is not a public address (loopback, private, link-local or reserved): refused"),
    )
}

/// The resolver's refusal, found again in reqwest's error chain by
/// [`ssrf_refusal`].
#[derive(Debug, thiserror::Error)]
#[error("`{host}` resolves only to addresses that are not public")]
pub(crate) struct SsrfBlocked {
    host: String,
}

impl SsrfBlocked {
    pub(crate) fn to_error(&self) -> TransportError {
        TransportError::permanent("ssrf_blocked", format!("{self}: refused"))
    }
}

/// The resolver's refusal in `error`'s chain of causes, if it is there.
pub(crate) fn ssrf_refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a SsrfBlocked> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(found) = e.downcast_ref::<SsrfBlocked>() {
            return Some(found);
        }
        cause = e.source();
    }
    None
}

/// Resolves with tokio (the system resolver) and drops every forbidden
/// address; a name left with none is refused.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedResolver {
    pub(crate) allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                resolved.iter().copied().filter(|a| allow_private || !is_forbidden_ip(a.ip())).collect();
            if allowed.is_empty() && !resolved.is_empty() {
                return Err(Box::new(SsrfBlocked { host }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(ip: &str) -> bool {
        is_forbidden_ip(ip.parse().unwrap())
    }

    #[test]
    fn refuses_non_public_addresses() {
        let refused = [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.170",
            "198.18.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "100::1",
            "fec0::1",
        ];
        for ip in refused {
            assert!(forbidden(ip), "{ip} should be refused");
        }
    }

    #[test]
    fn allows_public_addresses() {
        let allowed = [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "192.0.1.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "64:ff9b::808:808",
            "2002:808:808::",
        ];
        for ip in allowed {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn checks_ip_literal_urls_in_every_spelling() {
        for url in [
            "http://127.0.0.1/x",
            "http://[::1]:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            "https://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://[fd00:ec2::254]/",
        ] {
            let err = check_url(url, false).expect_err(url);
            assert_eq!((err.class(), err.is_permanent()), ("ssrf_blocked", true), "{url}");
            assert!(check_url(url, true).is_ok(), "{url} with private targets allowed");
        }
        assert!(check_url("https://hooks.example.com/a?b=c", false).is_ok());
        assert!(check_url("http://93.184.216.34/", false).is_ok());
        for url in ["", "not a url", "ftp://example.com/", "file:///etc/passwd", "unix:/run/x.sock"] {
            assert_eq!(check_url(url, true).unwrap_err().class(), "invalid_url", "{url}");
        }
        let err = check_url("ftp://user:hunter2@example.com/", true).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn the_resolver_drops_forbidden_addresses() {
        let name = || "localhost".parse::<Name>().unwrap();
        let err = GuardedResolver { allow_private: false }.resolve(name()).await.err().expect("refused");
        assert!(ssrf_refusal(err.as_ref()).is_some(), "{err}");
        let addrs: Vec<SocketAddr> = GuardedResolver { allow_private: true }.resolve(name()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty(), "{addrs:?}");
    }
}
