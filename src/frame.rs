//! Frame headers (RFC 6455 §5.2) and masking (§5.3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use crate::error::ProtocolError;

/// The longest header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;
/// The largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (§5.2). Reserved values are not representable: decoding
/// fails on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OpCode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for the reserved 3–7 and B–F.
    pub const fn from_u8(value: u8) -> Option<OpCode> {
        match value {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// Control frames have opcodes with the high bit set (§5.5).
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// RSV1–3 as the low three bits.
    pub rsv: u8,
    pub opcode: OpCode,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
}

impl FrameHeader {
    /// The total header length announced by its first two bytes.
    pub const fn len_from_prefix(b1: u8) -> usize {
        let ext = match b1 & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 }
    }

    /// This header's encoded length.
    pub const fn encoded_len(&self) -> usize {
        let ext = if self.payload_len < 126 {
            0
        } else if self.payload_len <= 0xFFFF {
            2
        } else {
            8
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Decode a header from the start of `buf`.
    ///
    /// `Ok(None)` when `buf` does not hold the whole header yet; otherwise
    /// the header and its length. Checks what a header alone can break:
    /// reserved opcodes, control frame rules (§5.5), the length encoding
    /// (§5.2: the most significant bit of a 64-bit length is 0, and the
    /// minimal number of bytes is used). RSV bits and masking depend on the
    /// connection and are checked there.
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let header_len = Self::len_from_prefix(b1);
        let Some(header) = buf.get(..header_len) else {
            return Ok(None);
        };
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode)?;
        let fin = b0 & 0x80 != 0;
        let short_len = b1 & 0x7F;
        let (payload_len, rest) = match (short_len, &header[2..]) {
            (126, [a, b, rest @ ..]) => {
                let len = u16::from_be_bytes([*a, *b]) as u64;
                if len < 126 {
                    return Err(ProtocolError::BadLength);
                }
                (len, rest)
            }
            (127, [a, b, c, d, e, f, g, h, rest @ ..]) => {
                let len = u64::from_be_bytes([*a, *b, *c, *d, *e, *f, *g, *h]);
                if len >> 63 != 0 || len <= 0xFFFF {
                    return Err(ProtocolError::BadLength);
                }
                (len, rest)
            }
            (len, rest) => (len as u64, rest),
        };
        let mask = match rest {
            [a, b, c, d] => Some([*a, *b, *c, *d]),
            _ => None,
        };
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong);
            }
        }
        let header = FrameHeader { fin, rsv: (b0 >> 4) & 0x7, opcode, mask, payload_len };
        Ok(Some((header, header_len)))
    }

    /// Encode into `out`, returning the number of bytes written.
    #[inline(always)] // see ffi::mask_key
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (self.fin as u8) << 7 | (self.rsv & 0x7) << 4 | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = 2;
        if self.payload_len < 126 {
            out[1] = mask_bit | self.payload_len as u8;
        } else if self.payload_len <= 0xFFFF {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            n = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            n = 10;
        }
        if let Some(key) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

/// XOR `buf` with the masking key (§5.3), where `buf` starts `offset` bytes
/// into the payload (so a payload can be (un)masked piece by piece as it
/// arrives). Masking and unmasking are the same operation.
///
/// Works a machine word at a time on aligned words (byte-wise XOR caps a
/// receiver at a fraction of memory bandwidth, and unaligned word access
/// is slow or emulated on some microcontrollers); with SSE2 (x86-64), 16
/// unaligned bytes at a time.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    if buf.len() < 32 {
        // Short payloads (most messages of a device): four bytes at a
        // time without the alignment set-up, which would cost more than it
        // saves.
        mask_short(buf, key);
        return;
    }
    // In place, unaligned machine words lose to aligned ones (the native
    // .mpy's x86-64 target, which has no SSE, read 13% slower at 64 KiB).
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        mask_lanes::<lane::Native>(buf, key);
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        mask_aligned_words(buf, key);
    }
}

/// `apply_mask` four bytes at a time (`key` at `buf`'s phase).
fn mask_short(buf: &mut [u8], key: [u8; 4]) {
    let k = u32::from_ne_bytes(key);
    let (quads, tail) = buf.as_chunks_mut::<4>();
    for q in quads {
        *q = (u32::from_ne_bytes(*q) ^ k).to_ne_bytes();
    }
    xor_bytes(tail, key);
}

