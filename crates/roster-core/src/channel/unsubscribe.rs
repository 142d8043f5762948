//! The token in an alert email's `List-Unsubscribe` link (RFC 2369, RFC 8058).
//!
//! It names the channel and carries an HMAC (the server's [`SecretKey`]) over
//! the channel's id and the address the email went to. Nothing is stored:
//! the link works for as long as the channel sends to that address, cannot
//! be forged or pointed at another channel, and stops working when the
//! channel moves to a new address (mail to the old one must not switch the
//! new one off).

use crate::secret::{constant_time_eq, SecretKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

const PURPOSE: &str = "list_unsubscribe";
/// A 128-bit tag: unguessable, and the link stays short.
const TAG_BYTES: usize = 16;

/// A parsed (not yet checked) unsubscribe token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeToken {
    pub channel: Uuid,
    tag: [u8; TAG_BYTES],
}

impl UnsubscribeToken {
    /// The token for mail to `address` through `channel`: URL-safe base64 of
    /// the channel's id and the tag.
    pub fn issue(key: &SecretKey, channel: Uuid, address: &str) -> String {
        Self { channel, tag: tag(key, channel, address) }.encode()
    }

    /// The token as it goes into a link.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(16 + TAG_BYTES);
        bytes.extend_from_slice(self.channel.as_bytes());
        bytes.extend_from_slice(&self.tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The token's parts, or `None` for anything `issue` cannot have made.
    pub fn parse(token: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        if bytes.len() != 16 + TAG_BYTES {
            return None;
        }
        let (id, tag) = bytes.split_at(16);
        Some(Self { channel: Uuid::from_slice(id).ok()?, tag: tag.try_into().ok()? })
    }

    /// Whether the token was issued with `key` for its channel sending to `address`.
    pub fn is_valid_for(&self, key: &SecretKey, address: &str) -> bool {
        constant_time_eq(&self.tag, &tag(key, self.channel, address))
    }
}

fn tag(key: &SecretKey, channel: Uuid, address: &str) -> [u8; TAG_BYTES] {
    let full = key.hash(PURPOSE, &[channel.as_bytes(), address.as_bytes()]);
    let mut out = [0u8; TAG_BYTES];
    out.copy_from_slice(&full[..TAG_BYTES]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_channel_and_holds_only_for_its_address_and_key() {
        let key = SecretKey::generate();
        let (channel, other) = (Uuid::now_v7(), Uuid::now_v7());
        let token = UnsubscribeToken::issue(&key, channel, "ops@example.com");
        assert_eq!(token.len(), 43, "{token}");
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
        let parsed = UnsubscribeToken::parse(&token).unwrap();
        assert_eq!(parsed.channel, channel);
        assert!(parsed.is_valid_for(&key, "ops@example.com"));
        assert!(!parsed.is_valid_for(&key, "new@example.com"));
        assert!(!parsed.is_valid_for(&SecretKey::generate(), "ops@example.com"));
        // The same tag with another channel's id does not hold.
        let mut moved = parsed.clone();
        moved.channel = other;
        assert!(!moved.is_valid_for(&key, "ops@example.com"));
        assert_eq!(token, UnsubscribeToken::issue(&key, channel, "ops@example.com"));
        assert_eq!(parsed.encode(), token);
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        let token = UnsubscribeToken::issue(&SecretKey::generate(), Uuid::now_v7(), "a@b.io");
        for bad in ["", "abc", &token[..42], &format!("{token}AA"), &token.replace(|c: char| c.is_alphabetic(), "+")] {
            assert_eq!(UnsubscribeToken::parse(bad), None, "{bad}");
        }
        assert_eq!(UnsubscribeToken::parse(&Uuid::now_v7().to_string()), None);
    }
}
