//! Webhook signatures as the Standard Webhooks specification defines them
//! (<https://www.standardwebhooks.com/>), so receivers can verify ours with
//! any of its libraries.
//!
//! Each request carries `webhook-id` (the message's stable id, the same on
//! every retry), `webhook-timestamp` (Unix seconds, fresh on every attempt)
//! and `webhook-signature`: `v1,` followed by the base64 HMAC-SHA256, keyed
//! with the secret's bytes, of `{id}.{timestamp}.{body}`. While a secret is
//! being rotated, one signature per secret, separated by spaces.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use reqwest::header::HeaderMap;
use sha2::Sha256;
use std::time::Duration;
use time::OffsetDateTime;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far a timestamp may be from now, either way, for [`verify`].
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const PREFIX: &str = "whsec_";
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
const GENERATED_KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Standard base64 that decodes with or without padding, as the reference
/// libraries do; what we produce is always padded.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret is `whsec_` followed by the base64 of 24 to 64 random bytes")]
pub struct InvalidSecret;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the `{0}` header is missing or not text")]
    MissingHeader(&'static str),
    #[error("the `webhook-timestamp` header is not a number of seconds")]
    InvalidTimestamp,
    #[error("the timestamp is further from now than the tolerance")]
    OutsideTolerance,
    #[error("no signature matches")]
    NoMatch,
    #[error(transparent)]
    InvalidSecret(#[from] InvalidSecret),
}

/// A new secret: `whsec_` and the base64 of 32 bytes from the OS's CSPRNG.
pub fn generate_secret() -> String {
    let mut key = [0u8; GENERATED_KEY_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of `secret`. The `whsec_` prefix is optional, as in the
/// specification's reference libraries.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, InvalidSecret> {
    let encoded = secret.strip_prefix(PREFIX).unwrap_or(secret);
    let key = LENIENT.decode(encoded).map_err(|_| InvalidSecret)?;
    if KEY_BYTES.contains(&key.len()) {
        Ok(key)
    } else {
        Err(InvalidSecret)
    }
}

/// `v1,{base64 HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")}`.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, InvalidSecret> {
    let mac = mac(&secret_key(secret)?, msg_id, timestamp, body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// One signature per secret, space-separated: the `webhook-signature`
/// value while secrets overlap during a rotation.
pub fn sign_all<S: AsRef<str>>(
    secrets: &[S],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, InvalidSecret> {
    let signatures: Result<Vec<String>, InvalidSecret> =
        secrets.iter().map(|s| sign(s.as_ref(), msg_id, timestamp, body)).collect();
    Ok(signatures?.join(" "))
}

/// Checks a received webhook as a receiver would: the three headers
/// present, the timestamp within `tolerance` of `now`, and one `v1`
/// signature made with one of `secrets` (compared in constant time).
pub fn verify<S: AsRef<str>>(
    secrets: &[S],
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let header =
        |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok()).ok_or(VerifyError::MissingHeader(name));
    let (msg_id, timestamp, signatures) = (header(HEADER_ID)?, header(HEADER_TIMESTAMP)?, header(HEADER_SIGNATURE)?);
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| VerifyError::InvalidTimestamp)?;
    let skew = timestamp.abs_diff(now.unix_timestamp());
    if skew > tolerance.as_secs() {
        return Err(VerifyError::OutsideTolerance);
    }
    let keys = secrets.iter().map(|s| secret_key(s.as_ref())).collect::<Result<Vec<_>, _>>()?;
    let candidates: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| LENIENT.decode(b64).ok())
        .collect();
    for key in &keys {
        for candidate in &candidates {
            if mac(key, msg_id, timestamp, body).verify_slice(candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err(VerifyError::NoMatch)
}

fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// From the specification's reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, ts: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_ID, HeaderValue::from_str(id).unwrap());
        h.insert(HEADER_TIMESTAMP, HeaderValue::from_str(ts).unwrap());
        h.insert(HEADER_SIGNATURE, HeaderValue::from_str(signature).unwrap());
        h
    }

    fn at(ts: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(ts).unwrap()
    }

    #[test]
    fn reproduces_the_reference_test_vector() {
        assert_eq!(sign(SECRET, ID, TS, BODY).unwrap(), EXPECTED);
        // The prefix is optional, as in the reference libraries, and so is padding.
        assert_eq!(sign(&SECRET[6..], ID, TS, BODY).unwrap(), EXPECTED);
        let unpadded = format!("whsec_{}", STANDARD.encode([7u8; 32]).trim_end_matches('='));
        assert_eq!(secret_key(&unpadded).unwrap(), [7u8; 32]);
        assert_eq!(verify(&[SECRET], &headers(ID, "1614265330", EXPECTED), BODY, at(TS), DEFAULT_TOLERANCE), Ok(()));
    }

    #[test]
    fn generated_secrets_are_unique_and_valid() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(secret_key(&a).unwrap().len(), 32);
        for bad in
            ["", "whsec_", "whsec_not base64!", "whsec_c2hvcnQ=", &format!("whsec_{}", STANDARD.encode([0u8; 65]))]
        {
            assert_eq!(secret_key(bad), Err(InvalidSecret), "{bad}");
            assert_eq!(sign(bad, ID, TS, BODY), Err(InvalidSecret));
        }
    }

    #[test]
    fn several_secrets_sign_for_a_rotation_and_either_verifies() {
        let (old, new) = (generate_secret(), generate_secret());
        let both = sign_all(&[&old, &new], ID, TS, BODY).unwrap();
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts, [sign(&old, ID, TS, BODY).unwrap(), sign(&new, ID, TS, BODY).unwrap()]);
        let h = headers(ID, &TS.to_string(), &both);
        assert_eq!(verify(&[&old], &h, BODY, at(TS), DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(verify(&[&new], &h, BODY, at(TS), DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(verify(&[SECRET], &h, BODY, at(TS), DEFAULT_TOLERANCE), Err(VerifyError::NoMatch));
        assert_eq!(sign_all::<&str>(&[], ID, TS, BODY).unwrap(), "");
    }

    #[test]
    fn verify_refuses_tampering_staleness_and_missing_headers() {
        let ok = |h: &HeaderMap, body: &[u8], now: i64| verify(&[SECRET], h, body, at(now), DEFAULT_TOLERANCE);
        let good = headers(ID, "1614265330", EXPECTED);
        assert_eq!(ok(&good, b"{\"test\": 2432232315}", TS), Err(VerifyError::NoMatch));
        assert_eq!(ok(&headers("msg_other", "1614265330", EXPECTED), BODY, TS), Err(VerifyError::NoMatch));
        assert_eq!(ok(&headers(ID, "1614265331", EXPECTED), BODY, TS), Err(VerifyError::NoMatch));
        assert_eq!(ok(&good, BODY, TS + 300), Ok(()));
        assert_eq!(ok(&good, BODY, TS - 300), Ok(()));
        assert_eq!(ok(&good, BODY, TS + 301), Err(VerifyError::OutsideTolerance));
        assert_eq!(ok(&good, BODY, TS - 301), Err(VerifyError::OutsideTolerance));
        assert_eq!(ok(&headers(ID, "soon", EXPECTED), BODY, TS), Err(VerifyError::InvalidTimestamp));
        // Other versions and junk next to a good signature are skipped.
        let mixed = format!("v1a,abc v1,!!! v2,{} {EXPECTED}", &EXPECTED[3..]);
        assert_eq!(ok(&headers(ID, "1614265330", &mixed), BODY, TS), Ok(()));
        assert_eq!(ok(&headers(ID, "1614265330", &EXPECTED[3..]), BODY, TS), Err(VerifyError::NoMatch));
        let mut missing = good.clone();
        missing.remove(HEADER_SIGNATURE);
        assert_eq!(ok(&missing, BODY, TS), Err(VerifyError::MissingHeader(HEADER_SIGNATURE)));
        assert_eq!(verify(&["nope"], &good, BODY, at(TS), DEFAULT_TOLERANCE), Err(InvalidSecret.into()));
    }
}