/// `apply_mask` on aligned machine words (`key` at `buf`'s phase).
#[cfg(any(not(all(target_arch = "x86_64", target_feature = "sse2")), test))]
fn mask_aligned_words(buf: &mut [u8], key: [u8; 4]) {
    let (head, words, tail) = bytemuck::pod_align_to_mut::<u8, usize>(buf);
    xor_bytes(head, key);
    // A word is a multiple of 4 bytes, so the words and the tail all start
    // at the key phase that follows the head.
    let key = rotate_key(key, head.len());
    let word: usize = bytemuck::cast([u32::from_ne_bytes(key); core::mem::size_of::<usize>() / 4]);
    // Four words a round: the loop's own count and branch are most of the
    // cost of a one-word round (opt-level "s" does not unroll).
    let (rounds, words) = words.as_chunks_mut::<4>();
    for round in rounds {
        round[0] ^= word;
        round[1] ^= word;
        round[2] ^= word;
        round[3] ^= word;
    }
    for w in words.iter_mut() {
        *w ^= word;
    }
    xor_bytes(tail, key);
}

/// `apply_mask` a lane `L` (16 bytes) at a time, unaligned (`key` at
/// `buf`'s phase); the last bytes four at a time.
#[cfg(any(all(target_arch = "x86_64", target_feature = "sse2"), test))]
fn mask_lanes<L: lane::Lane>(buf: &mut [u8], key: [u8; 4]) {
    let k = L::splat(key);
    let (lanes, tail) = buf.as_chunks_mut::<16>();
    let (rounds, lanes) = lanes.as_chunks_mut::<4>();
    for round in rounds {
        round[0] = L::xor(round[0], k);
        round[1] = L::xor(round[1], k);
        round[2] = L::xor(round[2], k);
        round[3] = L::xor(round[3], k);
    }
    for l in lanes.iter_mut() {
        *l = L::xor(*l, k);
    }
    // 16 is a multiple of 4: the tail starts at the key's phase 0.
    mask_short(tail, key);
}

/// Copy `src` into `dst` masked with `key` (for a client's outgoing frame:
/// the caller's data is left as it was). Copies `min(len)` bytes.
#[inline(always)]
pub fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    let n = src.len().min(dst.len());
    // In one pass where unaligned word reads cost what aligned ones do (the
    // unix port's hosts); a board keeps the copy and the in-place mask,
    // which take less flash and, without unaligned access (Xtensa, RV32,
    // Cortex-M0), would read a misaligned source a byte at a time.
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    if key != [0; 4] && n >= 32 {
        mask_words_into::<lane::Native>(&mut dst[..n], &src[..n], key, offset);
        return;
    }
    dst[..n].copy_from_slice(&src[..n]);
    // The server role's "key" is all zeros (it does not mask, §5.1): a
    // plain copy then.
    if key != [0; 4] {
        apply_mask(&mut dst[..n], key, offset);
    }
}

/// `mask_into` of 32 bytes or more, with a key, in one pass (a copy and
/// then an in-place mask read and write every byte twice), a lane `L` at a
/// time, read and written unaligned (which costs these hosts about what
/// aligned access does). The bytes after the last whole lane are the end
/// of one more lane that overlaps the one before: no byte-wise loop at
/// either end.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64", test))]
#[inline(never)]
fn mask_words_into<L: lane::Lane>(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    let n = dst.len().min(src.len());
    let (Some(dst), Some(src)) = (dst.get_mut(..n), src.get(..n)) else { return };
    let key = rotate_key(key, offset);
    // A lane is a multiple of 4 bytes: every lane starts at the key's phase 0.
    let k = L::splat(key);
    let (lanes, _) = dst.as_chunks_mut::<16>();
    let (src_lanes, _) = src.as_chunks::<16>();
    // Four lanes a round, as in mask_aligned_words.
    let (rounds, lanes) = lanes.as_chunks_mut::<4>();
    let (src_rounds, src_lanes) = src_lanes.as_chunks::<4>();
    for (round, from) in rounds.iter_mut().zip(src_rounds) {
        round[0] = L::xor(from[0], k);
        round[1] = L::xor(from[1], k);
        round[2] = L::xor(from[2], k);
        round[3] = L::xor(from[3], k);
    }
    for (l, from) in lanes.iter_mut().zip(src_lanes) {
        *l = L::xor(*from, k);
    }
    if n % 16 != 0 {
        let (Some(l), Some(from)) = (dst.last_chunk_mut::<16>(), src.last_chunk::<16>()) else { return };
        *l = L::xor(*from, L::splat(rotate_key(key, n - 16)));
    }
}

