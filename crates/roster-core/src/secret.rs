//! Secrets the service hands out: access tokens, API keys, verification codes.
//!
//! Tokens carry a recognizable prefix and a checksum, so secret scanners find
//! leaked ones and a mistyped token is refused without a database lookup.
//! Nothing handed out is stored: only a keyed hash (HMAC-SHA256 with the
//! server's secret key), so a leaked table cannot be brute-forced offline.

use hmac::{Hmac, Mac};
use rand::{rngs::OsRng, Rng};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random characters in a token: 30 × log2(62) ≈ 178 bits.
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;

/// What a token is for; its prefix says so to people and scanners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A login session's bearer token.
    Session,
    /// A machine caller's API key.
    ApiKey,
    /// The secret in an invitation link.
    Invitation,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "rst_",
            TokenKind::ApiKey => "rsk_",
            TokenKind::Invitation => "rsi_",
        }
    }

    fn all() -> [TokenKind; 3] {
        [TokenKind::Session, TokenKind::ApiKey, TokenKind::Invitation]
    }
}

/// A freshly generated token: `prefix` + 30 random base62 + 6 checksum base62.
pub fn generate_token(kind: TokenKind) -> String {
    let mut rng = OsRng;
    let random: String = (0..RANDOM_LEN).map(|_| BASE62[rng.gen_range(0..62)] as char).collect();
    let checksum = base62_fixed(crc32fast::hash(random.as_bytes()));
    format!("{}{random}{checksum}", kind.prefix())
}

/// The kind of a well-formed token with a correct checksum, `None` otherwise.
pub fn token_kind(token: &str) -> Option<TokenKind> {
    let kind = TokenKind::all().into_iter().find(|k| token.starts_with(k.prefix()))?;
    let body = &token[kind.prefix().len()..];
    if body.len() != RANDOM_LEN + CHECKSUM_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (random, checksum) = body.split_at(RANDOM_LEN);
    (base62_fixed(crc32fast::hash(random.as_bytes())) == checksum).then_some(kind)
}

/// The first characters of a token, safe to show so a person can tell keys apart.
pub fn token_hint(token: &str) -> String {
    token.chars().take(10).collect()
}

fn base62_fixed(mut n: u32) -> String {
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 is ASCII")
}

/// A 6-digit code, uniformly drawn from the operating system's CSPRNG.
pub fn verification_code() -> String {
    format!("{:06}", OsRng.gen_range(0..1_000_000u32))
}

/// Whether `code` looks like something `verification_code` could have made.
pub fn is_code_format(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The server's secret key: the HMAC key for every stored token and code hash.
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < Self::MIN_LEN {
            return Err(format!("the secret key must be at least {} bytes", Self::MIN_LEN));
        }
        Ok(Self(bytes))
    }

    /// A new random key (64 bytes).
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 64];
        OsRng.fill(&mut bytes[..]);
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// HMAC-SHA256 over `purpose`, a separator and each part, so a hash made
    /// for one purpose or target can never be replayed for another.
    pub fn hash(&self, purpose: &str, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        for part in parts {
            mac.update(&[0u8]);
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// The stored form of a token.
    pub fn hash_token(&self, token: &str) -> Vec<u8> {
        self.hash("token", &[token.as_bytes()])
    }

    /// The stored form of a verification code, bound to what it verifies.
    pub fn hash_code(&self, purpose: &str, target: &str, code: &str) -> Vec<u8> {
        self.hash(purpose, &[target.as_bytes(), code.as_bytes()])
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// Compares two byte strings in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_prefix_and_checksum() {
        for kind in TokenKind::all() {
            let t = generate_token(kind);
            assert!(t.starts_with(kind.prefix()));
            assert_eq!(token_kind(&t), Some(kind));
            // One changed character breaks the checksum.
            let mut bytes = t.clone().into_bytes();
            let i = kind.prefix().len() + 3;
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            assert_eq!(token_kind(std::str::from_utf8(&bytes).unwrap()), None);
        }
        assert_ne!(generate_token(TokenKind::Session), generate_token(TokenKind::Session));
        assert_eq!(token_kind("rst_short"), None);
        assert_eq!(token_kind("Bearer nonsense"), None);
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            assert!(is_code_format(&verification_code()));
        }
    }

    #[test]
    fn hashes_are_bound_to_purpose_and_target() {
        let k = SecretKey::generate();
        let h = k.hash_code("email_change", "a@b.io", "123456");
        assert_eq!(h, k.hash_code("email_change", "a@b.io", "123456"));
        assert_ne!(h, k.hash_code("email_verification", "a@b.io", "123456"));
        assert_ne!(h, k.hash_code("email_change", "c@b.io", "123456"));
        assert_ne!(h, SecretKey::generate().hash_code("email_change", "a@b.io", "123456"));
        assert!(constant_time_eq(&h, &h.clone()));
        assert!(!constant_time_eq(&h, &h[1..]));
    }
}
