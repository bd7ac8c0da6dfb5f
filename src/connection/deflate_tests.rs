//! Compressed messages (RFC 7692) through the state machine: RSV1 rules,
//! inflation from the read-ahead into host buffers of any size, limits on
//! the inflated size, and round trips with our encoder.

use super::tests::{frame, Seen};
use super::*;
use crate::deflate::tests::Encoder;
use crate::inflate::InflateState;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// A frame with the given first byte (FIN, RSV, opcode) as a peer in
/// `from` sends it.
fn raw_frame(from: Role, b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = frame(from, b0 & 0x0F, b0 & 0x80 != 0, payload);
    f[0] = b0;
    f
}

/// Receive `input` as a host does, reads cut at `cuts`, inflating into
/// pieces of `out_step` bytes, with a decompressor of `bits`.
fn receive(role: Role, input: &[u8], cuts: &[usize], max: u64, out_step: usize, bits: u8, keep: bool) -> Vec<Seen> {
    let mut conn = Connection::new(role);
    conn.set_limits(max, u64::MAX);
    conn.set_compression(true, keep);
    let mut state = InflateState::new(bits);
    let mut window = vec![0u8; state.window_len()];
    let mut seen = Vec::new();
    let mut message = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    bounds.push(input.len());
    bounds.sort();
    let mut at = 0;
    let mut stalled = 0;
    loop {
        let limit = bounds.iter().copied().find(|&b| b > at).unwrap_or(input.len());
        let result = match conn.want() {
            Want::Nothing => break,
            Want::Internal(buf) => {
                let n = buf.len().min(limit - at);
                if n == 0 && !buf.is_empty() {
                    break;
                }
                buf[..n].copy_from_slice(&input[at..at + n]);
                at += n;
                conn.filled(n)
            }
            Want::Buffered(ahead) => {
                let mut copy = ahead.to_vec();
                let r = conn.data_received(&mut copy);
                message.extend_from_slice(&copy);
                r
            }
            Want::Data(len) => {
                let n = (len as usize).min(limit - at);
                if n == 0 && len > 0 {
                    break;
                }
                let mut copy = input[at..at + n].to_vec();
                at += n;
                let r = conn.data_received(&mut copy);
                message.extend_from_slice(&copy);
                r
            }
            Want::Inflate => {
                let mut out = vec![0u8; out_step];
                match conn.inflate(&mut state, &mut window, &mut out) {
                    Ok(i) => {
                        message.extend_from_slice(&out[..i.produced]);
                        stalled = if i.produced == 0 { stalled + 1 } else { 0 };
                        assert!(stalled < 10, "inflate makes no progress");
                        Ok(i.event)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Err(e) => {
                seen.push(Seen::Error(e));
                break;
            }
            Ok(Event::Continue) => {}
            Ok(Event::Message(kind)) => seen.push(Seen::Message(kind, core::mem::take(&mut message))),
            Ok(Event::Ping) => seen.push(Seen::Ping(conn.control_payload().to_vec())),
            Ok(Event::Pong) => seen.push(Seen::Pong(conn.control_payload().to_vec())),
            Ok(Event::Close) => seen.push(Seen::Close(conn.close_code().map(|c| c.0), conn.close_reason().to_vec())),
        }
    }
    seen
}

const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

fn text(s: &[u8]) -> Seen {
    Seen::Message(MessageKind::Text, s.to_vec())
}

#[test]
fn rfc7692_hello_in_both_roles() {
    for (role, from) in [(Role::Server, Role::Client), (Role::Client, Role::Server)] {
        let mut wire = raw_frame(from, 0xC1, &HELLO);
        wire.extend(raw_frame(from, 0xC1, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
        wire.extend(raw_frame(from, 0x81, b"plain"));
        for cut in 0..wire.len() {
            for out_step in [1, 3, 100] {
                let seen = receive(role, &wire, &[cut], u64::MAX, out_step, 15, true);
                assert_eq!(seen, [text(b"Hello"), text(b"Hello"), text(b"plain")], "cut {cut} step {out_step}");
            }
        }
    }
}

#[test]
fn an_empty_compressed_message_is_empty() {
    // RSV1 and no payload at all, in one frame or as empty fragments: an
    // empty message (zlib-based peers read it so), and the context carries
    // on into the next message. 0x00, the usual empty block, too.
    let from = Role::Client;
    let mut wire = raw_frame(from, 0xC1, b"");
    wire.extend(raw_frame(from, 0x42, b""));
    wire.extend(raw_frame(from, 0x80, b""));
    wire.extend(raw_frame(from, 0xC1, &[0x00]));
    wire.extend(raw_frame(from, 0xC1, &HELLO));
    wire.extend(raw_frame(from, 0xC1, b""));
    wire.extend(raw_frame(from, 0xC1, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
    for cut in 0..wire.len() {
        let seen = receive(Role::Server, &wire, &[cut], u64::MAX, 2, 15, true);
        assert_eq!(
            seen,
            [text(b""), Seen::Message(MessageKind::Binary, vec![]), text(b""), text(b"Hello"), text(b""), text(b"Hello")],
            "cut {cut}"
        );
    }
}

#[test]
fn fragments_with_a_ping_between() {
    // §7.2.3.5's two blocks split over three frames, the last one empty.
    let two = [0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00];
    let from = Role::Client;
    let mut wire = raw_frame(from, 0x41, &two[..4]);
    wire.extend(raw_frame(from, 0x89, b"p"));
    wire.extend(raw_frame(from, 0x00, &two[4..]));
    wire.extend(raw_frame(from, 0x80, b""));
    for cut in 0..wire.len() {
        let seen = receive(Role::Server, &wire, &[cut, cut + 3], u64::MAX, 2, 15, true);
        assert_eq!(seen, [Seen::Ping(b"p".to_vec()), text(b"Hello")], "cut {cut}");
    }
}

#[test]
fn rsv1_rules() {
    let c = Role::Client;
    let refused = [Seen::Error(ProtocolError::ReservedBits)];
    // On a control frame.
    assert_eq!(receive(Role::Server, &raw_frame(c, 0xC9, b""), &[], u64::MAX, 10, 15, true), refused);
    // On a continuation frame.
    let mut wire = raw_frame(c, 0x41, &HELLO[..3]);
    wire.extend(raw_frame(c, 0xC0, &HELLO[3..]));
    assert_eq!(receive(Role::Server, &wire, &[], u64::MAX, 10, 15, true), refused);
    // RSV2 and RSV3 stay reserved.
    assert_eq!(receive(Role::Server, &raw_frame(c, 0xA1, b"x"), &[], u64::MAX, 10, 15, true), refused);
    // Without the extension negotiated.
    let mut conn = Connection::new(Role::Server);
    let r = conn.read(&raw_frame(c, 0xC1, &HELLO), &mut [0u8; 64]);
    assert_eq!(r, Err(ProtocolError::ReservedBits));
    assert_eq!(ProtocolError::ReservedBits.close_code(), CloseCode::PROTOCOL_ERROR);
}

#[test]
fn a_bomb_stops_at_the_limit() {
    let mut e = Encoder::new(15);
    let zeros = vec![0u8; 1 << 20];
    let compressed = e.message(&zeros, usize::MAX, 1 << 20, true);
    assert!(compressed.len() < 10_000);
    let wire = raw_frame(Role::Client, 0xC2, &compressed);
    let seen = receive(Role::Server, &wire, &[], 1000, 1 << 16, 15, true);
    assert_eq!(seen, [Seen::Error(ProtocolError::MessageTooBig)]);
    assert_eq!(ProtocolError::MessageTooBig.close_code(), CloseCode::MESSAGE_TOO_BIG);
    // Exactly at the limit is fine.
    let wire = raw_frame(Role::Client, 0xC2, &Encoder::new(15).message(&zeros[..1000], usize::MAX, 4096, true));
    let seen = receive(Role::Server, &wire, &[], 1000, 1 << 16, 15, true);
    assert_eq!(seen, [Seen::Message(MessageKind::Binary, zeros[..1000].to_vec())]);
}

#[test]
fn bad_data_fails_with_1007() {
    let bad = [Seen::Error(ProtocolError::BadCompressedData)];
    // Truncated: the message ends inside a block.
    let wire = raw_frame(Role::Client, 0xC1, &HELLO[..3]);
    assert_eq!(receive(Role::Server, &wire, &[], u64::MAX, 10, 15, true), bad);
    // Reserved block type.
    let wire = raw_frame(Role::Client, 0xC1, &[0x06]);
    assert_eq!(receive(Role::Server, &wire, &[], u64::MAX, 10, 15, true), bad);
    assert_eq!(ProtocolError::BadCompressedData.close_code(), CloseCode::INVALID_PAYLOAD);
    // Valid deflate, invalid UTF-8 in a text message.
    let mut e = Encoder::new(15);
    let wire = raw_frame(Role::Client, 0xC1, &e.message(&[b'a', 0xff, b'b'], usize::MAX, 100, true));
    assert_eq!(receive(Role::Server, &wire, &[], u64::MAX, 10, 15, true), [Seen::Error(ProtocolError::InvalidUtf8)]);
    // A text message ending inside a character.
    let wire = raw_frame(Role::Client, 0xC1, &e.message(&[b'a', 0xc3], usize::MAX, 100, true));
    assert_eq!(receive(Role::Server, &wire, &[], u64::MAX, 10, 15, true), [Seen::Error(ProtocolError::InvalidUtf8)]);
}

#[test]
fn compressed_headers_set_rsv1_on_the_first_frame_only() {
    let mut conn = Connection::new(Role::Server);
    assert_eq!(conn.compressed_data_header(MessageKind::Text, true, 5, [0; 4]), Err(SendError::InvalidFrame));
    conn.set_compression(true, true);
    let h = conn.compressed_data_header(MessageKind::Text, false, 5, [0; 4]).unwrap();
    assert_eq!((h.rsv, h.opcode, h.fin), (RSV1, OpCode::Text, false));
    let h = conn.compressed_data_header(MessageKind::Text, true, 5, [0; 4]).unwrap();
    assert_eq!((h.rsv, h.opcode, h.fin), (0, OpCode::Continuation, true));
    let h = conn.data_header(MessageKind::Binary, true, 5, [0; 4]).unwrap();
    assert_eq!(h.rsv, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn our_compressed_fragments_come_back(
        messages in proptest::collection::vec((proptest::collection::vec(prop_oneof![Just(b'{'), Just(b'"'), Just(b'a'), 0x20u8..0x7f], 0..2000), any::<bool>(), 1usize..300), 1..5),
        bits in 8u8..=15,
        keep in any::<bool>(),
        cuts in proptest::collection::vec(0usize..20_000, 0..6),
        out_step in 1usize..200,
    ) {
        let from = Role::Client;
        let mut e = Encoder::new(bits);
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (data, compress, fragment) in &messages {
            if *compress {
                let z = e.message(data, usize::MAX, 1 << 16, keep);
                let pieces: Vec<&[u8]> = if z.is_empty() { vec![&z[..]] } else { z.chunks(*fragment).collect() };
                for (i, piece) in pieces.iter().enumerate() {
                    let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
                    let first = if i == 0 { 0x41 } else { 0x00 };
                    wire.extend(raw_frame(from, fin | first, piece));
                    if i == 0 && pieces.len() > 1 {
                        wire.extend(raw_frame(from, 0x8A, b"pong"));
                    }
                }
                if pieces.len() > 1 {
                    expected.push(Seen::Pong(b"pong".to_vec()));
                }
            } else {
                wire.extend(raw_frame(from, 0x81, data));
            }
            expected.push(text(data));
        }
        let seen = receive(Role::Server, &wire, &cuts, u64::MAX, out_step, bits, keep);
        prop_assert_eq!(seen, expected);
    }
}

#[test]
fn which_messages_go_compressed() {
    let mut conn = Connection::new(Role::Server);
    // Without permessage-deflate: never.
    assert_eq!(conn.compress_next(MessageKind::Text, true, 1000, 0), Ok(false));
    assert_eq!(conn.compress_next(MessageKind::Text, false, 0, 0), Ok(false));
    conn.set_compression(true, true);
    // Sent whole: at min_size and over, not under; 0 compresses everything.
    for (len, min, compress) in [(0, 0, true), (0, 1, false), (1, 1, true), (31, 32, false), (32, 32, true),
        (usize::MAX, usize::MAX, true), (usize::MAX - 1, usize::MAX, false), (0, usize::MAX, false)] {
        assert_eq!(conn.compress_next(MessageKind::Binary, true, len, min), Ok(compress), "{len} {min}");
    }
    // The first piece of a fragmented message: whatever its size.
    assert_eq!(conn.compress_next(MessageKind::Text, false, 0, usize::MAX), Ok(true));
    conn.compressed_data_header(MessageKind::Text, false, 3, [0; 4]).unwrap();
    // Its later pieces go as it began, the last one short or not.
    assert_eq!(conn.compress_next(MessageKind::Text, true, 0, 32), Ok(true));
    assert_eq!(conn.compress_next(MessageKind::Binary, true, 1000, 0), Err(SendError::MessageInProgress));
    conn.compressed_data_header(MessageKind::Text, true, 1, [0; 4]).unwrap();
    assert_eq!(conn.compress_next(MessageKind::Binary, true, 1, 32), Ok(false));
    // A fragmented message begun uncompressed goes on uncompressed.
    conn.data_header(MessageKind::Binary, false, 3, [0; 4]).unwrap();
    assert_eq!(conn.compress_next(MessageKind::Binary, true, 1000, 0), Ok(false));
    assert_eq!(conn.compress_next(MessageKind::Text, true, 1000, 0), Err(SendError::MessageInProgress));
    conn.data_header(MessageKind::Binary, true, 3, [0; 4]).unwrap();
    assert_eq!(conn.compress_next(MessageKind::Text, true, 1000, 0), Ok(true));
}

#[test]
fn inflate_room_grows_the_buffer_and_stops_past_the_limit() {
    let mut conn = Connection::new(Role::Client);
    // No limit: the spare room, else INFLATE_STEP, else as much as held.
    assert_eq!(conn.inflate_room(0, 0), INFLATE_STEP);
    assert_eq!(conn.inflate_room(0, 1), INFLATE_STEP);
    assert_eq!(conn.inflate_room(0, 5000), 4999);
    assert_eq!(conn.inflate_room(1000, 1001), INFLATE_STEP);
    assert_eq!(conn.inflate_room(3000, 3001), 3000);
    assert_eq!(conn.inflate_room(3000, 2000), 3000);
    assert_eq!(conn.inflate_room(usize::MAX / 2, usize::MAX / 2), (usize::MAX / 2) as u64);
    // Holding all a u64 counts: one byte more fails it.
    assert_eq!(conn.inflate_room(usize::MAX, usize::MAX), if usize::BITS == 64 { 1 } else { usize::MAX as u64 });
    assert_eq!(conn.inflate_room(0, usize::MAX), usize::MAX as u64 - 1);
    // With a limit: one byte past it at most.
    conn.set_limits(2000, u64::MAX);
    assert_eq!(conn.inflate_room(0, 0), INFLATE_STEP);
    assert_eq!(conn.inflate_room(1500, 1501), 501);
    assert_eq!(conn.inflate_room(2000, 2001), 1);
    assert_eq!(conn.inflate_room(0, 10_000), 2001);
    // Holding more than the limit (the core has failed it by then): no cap.
    assert_eq!(conn.inflate_room(2001, 2002), 2001);
    // A limit of 0 (uws_conn_init takes 0 as none): one byte, which fails it.
    conn.set_limits(0, u64::MAX);
    assert_eq!(conn.inflate_room(0, 0), 1);
    assert_eq!(conn.inflate_room(1, 2), INFLATE_STEP);
    conn.set_limits(1, u64::MAX);
    assert_eq!(conn.inflate_room(0, 0), 2);
    conn.set_limits(u64::MAX, u64::MAX);
    assert_eq!(conn.inflate_room(0, 0), INFLATE_STEP);
}

proptest! {
    #[test]
    fn inflate_room_is_never_zero_nor_far_past_the_limit(held in 0usize..1 << 20, alloc in 0usize..1 << 21, max in 0u64..1 << 20) {
        let mut conn = Connection::new(Role::Server);
        conn.set_limits(max, u64::MAX);
        let room = conn.inflate_room(held, alloc);
        prop_assert!(room >= 1);
        if (held as u64) <= max {
            prop_assert!(held as u64 + room <= max + 1);
        }
        let spare = alloc.saturating_sub(held + 1) as u64;
        let grown = spare.max(INFLATE_STEP).max(held as u64);
        prop_assert!(room == grown || room == (max - held as u64 + 1).min(grown));
    }
}