/// What `mask_words_into` XORs 16 bytes with: one SSE2 register on x86-64
/// (every x86-64 has SSE2; at opt-level "s" the compiler does not
/// vectorize the loop itself), two machine words elsewhere.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64", test))]
mod lane {
    pub trait Lane: Copy {
        /// The key (at phase 0) repeated across 16 bytes.
        fn splat(key: [u8; 4]) -> Self;
        fn xor(bytes: [u8; 16], k: Self) -> [u8; 16];
    }

    /// The lane of this build's machine.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    pub type Native = core::arch::x86_64::__m128i;
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    pub type Native = Words;

    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    impl Lane for core::arch::x86_64::__m128i {
        #[inline(always)]
        fn splat(key: [u8; 4]) -> Self {
            bytemuck::cast([u32::from_ne_bytes(key); 4])
        }

        #[inline(always)]
        #[allow(unsafe_code)]
        fn xor(bytes: [u8; 16], k: Self) -> [u8; 16] {
            // SAFETY: the only requirement is the CPU feature, and this
            // build targets SSE2 (cfg above; every x86-64 has it).
            // (`__m128i` has no `^`: the intrinsic.)
            bytemuck::cast(unsafe { core::arch::x86_64::_mm_xor_si128(bytemuck::cast(bytes), k) })
        }
    }

    /// 16 bytes as two 64-bit words (x86-64 uses it only in the tests and in
    /// the native .mpy, whose target has no SSE).
    #[derive(Clone, Copy)]
    #[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
    pub struct Words(u64, u64);

    impl Lane for Words {
        #[inline(always)]
        fn splat(key: [u8; 4]) -> Self {
            let k = u64::from(u32::from_ne_bytes(key));
            Words(k | k << 32, k | k << 32)
        }

        // Each word by name: at opt-level "s" a loop over the two is kept,
        // and the lane goes through the stack.
        #[inline(always)]
        fn xor(bytes: [u8; 16], k: Self) -> [u8; 16] {
            let [a, b]: [u64; 2] = bytemuck::cast(bytes);
            bytemuck::cast([a ^ k.0, b ^ k.1])
        }
    }
}

