//! Generated ticket codes (SPEC §8, `POST /events/{event_id}/tickets/generate`): ids nobody can
//! guess, that a person can read aloud or type from a paper ticket.
//!
//! A code is [`SYMBOLS`] symbols of the 31-symbol [`ALPHABET`], which leaves out the look-alikes
//! `0 O 1 I L`, grouped by four with `-` (`7F3K-9QZ2-M4XD-H6TR-P`), after an optional prefix of
//! 1..=8 characters `A-Z0-9` and a `-` (`KK-7F3K-9QZ2-M4XD-H6TR-P`). 17 symbols of 31 carry
//! 17 · log2 31 ≈ 84.2 bits, over the 80 the SPEC asks for, so a made-up code gets in with odds of
//! about one in 2^84 per ticket on the list.
//!
//! The bits come from the operating system ([`getrandom`]), never from a seeded generator in the
//! process. Each symbol is one random byte: bytes of 248 (8 · 31) and up are thrown away and the
//! rest taken modulo 31, so every symbol is exactly equally likely; `byte % 31` on every byte would
//! make the first eight symbols 9/8 as likely as the others.

use std::collections::HashSet;
use std::fmt;

/// The symbols a code is made of: digits and capitals without `0 O 1 I L`.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// How many symbols a code has, prefix aside.
pub const SYMBOLS: usize = 17;

/// The longest prefix, in characters.
pub const MAX_PREFIX_CHARS: usize = 8;

/// How many candidates in a row `taken` may refuse before [`generate`] gives up. A random code is
/// taken with odds of one in 2^84 per code in use, so this many refusals in a row means that
/// `taken` refuses everything; the bound turns that bug into an error instead of an endless loop.
pub const MAX_ATTEMPTS_PER_CODE: usize = 1_000;

/// The largest byte taken (exclusive): the largest multiple of 31 that fits in a byte.
const ACCEPT_BELOW: u8 = 248;

/// Why no codes were generated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeError {
    /// The prefix is not 1..=8 characters `A-Z0-9`.
    BadPrefix,
    /// The operating system gave no random bytes.
    Random(getrandom::Error),
    /// `taken` refused [`MAX_ATTEMPTS_PER_CODE`] fresh codes in a row.
    Exhausted,
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadPrefix => write!(
                f,
                "a prefix must be 1 to {MAX_PREFIX_CHARS} characters A-Z or 0-9"
            ),
            Self::Random(e) => write!(f, "the operating system gave no random bytes: {e}"),
            Self::Exhausted => write!(
                f,
                "{MAX_ATTEMPTS_PER_CODE} random codes in a row were all taken"
            ),
        }
    }
}

impl std::error::Error for CodeError {}

