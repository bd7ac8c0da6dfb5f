//! Base64 with the standard alphabet and padding (RFC 4648 §4), for the
//! handshake keys (RFC 6455 §4.1, §4.2.2) and Basic credentials (RFC 7617).
//!
//! Written here rather than taken from a crate because every path must be
//! free of panics (see `tools/panic_check.sh`): each index below is masked
//! or checked.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Length of the encoding of `n` bytes, or `None` if it overflows.
pub const fn encoded_len(n: usize) -> Option<usize> {
    n.div_ceil(3).checked_mul(4)
}

/// Encode `input` into the start of `out`; the length written, or `None`
/// when `out` is too small.
pub fn encode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = encoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    for (src, dst) in input.chunks(3).zip(out.chunks_exact_mut(4)) {
        let byte = |i: usize| u32::from(src.get(i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        let sym = |shift: u32| ALPHABET[((n >> shift) & 63) as usize];
        if let [a, b, c, d] = dst {
            *a = sym(18);
            *b = sym(12);
            *c = if src.len() > 1 { sym(6) } else { b'=' };
            *d = if src.len() > 2 { sym(0) } else { b'=' };
        }
    }
    Some(len)
}

fn value(symbol: u8) -> Option<u32> {
    let v = match symbol {
        b'A'..=b'Z' => symbol - b'A',
        b'a'..=b'z' => symbol - b'a' + 26,
        b'0'..=b'9' => symbol - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decode canonical padded base64 into the start of `out`: the length
/// written, or `None` for anything else (a length not a multiple of 4,
/// symbols outside the alphabet, padding inside, unused bits set) or when
/// `out` is too small.
pub fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    if input.len() % 4 != 0 {
        return None;
    }
    let quads = input.len() / 4;
    let mut written = 0usize;
    for (i, quad) in input.chunks_exact(4).enumerate() {
        let [a, b, c, d] = *quad else {
            return None;
        };
        let pad = match (i + 1 == quads, c, d) {
            (true, b'=', b'=') => 2,
            (true, _, b'=') => 1,
            _ => 0,
        };
        let c = if pad == 2 { 0 } else { value(c)? };
        let d = if pad >= 1 { 0 } else { value(d)? };
        let n = value(a)? << 18 | value(b)? << 12 | c << 6 | d;
        // RFC 4648 §3.5: the bits the padding leaves unused are zero.
        if (pad == 2 && n & 0xFFFF != 0) || (pad == 1 && n & 0xFF != 0) {
            return None;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        for byte in bytes.iter().take(3 - pad) {
            *out.get_mut(written)? = *byte;
            written += 1;
        }
    }
    Some(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use proptest::prelude::*;
    use std::vec;

    #[test]
    fn rfc_4648_vectors() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            let mut out = [0u8; 16];
            let n = encode(plain, &mut out).unwrap();
            assert_eq!(&out[..n], *coded);
            assert_eq!(encode(plain, &mut out[..n.saturating_sub(1)]), if n == 0 { Some(0) } else { None });
            let n = decode(coded, &mut out).unwrap();
            assert_eq!(&out[..n], *plain);
        }
    }

    #[test]
    fn refuses_what_is_not_canonical() {
        let mut out = [0u8; 16];
        for bad in [&b"Zg="[..], b"Zh==", b"Zm9=", b"Z===", b"Zg==Zg==", b"Zm 9", b"Zm9v\n", b"=Zg="] {
            assert_eq!(decode(bad, &mut out), None, "{:?}", bad);
        }
        assert_eq!(decode(b"Zm9v", &mut out[..2]), None);
    }

    proptest! {
        #[test]
        fn agrees_with_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut out = vec![0u8; 120];
            let n = encode(&bytes, &mut out).unwrap();
            let expected = STANDARD.encode(&bytes);
            prop_assert_eq!(&out[..n], expected.as_bytes());
            let mut back = vec![0u8; 80];
            let m = decode(&out[..n], &mut back).unwrap();
            prop_assert_eq!(&back[..m], &bytes[..]);
        }

        #[test]
        fn decodes_exactly_what_the_crate_accepts(text in "[A-Za-z0-9+/=]{0,12}") {
            let mut out = [0u8; 16];
            let ours = decode(text.as_bytes(), &mut out).map(|n| out[..n].to_vec());
            prop_assert_eq!(ours, STANDARD.decode(text.as_bytes()).ok());
        }
    }
}
