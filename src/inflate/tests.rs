//! The decoder against RFC 7692's examples, RFC 1951's corner cases, and
//! miniz_oxide's encoder at every level and strategy, fed in every split.

use super::*;
use miniz_oxide::deflate::core::{compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus};
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// RFC 7692 §7.2.2: what the receiver appends to each message.
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A decoder and its window, as a host holds them.
pub(crate) struct Decoder {
    pub state: InflateState,
    pub window: Vec<u8>,
}

impl Decoder {
    pub fn new(window_bits: u8) -> Self {
        let state = InflateState::new(window_bits);
        let window = vec![0u8; state.window_len()];
        Decoder { state, window }
    }

    /// Decode one message's payload (tail appended), input in pieces of
    /// `in_step` bytes and output in pieces of `out_step`.
    pub fn message(&mut self, payload: &[u8], in_step: usize, out_step: usize, keep: bool) -> Result<Vec<u8>, InflateError> {
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::new();
        let mut at: usize = 0;
        let mut idle = 0;
        loop {
            let end = at.saturating_add(in_step).min(input.len());
            let mut buf = vec![0u8; out_step];
            let p = self.state.inflate(&mut self.window, &input[at..end], &mut buf)?;
            out.extend_from_slice(&buf[..p.produced]);
            at += p.consumed;
            if p.status != Status::OutputFull && at == input.len() {
                break;
            }
            idle = if p.consumed == 0 && p.produced == 0 { idle + 1 } else { 0 };
            assert!(idle < 3, "no progress");
        }
        self.state.end_message(keep)?;
        Ok(out)
    }
}

/// miniz_oxide's raw deflate of each message, sync-flushed, with the
/// trailing 00 00 ff ff removed (RFC 7692 §7.2.1).
pub(crate) fn miniz_messages(messages: &[Vec<u8>], level: i32, strategy: i32) -> Vec<Vec<u8>> {
    let mut d = CompressorOxide::new(create_comp_flags_from_zip_params(level, -15, strategy));
    messages
        .iter()
        .map(|m| {
            let mut out = vec![0u8; m.len() * 2 + 64];
            let (status, consumed, written) = compress(&mut d, m, &mut out, TDEFLFlush::Sync);
            assert_eq!((status, consumed), (TDEFLStatus::Okay, m.len()));
            out.truncate(written);
            assert!(out.ends_with(&TAIL));
            out.truncate(written - 4);
            out
        })
        .collect()
}

fn decode_one(bits: u8, payload: &[u8]) -> Result<Vec<u8>, InflateError> {
    Decoder::new(bits).message(payload, usize::MAX, 1 << 20, true)
}

#[test]
fn rfc7692_examples() {
    // §7.2.3.1: "Hello" in one compressed block.
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(decode_one(15, &hello).unwrap(), b"Hello");
    // §7.2.3.2: with the window shared, the second "Hello" is a match.
    let mut d = Decoder::new(15);
    assert_eq!(d.message(&hello, 100, 100, true).unwrap(), b"Hello");
    assert_eq!(d.message(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100, 100, true).unwrap(), b"Hello");
    // Without context takeover the second refers to nothing: refused.
    let mut d = Decoder::new(15);
    d.message(&hello, 100, 100, false).unwrap();
    assert_eq!(d.message(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100, 100, false), Err(InflateError::DistanceTooFar));
    // §7.2.3.3: a stored block.
    assert_eq!(decode_one(15, &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]).unwrap(), b"Hello");
    // §7.2.3.4: a block with BFINAL set; what follows is ignored.
    assert_eq!(decode_one(15, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]).unwrap(), b"Hello");
    // §7.2.3.5: two blocks in one message.
    let two = [0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(decode_one(15, &two).unwrap(), b"Hello");
    // §7.2.3.6: an empty message is one 00 byte.
    assert_eq!(decode_one(15, &[0x00]).unwrap(), b"");
}

#[test]
fn every_split_and_output_size() {
    let messages: Vec<Vec<u8>> = vec![
        b"{\"temp\": 21.5, \"humidity\": 40, \"temp\": 21.5, \"humidity\": 41}".to_vec(),
        (0..3000u32).map(|i| (i * i % 251) as u8).collect(),
        b"{\"temp\": 21.5, \"humidity\": 40}".to_vec(),
    ];
    for level in [1, 6, 9] {
        for strategy in [0, 2, 3, 4] {
            let wire = miniz_messages(&messages, level, strategy);
            for (in_step, out_step) in [(1, 1), (1, 7), (3, 1000), (usize::MAX, 1), (usize::MAX, 5000)] {
                let mut d = Decoder::new(15);
                for (m, w) in messages.iter().zip(&wire) {
                    assert_eq!(&d.message(w, in_step, out_step, true).unwrap(), m, "level {level} strategy {strategy}");
                }
            }
        }
    }
}

