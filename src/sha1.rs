//! SHA-1 (FIPS 180-4), for `Sec-WebSocket-Accept` (RFC 6455 §4.2.2), where
//! no security rests on it, and to stretch a secret seed into masking keys
//! (`ffi::uws_random_block`), which need only be unpredictable to the peer. Written here rather than taken from a
//! crate because every path must be free of panics (see
//! `tools/panic_check.sh`); the message schedule is a 16-word ring indexed
//! modulo 16.

/// A running SHA-1 computation.
#[derive(Clone)]
pub struct Sha1 {
    state: [u32; 5],
    block: [u8; 64],
    used: usize,
    len: u64,
}

impl Default for Sha1 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha1 {
    pub const fn new() -> Self {
        Sha1 {
            state: [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0],
            block: [0; 64],
            used: 0,
            len: 0,
        }
    }

    /// Feed more of the message.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let Some(free) = self.block.get_mut(self.used..) else {
                return;
            };
            let n = free.len().min(data.len());
            let (Some(dst), Some((now, rest))) = (free.get_mut(..n), data.split_at_checked(n)) else {
                return;
            };
            dst.copy_from_slice(now);
            self.used += n;
            self.len = self.len.wrapping_add(n as u64);
            data = rest;
            if self.used == 64 {
                compress(&mut self.state, &self.block);
                self.used = 0;
            }
        }
    }

    /// The 20-byte digest of everything fed.
    pub fn digest(mut self) -> [u8; 20] {
        let bits = self.len.wrapping_mul(8);
        self.update(&[0x80]);
        while self.used != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let mut out = [0u8; 20];
        for (dst, word) in out.chunks_exact_mut(4).zip(self.state) {
            dst.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
    let mut w = [0u32; 16];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        if let [a, b, c, d] = *bytes {
            *word = u32::from_be_bytes([a, b, c, d]);
        }
    }
    let [mut a, mut b, mut c, mut d, mut e] = *state;
    for t in 0..80usize {
        let wt = if t < 16 {
            w[t & 15]
        } else {
            // W[t] = ROTL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]), in the ring.
            let x = (w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[t & 15]).rotate_left(1);
            w[t & 15] = x;
            x
        };
        let (f, k) = match t / 20 {
            0 => ((b & c) | (!b & d), 0x5A82_7999),
            1 => (b ^ c ^ d, 0x6ED9_EBA1),
            2 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let temp = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(wt);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(bytes: &[u8]) -> std::string::String {
        bytes.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    #[test]
    fn fips_180_vectors() {
        let digest = |m: &[u8]| {
            let mut s = Sha1::new();
            s.update(m);
            hex(&s.digest())
        };
        assert_eq!(digest(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(digest(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        let mut s = Sha1::new();
        for _ in 0..1000 {
            s.update(&[b'a'; 1000]);
        }
        assert_eq!(hex(&s.digest()), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }

    proptest! {
        #[test]
        fn agrees_with_sha1_smol_in_any_pieces(bytes in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
            let cut = cut.min(bytes.len());
            let mut ours = Sha1::new();
            ours.update(&bytes[..cut]);
            ours.update(&bytes[cut..]);
            let theirs = sha1_smol::Sha1::from(&bytes).digest().bytes();
            prop_assert_eq!(ours.digest(), theirs);
        }
    }
}
