//! The encoder: RFC 7692's example, round trips through miniz_oxide's
//! decoder and ours at every window size, output one byte at a time,
//! input in pieces, and the window limit.

use super::*;
use crate::inflate::tests::{Decoder, TAIL};
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

pub(crate) struct Encoder {
    pub state: DeflateState,
    pub work: Vec<u32>,
}

impl Encoder {
    pub fn new(window_bits: u8) -> Self {
        let state = DeflateState::new(window_bits);
        // u32s: the work memory's alignment.
        let work = vec![0xA5A5_A5A5u32; state.work_len().div_ceil(4)];
        Encoder { state, work }
    }

    /// One message, input in pieces of `in_step`, output in `out_step`.
    pub fn message(&mut self, data: &[u8], in_step: usize, out_step: usize, keep: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at: usize = 0;
        let mut rounds = 0;
        loop {
            let end = at.saturating_add(in_step).min(data.len());
            let finish = end == data.len();
            let mut buf = vec![0u8; out_step];
            let work: &mut [u8] = bytemuck::cast_slice_mut(&mut self.work);
            let p = self.state.deflate(work, &data[at..end], &mut buf, finish).unwrap();
            out.extend_from_slice(&buf[..p.produced]);
            at += p.consumed;
            if p.done {
                assert_eq!(at, data.len());
                break;
            }
            rounds += 1;
            assert!(rounds < 10 * (data.len() + out.len() + 100), "no progress");
        }
        assert!(!self.state.in_message());
        if !keep {
            self.state.reset_history();
        }
        out
    }
}

fn miniz_inflate(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    // One stream: the messages with their tails put back.
    let mut stream = Vec::new();
    let mut lens = Vec::new();
    for m in messages {
        stream.extend_from_slice(m);
        stream.extend_from_slice(&TAIL);
        lens.push(stream.len());
    }
    // A final empty block so miniz sees the stream end.
    stream.extend_from_slice(&[0x03, 0x00]);
    let all = miniz_oxide::inflate::decompress_to_vec(&stream).expect("miniz inflates our stream");
    vec![all]
}

#[test]
fn rfc7692_hello() {
    let mut e = Encoder::new(15);
    let first = e.message(b"Hello", 100, 100, true);
    assert_eq!(first, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    // §7.2.3.2: the second "Hello" refers to the first. zlib sends "H"
    // and a 4-byte match (f2 00 11 00 00); we find all 5 bytes.
    let second = e.message(b"Hello", 100, 100, true);
    assert_eq!(second, [0x02, 0x13, 0x00, 0x00]);
    let mut d = Decoder::new(15);
    assert_eq!(d.message(&first, 100, 100, true).unwrap(), b"Hello");
    assert_eq!(d.message(&second, 100, 100, true).unwrap(), b"Hello");
    // No context takeover: the same bytes again.
    let mut e = Encoder::new(15);
    e.message(b"Hello", 100, 100, false);
    assert_eq!(e.message(b"Hello", 100, 100, false), first);
    // §7.2.3.6: an empty message is one 00 byte.
    assert_eq!(Encoder::new(15).message(b"", 1, 1, true), [0x00]);
}

#[test]
fn incompressible_data_goes_stored() {
    let mut x = 0x1234_5678u32;
    let data: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    for bits in [8, 9, 12, 15] {
        let out = Encoder::new(bits).message(&data, 1000, 512, true);
        let blocks = data.len().div_ceil(token_cap(bits).min(1 << (bits - 1)));
        assert!(out.len() <= data.len() + 5 * blocks + 1, "{bits}: {}", out.len());
        assert_eq!(Decoder::new(bits).message(&out, 100, 100, true).unwrap(), data);
    }
}

#[test]
fn telemetry_compresses() {
    let messages: Vec<Vec<u8>> = (0..20)
        .map(|i| std::format!("{{\"device\":\"sensor-01\",\"seq\":{i},\"temperature\":21.{i},\"humidity\":4{},\"battery\":3.7{}}}", i % 10, i % 3).into_bytes())
        .collect();
    let mut e = Encoder::new(10);
    let mut d = Decoder::new(10);
    let (mut raw, mut wire) = (0, 0);
    for m in &messages {
        let out = e.message(m, usize::MAX, 2048, true);
        raw += m.len();
        wire += out.len();
        assert_eq!(&d.message(&out, 1000, 1000, true).unwrap(), m);
    }
    // Repeated keys across messages come back as matches.
    assert!(wire * 2 < raw, "{wire} of {raw}");
}

#[test]
fn memory_per_window_size() {
    let table: Vec<usize> = (8..=15).map(work_len).collect();
    assert_eq!(table, [1280, 2048, 4096, 8192, 14336, 22528, 38912, 71680]);
    assert_eq!(core::mem::size_of::<DeflateState>(), 40);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn round_trips_at_every_window(
        messages in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(b'x'), Just(b'y'), any::<u8>()], 0..3000), 1..4),
        bits in 8u8..=15,
        in_step in 1usize..5000,
        out_step in 1usize..400,
        keep in any::<bool>(),
    ) {
        let mut e = Encoder::new(bits);
        let mut d = Decoder::new(bits);
        let mut wire = Vec::new();
        for m in &messages {
            let out = e.message(m, in_step, out_step, keep);
            // The decoder at exactly this window: no distance goes beyond it.
            prop_assert_eq!(&d.message(&out, 13, 97, keep).unwrap(), m);
            wire.push(out);
        }
        if keep {
            let all: Vec<u8> = messages.concat();
            prop_assert_eq!(&miniz_inflate(&wire)[0], &all);
        }
    }

    #[test]
    fn one_byte_of_output_at_a_time(data in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..600), bits in 8u8..=15) {
        let whole = Encoder::new(bits).message(&data, usize::MAX, 1 << 16, true);
        let bytewise = Encoder::new(bits).message(&data, 1, 1, true);
        prop_assert_eq!(&Decoder::new(bits).message(&bytewise, 1, 1, true).unwrap(), &data);
        prop_assert_eq!(Decoder::new(bits).message(&whole, 1, 1, true).unwrap(), data);
    }
}

/// A stored block's header (3 bits, padding, 32 bits of LEN and NLEN) put
/// into the bit buffer while up to 32 bits still wait there for output
/// room overflowed the 64-bit buffer and lost LEN and NLEN. It happened
/// when the output filled just before a stored block that follows a
/// fixed one: data that turns from compressible to random, sent from a
/// fixed frame buffer (found by Autobahn case 12.2.6, 8 KiB slices of a
/// bitmap through a 512-byte buffer).
#[test]
fn stored_block_after_a_full_output() {
    let mut data = Vec::new();
    let mut x: u32 = 7;
    for round in 0..40 {
        data.extend_from_slice(b"the same words again and again, ");
        for _ in 0..(round * 37 % 700) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            data.push((x >> 16) as u8);
        }
    }
    for bits in [9u8, 11, 15] {
        for out_step in 1..64 {
            let mut e = Encoder::new(bits);
            let wire = e.message(&data, usize::MAX, out_step, true);
            let mut stream = wire.clone();
            stream.extend_from_slice(&TAIL);
            stream.extend_from_slice(&[0x03, 0x00]);
            let back = miniz_oxide::inflate::decompress_to_vec(&stream).ok();
            assert!(back.as_deref() == Some(&data[..]), "window bits {bits}, output in steps of {out_step}");
        }
    }
}
