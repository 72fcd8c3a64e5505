//! The body of a [`crate::Response`]: bytes of its own, or bytes shared with other answers.
//!
//! An event's whole attendance list is cached as one serialised array and sent to every reader
//! of it. Copying that megabyte into each answer cost a copy per reader in flight (64 readers,
//! 64 MiB) and made the big-answer budget count one listing many times over. A [`Body`] instead
//! wraps [`SharedBytes`] between a head and a tail of its own, and the shared bytes hold their
//! part of the budget once, for as long as a cache or any answer keeps them.

use crate::server::budget::HeldBytes;
use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError};

/// A response body.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body {
    head: Vec<u8>,
    shared: Option<SharedBytes>,
    tail: Vec<u8>,
}

impl Body {
    /// `head`, then `shared` (not copied), then `tail`.
    pub fn framed(head: Vec<u8>, shared: SharedBytes, tail: Vec<u8>) -> Body {
        Body {
            head,
            shared: Some(shared),
            tail,
        }
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.shared.as_ref().map_or(0, SharedBytes::len) + self.tail.len()
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, copied only if part of them is shared.
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match &self.shared {
            None => Cow::Borrowed(&self.head),
            Some(shared) => {
                let mut all = Vec::with_capacity(self.len());
                all.extend_from_slice(&self.head);
                all.extend_from_slice(shared.as_ref());
                all.extend_from_slice(&self.tail);
                Cow::Owned(all)
            }
        }
    }

    /// The bytes not yet counted in the big-answer budget: all of them, less shared bytes that
    /// already hold their part.
    pub fn unheld_len(&self) -> usize {
        match &self.shared {
            Some(shared) if shared.is_held() => self.head.len() + self.tail.len(),
            _ => self.len(),
        }
    }

    /// The shared part, if any.
    pub fn shared(&self) -> Option<&SharedBytes> {
        self.shared.as_ref()
    }

    /// A reader of the bytes, in order, for writing the body out.
    pub(crate) fn into_reader(self) -> BodyReader {
        BodyReader {
            body: self,
            part: 0,
            at: 0,
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(head: Vec<u8>) -> Body {
        Body {
            head,
            shared: None,
            tail: Vec::new(),
        }
    }
}

impl PartialEq<[u8]> for Body {
    fn eq(&self, other: &[u8]) -> bool {
        *self.bytes() == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Body {
    fn eq(&self, other: &[u8; N]) -> bool {
        *self == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Body {
    fn eq(&self, other: &&[u8; N]) -> bool {
        *self == other[..]
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.bytes()))
    }
}

/// Reads a [`Body`]'s head, shared part and tail in turn.
pub(crate) struct BodyReader {
    body: Body,
    /// 0 head, 1 shared, 2 tail, 3 done.
    part: u8,
    /// Bytes of the current part already read.
    at: usize,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.part < 3 {
            let part: &[u8] = match self.part {
                0 => &self.body.head,
                1 => self.body.shared.as_ref().map_or(&[], AsRef::as_ref),
                _ => &self.body.tail,
            };
            let rest = &part[self.at..];
            if rest.is_empty() {
                self.part += 1;
                self.at = 0;
                continue;
            }
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.at += n;
            return Ok(n);
        }
        Ok(0)
    }
}

/// Bytes that many answers send without each copying them (an event's cached listing). Clones
/// are cheap, and the bytes count once in the big-answer budget however many answers hold them
/// (see [`SharedBytes::keep_held`]).
#[derive(Clone)]
pub struct SharedBytes(Arc<Shared>);

struct Shared {
    bytes: Cow<'static, [u8]>,
    held: Mutex<Option<HeldBytes>>,
}

impl SharedBytes {
    /// Shares `bytes`.
    pub fn new(bytes: Vec<u8>) -> SharedBytes {
        SharedBytes(Arc::new(Shared {
            bytes: Cow::Owned(bytes),
            held: Mutex::new(None),
        }))
    }

    /// Shares bytes built into the binary (files it serves), without copying them: they stay
    /// in the executable's pages, which the kernel maps in only when they are sent.
    pub fn from_static(bytes: &'static [u8]) -> SharedBytes {
        SharedBytes(Arc::new(Shared {
            bytes: Cow::Borrowed(bytes),
            held: Mutex::new(None),
        }))
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.bytes.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.bytes.is_empty()
    }

    /// Whether these bytes hold their part of the big-answer budget.
    pub fn is_held(&self) -> bool {
        self.0
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Makes these bytes keep `held` (resized to their length) until the last clone is dropped,
    /// unless they already hold their part: then `held` is given back at once.
    pub fn keep_held(&self, mut held: HeldBytes) {
        let mut slot = self.0.held.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            held.resize(self.len());
            *slot = Some(held);
        }
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl PartialEq for SharedBytes {
    fn eq(&self, other: &SharedBytes) -> bool {
        self.0.bytes == other.0.bytes
    }
}

impl Eq for SharedBytes {}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::budget::ByteBudget;

    fn framed() -> Body {
        Body::framed(
            b"{\"a\":".to_vec(),
            SharedBytes::new(b"[1,2,3]".to_vec()),
            b"}".to_vec(),
        )
    }

    #[test]
    fn static_bytes_are_sent_from_where_they_are() {
        static FILE: &[u8] = b"console.log('a file of the binary');";
        let shared = SharedBytes::from_static(FILE);
        assert_eq!(shared.as_ref().as_ptr(), FILE.as_ptr(), "not copied");
        let body = Body::framed(Vec::new(), shared.clone(), Vec::new());
        assert_eq!(body.bytes().as_ref(), FILE);
        assert_eq!(shared, SharedBytes::new(FILE.to_vec()));
    }

    #[test]
    fn a_framed_body_reads_as_its_parts_in_order() {
        let body = framed();
        assert_eq!((body.len(), &*body.bytes()), (13, &b"{\"a\":[1,2,3]}"[..]));
        assert_eq!(body, b"{\"a\":[1,2,3]}");
        for size in [1, 2, 5, 64] {
            let mut reader = framed().into_reader();
            let (mut out, mut buf) = (Vec::new(), vec![0; size]);
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(out, b"{\"a\":[1,2,3]}", "read {size} bytes at a time");
        }
        let mut plain = String::new();
        Body::from(b"ok".to_vec())
            .into_reader()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "ok");
        assert!(Body::default().is_empty());
    }

    #[test]
    fn shared_bytes_hold_their_budget_once_until_the_last_clone_goes() {
        let budget: &'static ByteBudget = Box::leak(Box::new(ByteBudget::new(100)));
        let shared = SharedBytes::new(vec![7; 40]);
        let body = Body::framed(b"[".to_vec(), shared.clone(), b"]".to_vec());
        assert_eq!(body.unheld_len(), 42, "nothing held yet");
        shared.keep_held(budget.hold(80).unwrap());
        assert_eq!(
            budget.hold(61).unwrap_err().held,
            40,
            "resized to the bytes"
        );
        shared.keep_held(budget.hold(30).unwrap());
        assert_eq!(
            budget.hold(61).unwrap_err().held,
            40,
            "a second hold is given back"
        );
        assert_eq!(body.unheld_len(), 2, "only the head and tail");
        drop(shared);
        assert!(budget.hold(61).is_err(), "the body's clone still holds");
        drop(body);
        drop(budget.hold(100).unwrap());
    }
}