/// Whether `prefix` may start a code: 1..=8 characters `A-Z0-9`.
pub fn valid_prefix(prefix: &str) -> bool {
    (1..=MAX_PREFIX_CHARS).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `count` new codes after `prefix`, none of them twice and none for which `taken` is true (the
/// event's existing tickets, say).
pub fn generate(
    prefix: Option<&str>,
    count: usize,
    taken: impl Fn(&str) -> bool,
) -> Result<Vec<String>, CodeError> {
    let mut os = OsBytes::default();
    generate_from(prefix, count, taken, || os.next())
}

/// [`generate`] with the random bytes from `byte`, so that tests can script them.
fn generate_from(
    prefix: Option<&str>,
    count: usize,
    taken: impl Fn(&str) -> bool,
    mut byte: impl FnMut() -> Result<u8, getrandom::Error>,
) -> Result<Vec<String>, CodeError> {
    if prefix.is_some_and(|p| !valid_prefix(p)) {
        return Err(CodeError::BadPrefix);
    }
    let mut codes = Vec::with_capacity(count);
    let mut made = HashSet::with_capacity(count);
    while codes.len() < count {
        let mut attempts = 0;
        let code = loop {
            if attempts == MAX_ATTEMPTS_PER_CODE {
                return Err(CodeError::Exhausted);
            }
            attempts += 1;
            let code = one(prefix, &mut byte).map_err(CodeError::Random)?;
            if !made.contains(&code) && !taken(&code) {
                break code;
            }
        };
        made.insert(code.clone());
        codes.push(code);
    }
    Ok(codes)
}

/// One code from the bytes of `byte`.
fn one(
    prefix: Option<&str>,
    byte: &mut impl FnMut() -> Result<u8, getrandom::Error>,
) -> Result<String, getrandom::Error> {
    let mut code = String::with_capacity(MAX_PREFIX_CHARS + 1 + SYMBOLS + SYMBOLS / 4);
    if let Some(prefix) = prefix {
        code.push_str(prefix);
        code.push('-');
    }
    for position in 0..SYMBOLS {
        if position > 0 && position % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(symbol(byte)?));
    }
    Ok(code)
}

/// One symbol, uniformly: bytes of [`ACCEPT_BELOW`] and up are thrown away.
fn symbol(byte: &mut impl FnMut() -> Result<u8, getrandom::Error>) -> Result<u8, getrandom::Error> {
    loop {
        let b = byte()?;
        if b < ACCEPT_BELOW {
            return Ok(ALPHABET[usize::from(b % 31)]);
        }
    }
}

/// The operating system's random bytes, fetched a block at a time (one system call per few codes
/// rather than per byte).
struct OsBytes {
    block: [u8; 256],
    used: usize,
}

impl Default for OsBytes {
    fn default() -> OsBytes {
        OsBytes {
            block: [0; 256],
            used: 256,
        }
    }
}

impl OsBytes {
    fn next(&mut self) -> Result<u8, getrandom::Error> {
        if self.used == self.block.len() {
            getrandom::fill(&mut self.block)?;
            self.used = 0;
        }
        self.used += 1;
        Ok(self.block[self.used - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    const GROUPS: &str =
        "[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]";

    /// Bytes from a script, in turn and then again from the start.
    fn script(bytes: &[u8]) -> impl FnMut() -> Result<u8, getrandom::Error> + '_ {
        let mut next = bytes.iter().copied().cycle();
        move || Ok(next.next().expect("a script of at least one byte"))
    }

    #[test]
    fn the_alphabet_has_no_look_alikes() {
        assert_eq!(ALPHABET.len(), 31);
        assert_eq!(ALPHABET.iter().collect::<HashSet<_>>().len(), 31);
        for look_alike in b"0O1IL" {
            assert!(
                !ALPHABET.contains(look_alike),
                "{}",
                char::from(*look_alike)
            );
        }
        assert!(ALPHABET
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        // At least 80 bits.
        assert!(SYMBOLS as f64 * 31f64.log2() >= 80.0);
    }

    #[test]
    fn a_hundred_thousand_codes_are_distinct_and_well_formed() {
        let pattern = Regex::new(&format!("^{GROUPS}$")).unwrap();
        let codes = generate(None, 100_000, |_| false).unwrap();
        assert_eq!(codes.len(), 100_000);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 100_000);
        for code in &codes {
            assert!(pattern.is_match(code), "{code}");
        }
        let pattern = Regex::new(&format!("^KK-{GROUPS}$")).unwrap();
        for code in generate(Some("KK"), 1_000, |_| false).unwrap() {
            assert!(pattern.is_match(&code), "{code}");
        }
        assert!(generate(None, 0, |_| false).unwrap().is_empty());
    }

    #[test]
    fn the_bytes_map_to_symbols_and_large_bytes_are_thrown_away() {
        // 0 -> '2', 30 -> 'Z', 31 -> '2' again, 247 (= 7 * 31 + 30) -> 'Z'; 248..=255 skipped.
        let bytes = [
            0, 30, 31, 247, 248, 255, 8, 9, 250, 10, 16, 17, 18, 19, 20, 21, 22, 23, 24, 29,
        ];
        let codes = generate_from(Some("A1"), 1, |_| false, script(&bytes)).unwrap();
        assert_eq!(codes, ["A1-2Z2Z-ABCJ-KMNP-QRST-Y"]);
    }

    #[test]
    fn taken_codes_and_repeats_are_drawn_again() {
        let twos = [0; SYMBOLS];
        let threes = [1; SYMBOLS];
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&twos);
        bytes.extend_from_slice(&twos);
        bytes.extend_from_slice(&threes);
        bytes.extend_from_slice(&twos);
        bytes.extend_from_slice(&[2; SYMBOLS]);
        let all_twos = "2222-2222-2222-2222-2";
        let codes = generate_from(None, 1, |c| c == all_twos, script(&bytes)).unwrap();
        assert_eq!(codes, ["3333-3333-3333-3333-3"]);
        let codes = generate_from(None, 3, |_| false, script(&bytes)).unwrap();
        assert_eq!(
            codes,
            [all_twos, "3333-3333-3333-3333-3", "4444-4444-4444-4444-4"]
        );
    }

    #[test]
    fn none_equals_a_taken_one() {
        let first: HashSet<String> = generate(None, 2_000, |_| false)
            .unwrap()
            .into_iter()
            .collect();
        let second = generate(None, 2_000, |c| first.contains(c)).unwrap();
        assert!(second.iter().all(|c| !first.contains(c)));
        // With a scripted source that keeps offering the taken code, it is never returned.
        let taken: HashSet<String> = ["2222-2222-2222-2222-2".to_owned()].into();
        let bytes = [[0; SYMBOLS], [0; SYMBOLS], [0; SYMBOLS], [5; SYMBOLS]].concat();
        let codes = generate_from(None, 1, |c| taken.contains(c), script(&bytes)).unwrap();
        assert_eq!(codes, ["7777-7777-7777-7777-7"]);
    }

    #[test]
    fn a_taken_that_refuses_everything_is_an_error_not_a_hang() {
        assert_eq!(generate(None, 1, |_| true), Err(CodeError::Exhausted));
        assert_eq!(
            generate_from(None, 2, |_| false, script(&[0])),
            Err(CodeError::Exhausted),
            "a source stuck on one code"
        );
    }

    #[test]
    fn a_failing_source_is_an_error() {
        let failing = || Err(getrandom::Error::UNSUPPORTED);
        assert_eq!(
            generate_from(None, 1, |_| false, failing),
            Err(CodeError::Random(getrandom::Error::UNSUPPORTED))
        );
    }

    #[test]
    fn prefixes() {
        for good in ["A", "KK", "Z9", "2026", "ABCD1234", "0OIL1"] {
            assert!(valid_prefix(good), "{good}");
            assert!(generate(Some(good), 1, |_| false).unwrap()[0].starts_with(&format!("{good}-")));
        }
        for bad in ["", "kk", "ABCDEFGHI", "K-K", "K K", "ÄB", "K_", "KK-"] {
            assert!(!valid_prefix(bad), "{bad}");
            assert_eq!(generate(Some(bad), 1, |_| false), Err(CodeError::BadPrefix));
        }
    }

    /// Pearson's statistic of `counts` against equal odds for each of the 31 symbols.
    fn chi_square(counts: &[u64; 31]) -> f64 {
        let total: u64 = counts.iter().sum();
        let expected = total as f64 / 31.0;
        counts
            .iter()
            .map(|&n| (n as f64 - expected).powi(2) / expected)
            .sum()
    }

    /// For 30 degrees of freedom, a uniform source exceeds this with probability 4.6e-11
    /// (`exp(-x/2) · Σ_{i<15} (x/2)^i / i!` at x = 110), far below 1e-9.
    const BOUND: f64 = 110.0;

    /// 1.24 million symbols: a `% 31` bias shifts the statistic by about `SAMPLES · 0.0028` ≈
    /// 3,500, far past the bound.
    const SAMPLES: usize = 31 * 40_000;

    #[test]
    fn the_symbols_are_uniform() {
        let mut os = OsBytes::default();
        let mut counts = [0u64; 31];
        for _ in 0..SAMPLES {
            let s = symbol(&mut || os.next()).unwrap();
            counts[ALPHABET.iter().position(|&a| a == s).unwrap()] += 1;
        }
        let statistic = chi_square(&counts);
        assert!(statistic < BOUND, "chi-square {statistic} for {counts:?}");
    }

    #[test]
    fn the_uniformity_check_catches_a_modulo_bias() {
        let mut os = OsBytes::default();
        let mut counts = [0u64; 31];
        for _ in 0..SAMPLES {
            counts[usize::from(os.next().unwrap() % 31)] += 1;
        }
        let statistic = chi_square(&counts);
        assert!(statistic > BOUND, "chi-square {statistic} for {counts:?}");
    }
}