fn xor_bytes(buf: &mut [u8], key: [u8; 4]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// The key as seen from `offset` bytes into the payload.
const fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset & 3;
    [key[r], key[(r + 1) & 3], key[(r + 2) & 3], key[(r + 3) & 3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn decode_all(bytes: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::decode(bytes).unwrap().unwrap()
    }

    #[test]
    fn rfc_5_7_examples() {
        // A single-frame unmasked text message "Hello".
        let (h, n) = decode_all(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!((h.fin, h.opcode, h.mask, h.payload_len, n), (true, OpCode::Text, None, 5, 2));
        // A single-frame masked text message "Hello".
        let mut frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let (h, n) = decode_all(&frame);
        assert_eq!(n, 6);
        apply_mask(&mut frame[6..], h.mask.unwrap(), 0);
        assert_eq!(&frame[6..], b"Hello");
        // A fragmented unmasked text message: "Hel" then "lo".
        let (h, _) = decode_all(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, _) = decode_all(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // Unmasked Ping, then a masked Pong, both with body "Hello".
        let (h, _) = decode_all(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(h.opcode, OpCode::Ping);
        let (h, _) = decode_all(&[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        assert_eq!(h.opcode, OpCode::Pong);
        // 256 bytes binary message in a single unmasked frame.
        let (h, n) = decode_all(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!((h.payload_len, n), (256, 4));
        // 64KiB binary message in a single unmasked frame.
        let (h, n) = decode_all(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn every_length_class_round_trips() {
        for &len in &[0u64, 1, 125, 126, 127, 0xFFFF, 0x1_0000, 1 << 40, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask, payload_len: len };
                let mut out = [0u8; MAX_HEADER_LEN];
                let n = h.encode(&mut out);
                assert_eq!(n, h.encoded_len());
                assert_eq!(FrameHeader::len_from_prefix(out[1]), n);
                for cut in 0..n {
                    assert_eq!(FrameHeader::decode(&out[..cut]), Ok(None));
                }
                assert_eq!(FrameHeader::decode(&out[..n]), Ok(Some((h, n))));
            }
        }
    }

    #[test]
    fn header_rules() {
        assert_eq!(FrameHeader::decode(&[0x83, 0]), Err(ProtocolError::ReservedOpcode));
        assert_eq!(FrameHeader::decode(&[0x8F, 0]), Err(ProtocolError::ReservedOpcode));
        assert_eq!(FrameHeader::decode(&[0x09, 0]), Err(ProtocolError::FragmentedControlFrame));
        assert_eq!(FrameHeader::decode(&[0x89, 126, 0, 126]), Err(ProtocolError::ControlFrameTooLong));
        assert_eq!(FrameHeader::decode(&[0x82, 126, 0, 125]), Err(ProtocolError::BadLength));
        assert_eq!(FrameHeader::decode(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]), Err(ProtocolError::BadLength));
        assert_eq!(FrameHeader::decode(&[0x82, 127, 0x80, 0, 0, 0, 0, 1, 0, 0]), Err(ProtocolError::BadLength));
        let (h, _) = decode_all(&[0xF2, 0]);
        assert_eq!(h.rsv, 7);
    }

    #[test]
    fn masking_matches_bytewise_at_every_offset_and_alignment() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..9 {
            for offset in 0..5 {
                for len in [0, 1, 3, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 79, 100, 127, 128, 129, 190, 191] {
                    // apply_mask, and each of the ways it masks on some target.
                    let masks: [fn(&mut [u8], [u8; 4], usize); 4] = [
                        apply_mask,
                        |b, k, o| mask_aligned_words(b, rotate_key(k, o)),
                        |b, k, o| mask_lanes::<lane::Native>(b, rotate_key(k, o)),
                        |b, k, o| mask_lanes::<lane::Words>(b, rotate_key(k, o)),
                    ];
                    for mask in masks {
                        let mut buf = data.clone();
                        let piece = &mut buf[start..start + len];
                        mask(piece, key, offset);
                        for (i, b) in piece.iter().enumerate() {
                            assert_eq!(*b, data[start + i] ^ key[(offset + i) % 4]);
                        }
                        assert_eq!(buf[..start], data[..start]);
                        assert_eq!(buf[start + len..], data[start + len..]);
                    }
                }
            }
        }
    }

    #[test]
    fn masked_copy_matches_bytewise_at_every_offset_and_both_alignments() {
        // The source and the destination at any alignment; lengths around
        // the 16-byte lanes and the 64-byte rounds of the one-pass copy,
        // which runs for 32 bytes or more (on every host in the test: with
        // each kind of lane, SSE2 and machine words, where the host has both).
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        type Copy = fn(&mut [u8], &[u8], [u8; 4], usize);
        // Each copy with the shortest length it is called for.
        let copies: [(Copy, usize); 3] =
            [(mask_into, 0), (mask_words_into::<lane::Native>, 32), (mask_words_into::<lane::Words>, 32)];
        for src_start in 0..9 {
            for dst_start in 0..9 {
                for offset in 0..5 {
                    for len in [0, 1, 3, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 79, 100, 127, 128, 129, 190, 191] {
                        for (copy, _) in copies.iter().filter(|(_, shortest)| len >= *shortest) {
                            let mut out = [0xAAu8; 200];
                            copy(&mut out[dst_start..dst_start + len], &data[src_start..src_start + len], key, offset);
                            for i in 0..len {
                                assert_eq!(out[dst_start + i], data[src_start + i] ^ key[(offset + i) % 4]);
                            }
                            assert!(out[..dst_start].iter().chain(&out[dst_start + len..]).all(|&b| b == 0xAA));
                        }
                        // The server role's all-zero key copies.
                        let mut plain = [0u8; 200];
                        mask_into(&mut plain[dst_start..dst_start + len], &data[src_start..src_start + len], [0; 4], offset);
                        assert_eq!(&plain[dst_start..dst_start + len], &data[src_start..src_start + len]);
                    }
                }
            }
        }
        // Lengths differ: the shorter one's worth.
        let mut short = [0u8; 5];
        mask_into(&mut short, &data, key, 0);
        assert_eq!(short, [data[0] ^ 0x37, data[1] ^ 0xfa, data[2] ^ 0x21, data[3] ^ 0x3d, data[4] ^ 0x37]);
    }

    #[test]
    fn mask_in_pieces_equals_mask_whole() {
        let key = [9, 8, 7, 6];
        let data: Vec<u8> = (0..100u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = data.clone();
        let (a, b) = pieces.split_at_mut(13);
        apply_mask(a, key, 0);
        apply_mask(b, key, 13);
        assert_eq!(whole, pieces);
        let mut copy = [0u8; 100];
        mask_into(&mut copy, &data, key, 0);
        assert_eq!(&copy[..], &whole[..]);
    }
}
