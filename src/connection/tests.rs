//! Tests of the state machine: every rule of §5 and §7 through the public
//! API, fed whole and split at every point, plus property tests.

use super::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// Encode one frame as a peer in `from` role would (masked when a client).
pub(crate) fn frame(from: Role, opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(if fin { 0x80 } else { 0 } | opcode);
    let mask = if from == Role::Client { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask | len as u8);
    } else if len <= 0xFFFF {
        out.push(mask | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let key = [0xA1, 0xB2, 0xC3, 0xD4];
    if from == Role::Client {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// What a receiver saw: messages with their payload, control events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, Vec<u8>),
    Error(ProtocolError),
}

/// Feed `input` to a fresh connection of `role` in pieces cut at `cuts`.
pub(crate) fn receive(role: Role, input: &[u8], cuts: &[usize], max: u64) -> Vec<Seen> {
    let mut conn = Connection::new(role);
    conn.set_limits(max, u64::MAX);
    let mut seen = Vec::new();
    let mut message = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    bounds.push(input.len());
    bounds.sort();
    let mut start = 0;
    for end in bounds {
        let mut piece = &input[start..end];
        start = end;
        loop {
            // Room for the piece and for what was read ahead before it.
            let mut out = vec![0u8; piece.len() + MAX_CONTROL_PAYLOAD];
            let read = match conn.read(piece, &mut out) {
                Ok(r) => r,
                Err(e) => {
                    seen.push(Seen::Error(e));
                    return seen;
                }
            };
            message.extend_from_slice(&out[..read.written]);
            piece = &piece[read.consumed..];
            match read.event {
                Event::Continue => {}
                Event::Message(kind) => seen.push(Seen::Message(kind, core::mem::take(&mut message))),
                Event::Ping => seen.push(Seen::Ping(conn.control_payload().to_vec())),
                Event::Pong => seen.push(Seen::Pong(conn.control_payload().to_vec())),
                Event::Close => {
                    seen.push(Seen::Close(conn.close_code().map(|c| c.0), conn.close_reason().to_vec()));
                }
            }
            if read.consumed == 0 && read.written == 0 && read.event == Event::Continue {
                break;
            }
        }
    }
    seen
}

fn every_split(role: Role, input: &[u8], expected: &[Seen]) {
    assert_eq!(receive(role, input, &[], u64::MAX), expected, "whole");
    for cut in 0..=input.len() {
        assert_eq!(receive(role, input, &[cut], u64::MAX), expected, "cut at {}", cut);
    }
    let all: Vec<usize> = (0..input.len()).collect();
    assert_eq!(receive(role, input, &all, u64::MAX), expected, "byte by byte");
}

use MessageKind::{Binary, Text};

#[test]
fn rfc_5_7_examples_as_client() {
    // The server's frames of §5.7 are unmasked: a client reads them.
    let mut input = vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    input.extend_from_slice(&[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    input.extend_from_slice(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    every_split(
        Role::Client,
        &input,
        &[
            Seen::Message(Text, b"Hello".to_vec()),
            Seen::Message(Text, b"Hello".to_vec()),
            Seen::Ping(b"Hello".to_vec()),
        ],
    );
}

#[test]
fn rfc_5_7_masked_hello_as_server() {
    let input = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    every_split(Role::Server, &input, &[Seen::Message(Text, b"Hello".to_vec())]);
}

#[test]
fn every_length_class() {
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        for role in [Role::Server, Role::Client] {
            let peer = if role == Role::Server { Role::Client } else { Role::Server };
            let input = frame(peer, 2, true, &payload);
            let seen = receive(role, &input, &[3, 7, len / 2], u64::MAX);
            assert_eq!(seen, vec![Seen::Message(Binary, payload.clone())], "len {}", len);
        }
    }
}

#[test]
fn fragmented_message_with_interleaved_control_frames() {
    let c = Role::Client;
    let mut input = frame(c, 1, false, "κό".as_bytes());
    input.extend(frame(c, 9, true, b"ping!"));
    input.extend(frame(c, 0, false, "σ".as_bytes()));
    input.extend(frame(c, 10, true, b""));
    input.extend(frame(c, 0, false, b""));
    input.extend(frame(c, 0, true, "με".as_bytes()));
    every_split(
        Role::Server,
        &input,
        &[
            Seen::Ping(b"ping!".to_vec()),
            Seen::Pong(vec![]),
            Seen::Message(Text, "κόσμε".as_bytes().to_vec()),
        ],
    );
}

#[test]
fn protocol_violations_fail_with_their_code() {
    let c = Role::Client;
    let cases: Vec<(Vec<u8>, ProtocolError, u16)> = vec![
        (frame(Role::Server, 2, true, b"x"), ProtocolError::UnmaskedFrame, 1002),
        (frame(c, 3, true, b""), ProtocolError::ReservedOpcode, 1002),
        (frame(c, 0xB, true, b""), ProtocolError::ReservedOpcode, 1002),
        ({ let mut f = frame(c, 2, true, b"x"); f[0] |= 0x40; f }, ProtocolError::ReservedBits, 1002),
        (frame(c, 9, false, b""), ProtocolError::FragmentedControlFrame, 1002),
        (frame(c, 9, true, &[0; 126]), ProtocolError::ControlFrameTooLong, 1002),
        (frame(c, 0, true, b"x"), ProtocolError::UnexpectedContinuation, 1002),
        ([frame(c, 1, false, b"a"), frame(c, 1, true, b"b")].concat(), ProtocolError::ExpectedContinuation, 1002),
        (frame(c, 1, true, b"\xff"), ProtocolError::InvalidUtf8, 1007),
        (frame(c, 1, true, b"\xe2\x82"), ProtocolError::InvalidUtf8, 1007),
        (frame(c, 8, true, b"\x03"), ProtocolError::BadClosePayload, 1002),
        (frame(c, 8, true, &999u16.to_be_bytes()), ProtocolError::InvalidCloseCode, 1002),
        (frame(c, 8, true, &1005u16.to_be_bytes()), ProtocolError::InvalidCloseCode, 1002),
        (frame(c, 8, true, &[0x03, 0xE8, 0xff]), ProtocolError::InvalidCloseReason, 1007),
    ];
    for (input, error, code) in cases {
        let seen = receive(Role::Server, &input, &[], u64::MAX);
        assert_eq!(seen.last(), Some(&Seen::Error(error)), "{:x?}", input);
        assert_eq!(error.close_code().0, code);
    }
    let seen = receive(Role::Client, &frame(c, 2, true, b"x"), &[], u64::MAX);
    assert_eq!(seen, vec![Seen::Error(ProtocolError::MaskedFrame)]);
}

#[test]
fn invalid_utf8_fails_before_the_message_ends() {
    // The first fragment already holds an impossible byte: fail on it,
    // without waiting for the rest (Autobahn 6.4.1).
    let mut conn = Connection::new(Role::Server);
    let input = frame(Role::Client, 1, false, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80");
    let mut out = [0u8; 64];
    assert_eq!(conn.read(&input, &mut out), Err(ProtocolError::InvalidUtf8));
    assert_eq!(conn.state(), State::Failed);
}

#[test]
fn size_limits() {
    let c = Role::Client;
    let seen = receive(Role::Server, &frame(c, 2, true, &[0; 100]), &[], 99);
    assert_eq!(seen, vec![Seen::Error(ProtocolError::MessageTooBig)]);
    let fragmented = [frame(c, 2, false, &[0; 60]), frame(c, 0, true, &[0; 60])].concat();
    let seen = receive(Role::Server, &fragmented, &[], 100);
    assert_eq!(seen, vec![Seen::Error(ProtocolError::MessageTooBig)]);
    let seen = receive(Role::Server, &fragmented, &[], 120);
    assert_eq!(seen, vec![Seen::Message(Binary, vec![0; 120])]);
    let mut conn = Connection::new(Role::Server);
    conn.set_limits(u64::MAX, 10);
    let mut out = [0u8; 64];
    assert_eq!(conn.read(&frame(c, 2, true, &[0; 11]), &mut out), Err(ProtocolError::FrameTooBig));
    assert_eq!(ProtocolError::FrameTooBig.close_code(), CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn close_handshake_initiated_by_peer() {
    let mut conn = Connection::new(Role::Server);
    let mut out = [0u8; 8];
    let input = [frame(Role::Client, 8, true, b"\x03\xe8bye"), frame(Role::Client, 2, true, b"late")].concat();
    let read = conn.read(&input, &mut out).unwrap();
    assert_eq!(read.event, Event::Close);
    assert_eq!(conn.state(), State::CloseReceived);
    assert_eq!(conn.close_code(), Some(CloseCode::NORMAL));
    assert_eq!(conn.close_reason(), b"bye");
    // Nothing is read after the peer's Close (§5.5.1).
    assert_eq!(conn.want(), Want::Nothing);
    assert_eq!(conn.read(&input[read.consumed..], &mut out).unwrap().consumed, 0);
    // Our Close answers it; data can no longer be sent.
    conn.control_header(OpCode::Close, 2, [0; 4]).unwrap();
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.data_header(Binary, true, 1, [0; 4]), Err(SendError::Closed));
}

#[test]
fn close_handshake_initiated_by_us() {
    let mut conn = Connection::new(Role::Client);
    let h = conn.control_header(OpCode::Close, 2, [1, 2, 3, 4]).unwrap();
    assert_eq!(h.mask, Some([1, 2, 3, 4]));
    assert_eq!(conn.state(), State::CloseSent);
    assert_eq!(conn.data_header(Text, true, 1, [0; 4]), Err(SendError::Closed));
    assert_eq!(conn.control_header(OpCode::Close, 2, [0; 4]), Err(SendError::Closed));
    // Data still arrives until the peer's Close, which ends it all.
    let input = [frame(Role::Server, 1, true, b"still"), frame(Role::Server, 8, true, b"")].concat();
    let mut out = [0u8; 8];
    let read = conn.read(&input, &mut out).unwrap();
    assert_eq!(read.event, Event::Message(Text));
    let read = conn.read(&input[read.consumed..], &mut out).unwrap();
    assert_eq!(read.event, Event::Close);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.close_code(), Some(CloseCode::NO_STATUS));
}

#[test]
fn failure_owes_a_close_unless_one_was_sent() {
    let mut conn = Connection::new(Role::Server);
    let mut out = [0u8; 8];
    assert!(conn.read(&[0x83, 0x80, 0, 0, 0, 0], &mut out).is_err());
    assert_eq!(conn.state(), State::Failed);
    assert_eq!(conn.want(), Want::Nothing);
    conn.control_header(OpCode::Close, 2, [0; 4]).unwrap();
    assert_eq!(conn.state(), State::Closed);

    let mut conn = Connection::new(Role::Server);
    conn.control_header(OpCode::Close, 0, [0; 4]).unwrap();
    assert!(conn.read(&[0x83, 0x80, 0, 0, 0, 0], &mut out).is_err());
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn sending_fragments_and_roles() {
    let mut conn = Connection::new(Role::Server);
    let h = conn.data_header(Text, false, 3, [9; 4]).unwrap();
    assert_eq!((h.opcode, h.fin, h.mask), (OpCode::Text, false, None));
    assert_eq!(conn.data_header(Binary, true, 1, [0; 4]), Err(SendError::MessageInProgress));
    // Control frames may be interleaved in a fragmented message (§5.4).
    assert!(conn.control_header(OpCode::Ping, 0, [0; 4]).is_ok());
    let h = conn.data_header(Text, false, 3, [0; 4]).unwrap();
    assert_eq!(h.opcode, OpCode::Continuation);
    let h = conn.data_header(Text, true, 0, [0; 4]).unwrap();
    assert_eq!((h.opcode, h.fin), (OpCode::Continuation, true));
    let h = conn.data_header(Binary, true, 0, [0; 4]).unwrap();
    assert_eq!(h.opcode, OpCode::Binary);
    assert_eq!(conn.control_header(OpCode::Ping, 126, [0; 4]), Err(SendError::InvalidFrame));
    assert_eq!(conn.control_header(OpCode::Text, 1, [0; 4]), Err(SendError::InvalidFrame));
}

#[test]
fn close_payloads() {
    let mut out = [0u8; MAX_CONTROL_PAYLOAD];
    assert_eq!(close_payload(CloseCode(1000), b"bye", &mut out), Ok(5));
    assert_eq!(&out[..5], b"\x03\xe8bye");
    assert_eq!(close_payload(CloseCode(4999), &[b'a'; 123], &mut out), Ok(125));
    assert_eq!(close_payload(CloseCode(1000), &[b'a'; 124], &mut out), Err(SendError::InvalidFrame));
    assert_eq!(close_payload(CloseCode(1005), b"", &mut out), Err(SendError::InvalidFrame));
    assert_eq!(close_payload(CloseCode(1000), b"\xff", &mut out), Err(SendError::InvalidFrame));
}

#[test]
fn close_code_validity() {
    for code in 0..=u16::MAX {
        let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        assert_eq!(CloseCode(code).is_valid_on_wire(), valid, "{}", code);
    }
}

/// A message or control frame to encode in property tests.
#[derive(Debug, Clone)]
enum Item {
    Message { text: bool, payload: Vec<u8>, fragments: Vec<usize> },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300), proptest::collection::vec(0usize..300, 0..4))
            .prop_map(|(text, payload, fragments)| {
                let payload = if text { std::string::String::from_utf8_lossy(&payload).into_owned().into_bytes() } else { payload };
                Item::Message { text, payload, fragments }
            }),
        proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Ping),
        proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Pong),
    ]
}

fn encode(from: Role, items: &[Item]) -> (Vec<u8>, Vec<Seen>) {
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for item in items {
        match item {
            Item::Message { text, payload, fragments } => {
                let mut cuts: Vec<usize> = fragments.iter().map(|&c| c.min(payload.len())).collect();
                cuts.sort();
                cuts.push(payload.len());
                let mut start = 0;
                for (i, &cut) in cuts.iter().enumerate() {
                    let opcode = if i > 0 { 0 } else if *text { 1 } else { 2 };
                    wire.extend(frame(from, opcode, i == cuts.len() - 1, &payload[start..cut]));
                    start = cut;
                }
                expected.push(Seen::Message(if *text { Text } else { Binary }, payload.clone()));
            }
            Item::Ping(p) => {
                wire.extend(frame(from, 9, true, p));
                expected.push(Seen::Ping(p.clone()));
            }
            Item::Pong(p) => {
                wire.extend(frame(from, 10, true, p));
                expected.push(Seen::Pong(p.clone()));
            }
        }
    }
    (wire, expected)
}

proptest! {
    #[test]
    fn any_sequence_split_anywhere_comes_out_identical(
        items in proptest::collection::vec(item(), 0..8),
        cuts in proptest::collection::vec(0usize..4000, 0..12),
        server in any::<bool>(),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let peer = if server { Role::Client } else { Role::Server };
        let (wire, expected) = encode(peer, &items);
        prop_assert_eq!(receive(role, &wire, &cuts, u64::MAX), expected);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                cuts in proptest::collection::vec(0usize..512, 0..6)) {
        let _ = receive(Role::Server, &bytes, &cuts, 1000);
        let _ = receive(Role::Client, &bytes, &cuts, 1000);
    }
}

/// Drive a connection in `role` over `wire` as a host does, every read
/// getting all it asks for, until `events` events (other than Continue)
/// came. Returns the reads made from the transport, what was seen, and
/// how many bytes of `wire` were left unread.
fn drive(role: Role, wire: &[u8], events: usize) -> (usize, Vec<Seen>, usize) {
    let mut conn = Connection::new(role);
    let mut input = wire;
    let mut out = vec![0u8; wire.len()];
    let (mut written, mut reads) = (0, 0);
    let mut seen = Vec::new();
    while seen.len() < events {
        let event = match conn.want() {
            Want::Nothing | Want::Inflate => unreachable!(),
            Want::Internal(buf) => {
                // An empty buffer: bytes read ahead come first, no read.
                let n = buf.len().min(input.len());
                if !buf.is_empty() {
                    reads += 1;
                }
                buf[..n].copy_from_slice(&input[..n]);
                input = &input[n..];
                conn.filled(n).unwrap()
            }
            Want::Buffered(ahead) => {
                let n = ahead.len();
                out[written..written + n].copy_from_slice(ahead);
                written += n;
                conn.data_received(&mut out[written - n..written]).unwrap()
            }
            Want::Data(len) => {
                reads += 1;
                let n = len as usize;
                out[written..written + n].copy_from_slice(&input[..n]);
                input = &input[n..];
                written += n;
                conn.data_received(&mut out[written - n..written]).unwrap()
            }
        };
        match event {
            Event::Continue => {}
            Event::Ping => seen.push(Seen::Ping(conn.control_payload().to_vec())),
            Event::Pong => seen.push(Seen::Pong(conn.control_payload().to_vec())),
            Event::Message(kind) => {
                seen.push(Seen::Message(kind, out[..written].to_vec()));
                written = 0;
            }
            Event::Close => seen.push(Seen::Close(conn.close_code().map(|c| c.0), conn.close_reason().to_vec())),
        }
    }
    (reads, seen, input.len())
}

#[test]
fn a_small_message_takes_one_read() {
    // The header is read together with what follows it (up to the
    // read-ahead's 125 bytes): a small message in one read, a bigger one
    // in two (the rest of the payload straight into the host's buffer).
    for (len, expected_reads) in [(0usize, 1), (1, 1), (16, 1), (100, 1), (125, 2), (126, 2), (1000, 2)] {
        let payload = vec![0x42; len];
        for (role, peer) in [(Role::Server, Role::Client), (Role::Client, Role::Server)] {
            let (reads, seen, left) = drive(role, &frame(peer, 2, true, &payload), 1);
            assert_eq!((reads, left), (expected_reads, 0), "{len} bytes as {role:?}");
            assert_eq!(seen, vec![Seen::Message(MessageKind::Binary, payload.clone())]);
        }
    }
}

#[test]
fn frames_read_ahead_come_out_one_event_at_a_time() {
    // Several frames in one read: a ping, a fragmented text message with a
    // pong between its fragments, a binary message; each event in turn,
    // the ping's payload intact although more frames followed it.
    let mut wire = frame(Role::Client, 0x9, true, b"are you there");
    wire.extend(frame(Role::Client, 0x1, false, "h\u{e9}".as_bytes()));
    wire.extend(frame(Role::Client, 0xA, true, b"pong"));
    wire.extend(frame(Role::Client, 0x0, true, b"llo"));
    wire.extend(frame(Role::Client, 0x2, true, &[7; 20]));
    assert!(wire.len() <= MAX_CONTROL_PAYLOAD);
    let (reads, seen, left) = drive(Role::Server, &wire, 4);
    assert_eq!((reads, left), (1, 0));
    assert_eq!(seen, vec![
        Seen::Ping(b"are you there".to_vec()),
        Seen::Pong(b"pong".to_vec()),
        Seen::Message(MessageKind::Text, "h\u{e9}llo".as_bytes().to_vec()),
        Seen::Message(MessageKind::Binary, vec![7; 20]),
    ]);
}

#[test]
fn connection_state_stays_small() {
    // Part of every connection object on a microcontroller's heap.
    assert!(core::mem::size_of::<Connection>() <= 192, "{}", core::mem::size_of::<Connection>());
}

/// Put `bytes` where want() asks for an internal read; the event.
fn fill(conn: &mut Connection, bytes: &[u8]) -> Result<Event, ProtocolError> {
    let n = match conn.want() {
        Want::Internal(buf) => {
            let n = buf.len().min(bytes.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            n
        }
        other => panic!("expected an internal read, got {other:?}"),
    };
    conn.filled(n)
}

#[test]
fn ready_only_when_a_step_needs_no_read() {
    let mut conn = Connection::new(Role::Client);
    assert!(!conn.ready(), "nothing read ahead");
    // One byte of a header: a step would read, so not ready (select.poll
    // must wait on the socket, not wake up at once).
    let wire = frame(Role::Server, 0x2, true, &[5; 200]);
    assert_eq!(fill(&mut conn, &wire[..1]), Ok(Event::Continue));
    assert!(!conn.ready());
    // The rest of the header and part of the payload: payload is buffered.
    assert_eq!(fill(&mut conn, &wire[1..8]), Ok(Event::Continue));
    assert!(conn.ready());
    assert_eq!(conn.rx_bound(), RxBound::Buffered(4));
    let mut out = [0u8; 4];
    match conn.want() {
        Want::Buffered(ahead) => out.copy_from_slice(ahead),
        other => panic!("{other:?}"),
    }
    assert_eq!(conn.data_received(&mut out), Ok(Event::Continue));
    // Payload still to come from the transport: not ready.
    assert!(!conn.ready());
    assert_eq!(conn.rx_bound(), RxBound::Data(196));
    // A small message's header and part of its payload: the step reads the
    // rest into the read-ahead (take_small_message then takes it whole).
    let mut conn = Connection::new(Role::Client);
    let wire = frame(Role::Server, 0x2, true, &[5; 10]);
    assert_eq!(fill(&mut conn, &wire[..6]), Ok(Event::Continue));
    assert!(!conn.ready());
    assert_eq!(conn.rx_bound(), RxBound::Internal(MAX_CONTROL_PAYLOAD - 6));
    assert_eq!(fill(&mut conn, &wire[6..]), Ok(Event::Continue));
    assert!(conn.ready());
    let mut out = [0u8; 10];
    assert_eq!(conn.take_small_message(&mut out), Some((MessageKind::Binary, 10)));
    assert_eq!(out, [5; 10]);
    // Two whole frames in one read: ready until both are used.
    let mut conn = Connection::new(Role::Client);
    let mut wire = frame(Role::Server, 0x9, true, b"p");
    wire.extend(frame(Role::Server, 0x2, true, b"x"));
    assert_eq!(fill(&mut conn, &wire), Ok(Event::Ping));
    assert!(conn.ready(), "the second frame waits read ahead");
    assert_eq!(conn.rx_bound(), RxBound::Internal(0));
    // A failed or closed connection is ready: the step reports it at once.
    conn.fail_transport(TransportError::Eof);
    assert!(conn.ready());
    assert_eq!(conn.rx_bound(), RxBound::Nothing);
}

#[test]
fn rx_bound_is_what_want_hands_out() {
    let mut conn = Connection::new(Role::Server);
    let wire = frame(Role::Client, 0x9, true, &[1; 100]);
    // Header and part of a control payload, then the rest of it.
    assert_eq!(fill(&mut conn, &wire[..3]), Ok(Event::Continue));
    let bound = conn.rx_bound();
    let Want::Internal(buf) = conn.want() else { panic!() };
    assert_eq!(bound, RxBound::Internal(buf.len()));
    assert_eq!(fill(&mut conn, &wire[3..50]), Ok(Event::Continue));
    let bound = conn.rx_bound();
    let Want::Internal(buf) = conn.want() else { panic!() };
    assert_eq!(bound, RxBound::Internal(buf.len()));
    assert_eq!(buf.len(), wire.len() - 50);
}

#[test]
fn end_reports_the_first_cause() {
    // The peer's Close.
    let mut conn = Connection::new(Role::Client);
    assert_eq!(conn.end(), None);
    let mut payload = 4001u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    assert_eq!(fill(&mut conn, &frame(Role::Server, 0x8, true, &payload)), Ok(Event::Close));
    conn.fail_transport(TransportError::Eof);
    assert_eq!(conn.end(), Some((CloseCode(4001), &b"bye"[..])));
    // A Close without a code: 1005 and no reason.
    let mut conn = Connection::new(Role::Client);
    assert_eq!(fill(&mut conn, &frame(Role::Server, 0x8, true, b"")), Ok(Event::Close));
    assert_eq!(conn.end(), Some((CloseCode::NO_STATUS, &b""[..])));
    // A protocol error wins over a later transport failure.
    let mut conn = Connection::new(Role::Server);
    assert_eq!(fill(&mut conn, &frame(Role::Server, 0x2, true, b"x")), Err(ProtocolError::UnmaskedFrame));
    conn.fail_transport(TransportError::Failed);
    assert_eq!(conn.end(), Some((CloseCode::PROTOCOL_ERROR, ProtocolError::UnmaskedFrame.message().as_bytes())));
    // The transport alone: 1006, and the first failure is kept.
    let mut conn = Connection::new(Role::Server);
    conn.fail_transport(TransportError::BadCount);
    conn.fail_transport(TransportError::Eof);
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.end(), Some((CloseCode::ABNORMAL, TransportError::BadCount.message().as_bytes())));
    // Our Close went out and the peer vanished: 1006 too (§7.1.5).
    let mut conn = Connection::new(Role::Server);
    conn.control_header(OpCode::Close, 2, [0; 4]).unwrap();
    conn.fail_transport(TransportError::Eof);
    assert_eq!(conn.end().map(|(code, _)| code), Some(CloseCode::ABNORMAL));
}

#[test]
fn close_reply_policy() {
    // Echo the peer's code; 1000 for a Close without one.
    let mut conn = Connection::new(Role::Client);
    assert_eq!(conn.close_reply(), None);
    assert_eq!(fill(&mut conn, &frame(Role::Server, 0x8, true, &4001u16.to_be_bytes())), Ok(Event::Close));
    assert_eq!(conn.close_reply(), Some((CloseCode(4001), &b""[..])));
    let mut conn = Connection::new(Role::Client);
    assert_eq!(fill(&mut conn, &frame(Role::Server, 0x8, true, b"")), Ok(Event::Close));
    assert_eq!(conn.close_reply(), Some((CloseCode::NORMAL, &b""[..])));
    conn.control_header(OpCode::Close, 2, [0; 4]).unwrap();
    assert_eq!(conn.close_reply(), None, "answered");
    // A protocol failure: its code and message.
    let mut conn = Connection::new(Role::Client);
    assert_eq!(fill(&mut conn, &frame(Role::Server, 0x3, true, b"")), Err(ProtocolError::ReservedOpcode));
    assert_eq!(conn.close_reply(), Some((CloseCode::PROTOCOL_ERROR, ProtocolError::ReservedOpcode.message().as_bytes())));
    // A failure after our Close: none owed.
    let mut conn = Connection::new(Role::Server);
    conn.control_header(OpCode::Close, 2, [0; 4]).unwrap();
    assert_eq!(fill(&mut conn, &frame(Role::Server, 0x2, true, b"x")), Err(ProtocolError::UnmaskedFrame));
    assert_eq!(conn.close_reply(), None);
    assert_eq!(KEEPALIVE_CLOSE, CloseCode(1011));
}

/// Small messages arriving several to a read, the last of each read cut
/// off: every one is taken whole by `take_small_message`; the general
/// steps only read (the rest of a cut-off message joins the next read).
#[test]
fn small_messages_cut_by_reads_are_taken_whole() {
    for role in [Role::Server, Role::Client] {
        let from = if role == Role::Server { Role::Client } else { Role::Server };
        let input: Vec<u8> = (0..60u8).flat_map(|i| frame(from, 0x2, true, &[i; 16])).collect();
        for chunk in [1, 7, 64, 125] {
            let mut conn = Connection::new(role);
            let (mut fed, mut taken) = (0, 0u8);
            while taken < 60 {
                let mut out = [0u8; 16];
                if let Some((kind, n)) = conn.take_small_message(&mut out) {
                    assert_eq!((kind, n, out), (MessageKind::Binary, 16, [taken; 16]));
                    taken += 1;
                    continue;
                }
                let Want::Internal(buf) = conn.want() else { panic!("{role:?} {chunk}: a step past a read") };
                let n = buf.len().min(chunk).min(input.len() - fed);
                assert!(n > 0, "{role:?} {chunk}: message {taken} not taken whole");
                buf[..n].copy_from_slice(&input[fed..fed + n]);
                fed += n;
                assert_eq!(conn.filled(n), Ok(Event::Continue));
            }
            assert_eq!(fed, input.len());
        }
    }
}
