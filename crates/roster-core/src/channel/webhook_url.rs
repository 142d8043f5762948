//! Webhook URLs: absolute, https, public.

use super::target::{forbidden_host_name, is_forbidden_ip};
use super::ValueRules;
use crate::validation::FieldProblem;
use url::{Host, Url};

/// An absolute https URL (http only when the rules allow it) with a host, no
/// credentials and no fragment, at most 2048 characters, whose host is not a
/// private target unless the rules allow those. Stored in the `url` crate's
/// normalized spelling (lowercase scheme and host, default port dropped).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str, rules: &ValueRules) -> Result<Self, FieldProblem> {
        let s = raw.trim();
        let invalid = |why: &str| FieldProblem::new("invalid_url", why.to_owned());
        if s.is_empty() {
            return Err(FieldProblem::new("required", "must not be empty"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(FieldProblem::new("too_long", format!("must be at most {} characters", Self::MAX_LEN)));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters; percent-encode them (%20)"));
        }
        let url = Url::parse(s).map_err(|e| {
            invalid(&format!("is not an absolute URL ({e}); write it like https://example.com/hooks/roster"))
        })?;
        match url.scheme() {
            "https" => {}
            "http" if rules.allow_http_webhooks => {}
            "http" => {
                return Err(FieldProblem::new(
                    "insecure_url",
                    "must use https; http is accepted only when the server is configured for development",
                ))
            }
            other => return Err(invalid(&format!("must be an https URL, not `{other}:`"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FieldProblem::new(
                "credentials_in_url",
                "must not contain a user name or password; send credentials in a header instead",
            ));
        }
        let host = url.host().ok_or_else(|| invalid("must name a host, such as https://example.com/hooks"))?;
        if url.fragment().is_some() {
            return Err(invalid("must not have a fragment (the part from #), which is never sent to the server"));
        }
        if url.as_str().len() > Self::MAX_LEN {
            return Err(FieldProblem::new("too_long", format!("must be at most {} characters", Self::MAX_LEN)));
        }
        if !rules.allow_private_targets {
            let why = match host {
                Host::Ipv4(ip) => is_forbidden_ip(ip.into()).then_some("the address is not a public one"),
                Host::Ipv6(ip) => is_forbidden_ip(ip.into()).then_some("the address is not a public one"),
                Host::Domain(name) => forbidden_host_name(name),
            };
            if let Some(why) = why {
                return Err(FieldProblem::new(
                    "private_target",
                    format!(
                        "must point to a public host: {why}; \
                         private targets are accepted only when the server allows them"
                    ),
                ));
            }
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The host as written in the URL (`example.com`, `192.0.2.1`, `[2001:db8::1]`).
    pub fn host_str(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// Scheme, host and the first path segment, the rest hidden:
    /// `https://hooks.slack.com/services/…`. A path of one segment is hidden
    /// whole, since that segment is often the secret itself.
    pub fn masked(&self) -> String {
        let segments: Vec<&str> = self.0.path_segments().map(|s| s.collect()).unwrap_or_default();
        let shown = if segments.len() > 1 { segments[0] } else { "" };
        let sep = if shown.is_empty() { "" } else { "/" };
        format!("{}://{}/{shown}{sep}…", self.0.scheme(), self.host_str())
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WebhookUrl").field(&self.masked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: ValueRules = ValueRules { allow_http_webhooks: false, allow_private_targets: false };
    const DEV: ValueRules = ValueRules { allow_http_webhooks: true, allow_private_targets: true };

    fn code(raw: &str, rules: &ValueRules) -> &'static str {
        WebhookUrl::parse(raw, rules).unwrap_err().code
    }

    #[test]
    fn accepts_and_normalizes() {
        let u = WebhookUrl::parse("  HTTPS://Example.COM:443/Hooks/x?a=1&b=2 ", &STRICT).unwrap();
        assert_eq!(u.as_str(), "https://example.com/Hooks/x?a=1&b=2");
        assert_eq!(WebhookUrl::parse("https://example.com", &STRICT).unwrap().as_str(), "https://example.com/");
        assert_eq!(
            WebhookUrl::parse("https://example.com:8443/h", &STRICT).unwrap().as_str(),
            "https://example.com:8443/h"
        );
        assert_eq!(WebhookUrl::parse("https://bücher.example/h", &STRICT).unwrap().host_str(), "xn--bcher-kva.example");
        assert!(WebhookUrl::parse("https://8.8.8.8/h", &STRICT).is_ok());
        assert!(WebhookUrl::parse("https://[2606:4700::1111]/h", &STRICT).is_ok());
    }

    #[test]
    fn refusals_and_their_codes() {
        assert_eq!(code("", &STRICT), "required");
        assert_eq!(code("example.com/hook", &STRICT), "invalid_url");
        assert_eq!(code("/hooks/x", &STRICT), "invalid_url");
        assert_eq!(code("https://exa mple.com/", &STRICT), "invalid_url");
        assert_eq!(code("ftp://example.com/", &STRICT), "invalid_url");
        assert_eq!(code("mailto:a@example.com", &STRICT), "invalid_url");
        assert_eq!(code("https://example.com/h#frag", &STRICT), "invalid_url");
        assert_eq!(code("https://example.com/h#", &STRICT), "invalid_url");
        assert_eq!(code("http://example.com/h", &STRICT), "insecure_url");
        assert_eq!(code("https://user:pw@example.com/h", &STRICT), "credentials_in_url");
        assert_eq!(code("https://user@example.com/h", &STRICT), "credentials_in_url");
        assert_eq!(code("https://:pw@example.com/h", &STRICT), "credentials_in_url");
        assert_eq!(code(&format!("https://example.com/{}", "a".repeat(2048)), &STRICT), "too_long");
        // Percent-encoding may make a short input too long once normalized.
        assert_eq!(code(&format!("https://example.com/{}", "é".repeat(600)), &STRICT), "too_long");
        assert!(code("http://example.com/h", &STRICT) == "insecure_url");
        let p = WebhookUrl::parse("http://example.com/h", &STRICT).unwrap_err();
        assert!(p.message.contains("https"), "{}", p.message);
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        for raw in [
            "https://localhost/h",
            "https://LOCALHOST./h",
            "https://app.localhost/h",
            "https://printer.local/h",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://metadata/computeMetadata/v1/",
            "https://127.0.0.1/h",
            "https://127.1/h",
            "https://2130706433/h",
            "https://0x7f000001/h",
            "https://10.0.0.5:8080/h",
            "https://172.20.1.1/h",
            "https://192.168.0.10/h",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.1.1/h",
            "https://0.0.0.0/h",
            "https://255.255.255.255/h",
            "https://224.0.0.1/h",
            "https://[::1]/h",
            "https://[::]/h",
            "https://[fe80::1]/h",
            "https://[fd00:ec2::254]/latest/meta-data/",
            "https://[fc00::1]/h",
            "https://[::ffff:127.0.0.1]/h",
            "https://[::ffff:a9fe:a9fe]/h",
            "https://[::ffff:192.168.1.1]/h",
        ] {
            assert_eq!(code(raw, &STRICT), "private_target", "{raw}");
            let private_ok = ValueRules { allow_private_targets: true, ..STRICT };
            assert!(WebhookUrl::parse(raw, &private_ok).is_ok(), "{raw} with private targets allowed");
        }
    }

    #[test]
    fn development_rules() {
        assert_eq!(WebhookUrl::parse("http://127.0.0.1:9000/h", &DEV).unwrap().as_str(), "http://127.0.0.1:9000/h");
        let http_only = ValueRules { allow_http_webhooks: true, ..STRICT };
        assert!(WebhookUrl::parse("http://example.com/h", &http_only).is_ok());
        assert_eq!(code("http://localhost:9000/h", &http_only), "private_target");
        // Development rules never relax the other checks.
        assert_eq!(code("http://u:p@localhost/h", &DEV), "credentials_in_url");
        assert_eq!(code("ws://localhost/h", &DEV), "invalid_url");
    }

    #[test]
    fn masking_hides_all_but_the_first_segment() {
        let m = |raw: &str| WebhookUrl::parse(raw, &STRICT).unwrap().masked();
        assert_eq!(m("https://example.com/hooks/abc123?token=s3cret"), "https://example.com/hooks/…");
        assert_eq!(m("https://example.com:8443/hooks/abc"), "https://example.com/hooks/…");
        assert_eq!(m("https://webhook.site/6c1a2d0e-secret"), "https://webhook.site/…");
        assert_eq!(m("https://example.com/?token=s3cret"), "https://example.com/…");
        assert_eq!(m("https://[2606:4700::1111]/a/b"), "https://[2606:4700::1111]/a/…");
        let u = WebhookUrl::parse("https://example.com/hooks/abc123", &STRICT).unwrap();
        assert!(!format!("{u:?}").contains("abc123"));
    }
}
