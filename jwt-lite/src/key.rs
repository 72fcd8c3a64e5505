//! The HMAC secret.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 keyed state, the only form in which a [`Key`] keeps its secret.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The shared HMAC secret used to sign and verify tokens.
///
/// The raw secret bytes are not stored: the key keeps only the prepared
/// HMAC-SHA256 state and the secret's length. Its [`Debug`](fmt::Debug) output
/// is `Key(<redacted, N bytes>)`; there is deliberately no `Display`.
///
/// Any length is accepted, as RFC 2104 allows; callers enforce their own
/// minimum (the services require at least 32 bytes). As with every HMAC, a
/// secret and the same secret followed by zero bytes (within the 64-byte block)
/// are one key, and so are a secret over 64 bytes and its SHA-256 digest.
#[derive(Clone)]
pub struct Key {
    mac: HmacSha256,
    len: usize,
}

impl Key {
    /// Makes a key from secret bytes (a `String`, `&str`, `Vec<u8>`, `&[u8]`, ...).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        // HMAC accepts keys of every length (longer ones are hashed first), so
        // `new_from_slice` never returns `Err` for `Hmac<Sha256>`; the hmac crate's
        // own `KeyInit::new` unwraps this same call.
        let mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Self {
            mac,
            len: secret.len(),
        }
    }

    /// A fresh MAC keyed with this secret.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(<redacted, {} bytes>)", self.len)
    }
}
