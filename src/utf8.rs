//! Incremental UTF-8 validation (RFC 6455 §8.1, RFC 3629).
//!
//! A text message arrives in fragments, and each fragment in partial reads;
//! a code point may be split anywhere. The validator keeps the state of an
//! unfinished sequence between calls and fails as soon as the bytes seen so
//! far cannot begin any valid UTF-8 — not only at the end of the message
//! (Autobahn 6.4.x checks exactly this).

/// Validation state between chunks: how many continuation bytes the current
/// sequence still needs, and the range the next one must fall in (the first
/// continuation byte is narrower after E0, ED, F0 and F4, which excludes
/// overlong forms, surrogates and code points above U+10FFFF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Validator {
    need: u8,
    lo: u8,
    hi: u8,
}

/// The bytes can never become valid UTF-8, whatever follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error;

impl Default for Utf8Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Utf8Validator {
    pub const fn new() -> Self {
        Utf8Validator { need: 0, lo: 0x80, hi: 0xBF }
    }

    /// Whether everything fed so far ends on a character boundary, i.e. a
    /// message ending here is valid.
    pub const fn is_complete(&self) -> bool {
        self.need == 0
    }

    /// Feed the next bytes of the text.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Utf8Error> {
        // Finish a sequence left open by the previous chunk, byte by byte.
        while self.need > 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return Ok(());
            };
            self.continuation(b)?;
            bytes = rest;
        }
        // The bulk goes through core's validator, which is fast (it checks
        // whole words of ASCII at a time). An error with no `error_len` means
        // the input merely stops inside a sequence: keep that tail's state.
        match core::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(Utf8Error),
            Err(e) => {
                for &b in bytes.get(e.valid_up_to()..).unwrap_or(&[]) {
                    self.byte(b)?;
                }
                Ok(())
            }
        }
    }

    fn byte(&mut self, b: u8) -> Result<(), Utf8Error> {
        if self.need > 0 {
            return self.continuation(b);
        }
        let (need, lo, hi) = match b {
            0x00..=0x7F => return Ok(()),
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => return Err(Utf8Error),
        };
        *self = Utf8Validator { need, lo, hi };
        Ok(())
    }

    fn continuation(&mut self, b: u8) -> Result<(), Utf8Error> {
        if b < self.lo || b > self.hi {
            return Err(Utf8Error);
        }
        *self = Utf8Validator { need: self.need - 1, lo: 0x80, hi: 0xBF };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn valid_in_pieces(bytes: &[u8], cuts: &[usize]) -> Option<bool> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(core::iter::once(&bytes.len())) {
            let cut = cut.clamp(start, bytes.len());
            if v.feed(&bytes[start..cut]).is_err() {
                return None;
            }
            start = cut;
        }
        Some(v.is_complete())
    }

    #[test]
    fn autobahn_6_x_samples() {
        let good: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            b"\xf4\x8f\xbf\xbf",
            b"\xef\xbf\xbf",
            b"\xed\x9f\xbf",
            b"\xee\x80\x80",
        ];
        for g in good {
            for cut in 0..=g.len() {
                assert_eq!(valid_in_pieces(g, &[cut]), Some(true), "{:x?} cut {}", g, cut);
            }
        }
        // Each fails at its first impossible byte, even with nothing after.
        let bad: &[(&[u8], usize)] = &[
            (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", 13), // surrogate
            (b"\xf4\x90\x80\x80", 2),  // above U+10FFFF
            (b"\xc0\xaf", 1),          // overlong
            (b"\xe0\x80\xaf", 2),      // overlong
            (b"\x80", 1),              // lone continuation
            (b"\xff", 1),
            (b"\xf8\x88\x80\x80\x80", 1),
        ];
        for (b, fail_at) in bad {
            let mut v = Utf8Validator::new();
            assert!(v.feed(&b[..fail_at - 1]).is_ok(), "{:x?}", b);
            assert!(v.feed(&b[fail_at - 1..*fail_at]).is_err(), "{:x?}", b);
        }
        // Truncated: not an error yet, but incomplete.
        assert_eq!(valid_in_pieces(b"\xe2\x82", &[]), Some(false));
    }

    proptest! {
        #[test]
        fn agrees_with_core_on_any_bytes_any_split(bytes in proptest::collection::vec(any::<u8>(), 0..64),
                                                    cuts in proptest::collection::vec(0usize..64, 0..5)) {
            let mut cuts = cuts;
            cuts.sort();
            let expected = core::str::from_utf8(&bytes).is_ok();
            let got = valid_in_pieces(&bytes, &cuts) == Some(true);
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn valid_strings_pass_any_split(s in "\\PC*", cuts in proptest::collection::vec(0usize..256, 0..5)) {
            let mut cuts = cuts;
            cuts.sort();
            prop_assert_eq!(valid_in_pieces(s.as_bytes(), &cuts), Some(true));
        }

        #[test]
        fn fails_at_first_impossible_prefix(bytes in proptest::collection::vec(any::<u8>(), 1..32)) {
            // Feeding byte by byte, the first failure happens exactly at the
            // first prefix that no continuation can make valid.
            let mut v = Utf8Validator::new();
            for i in 0..bytes.len() {
                let failed = v.feed(&bytes[i..i + 1]).is_err();
                let prefix = &bytes[..=i];
                let can_complete = match core::str::from_utf8(prefix) {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none(),
                };
                prop_assert_eq!(failed, !can_complete);
                if failed { break; }
            }
            let _ = Vec::<u8>::new();
        }
    }
}