#[test]
fn rfc1951_corner_cases() {
    // Reserved block type 11.
    assert_eq!(decode_one(15, &[0x06]), Err(InflateError::ReservedBlockType));
    // Stored block whose NLEN is not LEN's complement.
    assert_eq!(decode_one(15, &[0x00, 0x05, 0x00, 0xfa, 0xfe, 1, 2, 3, 4, 5]), Err(InflateError::StoredLength));
    // A distance before the start of the stream (fixed block, match first).
    assert_eq!(decode_one(15, &[0x02, 0x02, 0x00]).unwrap_err(), InflateError::DistanceTooFar);
    // A message ending inside a block: the tail cannot close it.
    assert_eq!(decode_one(15, &[0xf2, 0x48, 0xcd]), Err(InflateError::Truncated));
    // Fixed-code length symbols 286-287 and distance symbols 30-31 do not
    // occur: 287 is 11000111, then 7 zero bits.
    let mut bits = BitWriter::default();
    bits.put(0b010, 3);
    bits.put_code(0b1100_0111, 8);
    bits.put(0, 7);
    assert_eq!(decode_one(15, &bits.bytes), Err(InflateError::InvalidSymbol));
    let mut bits = BitWriter::default();
    bits.put(0b010, 3);
    bits.put_code(0x30 + b'a' as u32, 8); // literal 'a'
    bits.put_code(1, 7); // length 3
    bits.put_code(30, 5); // distance symbol 30
    bits.put(0, 16);
    assert_eq!(decode_one(15, &bits.bytes), Err(InflateError::InvalidSymbol));
    // Dynamic header: HLIT 30 (287 codes) is refused.
    let mut bits = BitWriter::default();
    bits.put(0b100, 3);
    bits.put(30, 5);
    bits.put(0, 5);
    bits.put(0, 4);
    bits.put(0, 32);
    assert_eq!(decode_one(15, &bits.bytes), Err(InflateError::CodeLengths));
    // Dynamic header whose code length code is over-subscribed (4 codes of length 1).
    let mut bits = BitWriter::default();
    bits.put(0b100, 3);
    bits.put(0, 5);
    bits.put(0, 5);
    bits.put(0, 4);
    for _ in 0..4 {
        bits.put(1, 3);
    }
    bits.put(0, 32);
    assert_eq!(decode_one(15, &bits.bytes), Err(InflateError::CodeLengths));
    // Repeat code 16 with no previous length.
    let mut bits = BitWriter::default();
    bits.put(0b100, 3);
    bits.put(0, 5);
    bits.put(0, 5);
    bits.put(0, 4); // HCLEN 4: symbols 16, 17, 18, 0
    for len in [1, 0, 0, 1] {
        bits.put(len, 3);
    }
    bits.put_code(1, 1); // symbol 16 (code 1; symbol 0 has code 0)
    bits.put(0, 32);
    assert_eq!(decode_one(15, &bits.bytes), Err(InflateError::CodeLengths));
}

#[test]
fn distances_beyond_the_window_are_refused() {
    // A 1000-byte stored block, then a fixed block matching 600 back.
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let mut bits = BitWriter::default();
    bits.put(0, 3);
    bits.align();
    bits.put(1000, 16);
    bits.put(!1000u32 & 0xffff, 16);
    bits.bytes.extend_from_slice(&data);
    bits.put(0b010, 3);
    bits.put_code(1, 7); // length 3
    // Distance 600: symbol 18 (base 513, 8 extra bits).
    bits.put_code(18, 5);
    bits.put(600 - 513, 8);
    bits.put(0, 7); // end of block
    let payload = bits.finish();
    assert_eq!(decode_one(9, &payload), Err(InflateError::DistanceTooFar));
    assert_eq!(decode_one(8, &payload), Err(InflateError::DistanceTooFar));
    let out = decode_one(10, &payload).unwrap();
    assert_eq!(&out[1000..], &data[400..403]);
}

#[test]
fn window_memory_per_size() {
    assert_eq!(window_size(8), 512);
    assert_eq!(window_size(9), 512);
    assert_eq!(window_size(15), 32768);
    // The figure the module comment gives.
    assert_eq!(core::mem::size_of::<InflateState>(), 2088);
}

/// Bits first-lowest, as RFC 1951 §3.1.1 packs them.
#[derive(Default)]
pub(crate) struct BitWriter {
    pub bytes: Vec<u8>,
    nbits: u32,
}

impl BitWriter {
    pub fn put(&mut self, value: u32, n: u32) {
        for i in 0..n {
            if self.nbits % 8 == 0 {
                self.bytes.push(0);
            }
            let bit = (value >> i) & 1;
            *self.bytes.last_mut().unwrap() |= (bit as u8) << (self.nbits % 8);
            self.nbits += 1;
        }
    }

    /// A Huffman code, sent first bit highest.
    pub fn put_code(&mut self, code: u32, n: u32) {
        for i in (0..n).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    pub fn align(&mut self) {
        self.nbits = (self.nbits + 7) & !7;
    }

    /// End as a sync flush less its tail.
    pub fn finish(mut self) -> Vec<u8> {
        self.put(0, 3);
        self.bytes
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn miniz_streams_decode_at_every_window(
        messages in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..700), 1..4),
        level in 0i32..=10,
        strategy in 0i32..=4,
        bits in 8u8..=15,
        in_step in 1usize..40,
        out_step in 1usize..300,
    ) {
        // miniz always uses a 32 KiB window: with every message shorter
        // than the window and no shared context, no distance exceeds it.
        let small: Vec<Vec<u8>> = messages.iter().map(|m| m[..m.len().min(window_size(bits) / 2)].to_vec()).collect();
        let mut d = Decoder::new(bits);
        for m in &small {
            let wire = miniz_messages(core::slice::from_ref(m), level, strategy);
            prop_assert_eq!(&d.message(&wire[0], in_step, out_step, false).unwrap(), m);
        }
        // Shared context at 15 bits.
        let wire = miniz_messages(&messages, level, strategy);
        let mut d = Decoder::new(15);
        for (m, w) in messages.iter().zip(&wire) {
            prop_assert_eq!(&d.message(w, in_step, out_step, true).unwrap(), m);
        }
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), bits in 8u8..=15, out_step in 1usize..64) {
        let _ = Decoder::new(bits).message(&data, 7, out_step, true);
    }
}
