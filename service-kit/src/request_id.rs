//! Request ids: a client's own `X-Request-Id` is echoed when it is safe to log; otherwise each
//! request gets a random one.
//!
//! Generated ids are 128 bits that an outsider cannot predict or count: a counter run through
//! SipHash under keys the standard library draws from the operating system's random source
//! (`RandomState`), so consecutive ids look unrelated and say nothing about the request volume,
//! at the cost of two hashes rather than a system call per request.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Generates random request ids.
#[derive(Debug)]
pub struct RequestIds {
    keys: [RandomState; 2],
    counter: AtomicU64,
}

impl RequestIds {
    /// A generator with fresh random keys.
    pub fn new() -> RequestIds {
        RequestIds {
            keys: [RandomState::new(), RandomState::new()],
            counter: AtomicU64::new(0),
        }
    }

    /// The next id: 32 lowercase hex digits.
    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let [a, b] = self.keys.each_ref().map(|keys| {
            let mut hasher = keys.build_hasher();
            hasher.write_u64(n);
            hasher.finish()
        });
        format!("{a:016x}{b:016x}")
    }
}

impl Default for RequestIds {
    fn default() -> RequestIds {
        RequestIds::new()
    }
}

/// A client's `X-Request-Id` is echoed only when it is 1..=128 characters of `[A-Za-z0-9._:-]`.
pub fn is_valid(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn client_ids_are_checked() {
        assert!(is_valid("abc-123_x.y:z"));
        assert!(!is_valid(""));
        assert!(!is_valid("has space"));
        assert!(!is_valid(&"a".repeat(129)));
        assert!(is_valid(&"a".repeat(128)));
    }

    #[test]
    fn generated_ids_are_valid_distinct_and_not_a_visible_counter() {
        let ids = RequestIds::new();
        let many: Vec<String> = (0..10_000).map(|_| ids.next()).collect();
        assert!(many.iter().all(|id| id.len() == 32 && is_valid(id)));
        assert_eq!(many.iter().collect::<HashSet<_>>().len(), many.len());
        // Consecutive ids share no long prefix (a counter would change only its tail) ...
        let shared =
            |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        assert!(many.windows(2).all(|w| shared(&w[0], &w[1]) < 8));
        // ... and another process (other keys) starts somewhere else.
        assert_ne!(RequestIds::new().next(), many[0]);
    }
}
