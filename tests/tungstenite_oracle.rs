//! An outside oracle: tungstenite, a WebSocket implementation we did not
//! write. Frames it writes decode identically in our core, and frames our
//! core writes decode identically in it, in both roles, for any sequence of
//! messages (fragmented ones included) cut into reads anywhere.

use std::io::{self, Cursor, Read, Write};

use proptest::prelude::*;
use tungstenite::protocol::frame::coding::{Data, OpCode as TOpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::{Role as TRole, WebSocket};
use tungstenite::Message;
use uwebsocket::connection::{Connection, Event, MessageKind, Role, Want};
use uwebsocket::frame::{apply_mask, MAX_HEADER_LEN};

/// An in-memory stream: reads from `input`, writes to `output`.
struct Duplex {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One message of a test sequence.
#[derive(Debug, Clone, PartialEq)]
enum Msg {
    Text(String, Vec<usize>),
    Binary(Vec<u8>, Vec<usize>),
    Ping(Vec<u8>),
}

impl Msg {
    /// What a receiver sees: kind and payload (fragment cuts dropped).
    fn seen(&self) -> (u8, Vec<u8>) {
        match self {
            Msg::Text(s, _) => (1, s.as_bytes().to_vec()),
            Msg::Binary(b, _) => (2, b.clone()),
            Msg::Ping(p) => (9, p.clone()),
        }
    }
}

fn msg() -> impl Strategy<Value = Msg> {
    let cuts = proptest::collection::vec(0usize..70_000, 0..3);
    prop_oneof![
        ("\\PC{0,80}", cuts.clone()).prop_map(|(s, c)| Msg::Text(s, c)),
        (proptest::collection::vec(any::<u8>(), 0..300), cuts.clone()).prop_map(|(b, c)| Msg::Binary(b, c)),
        // Occasionally a long one, for the 16- and 64-bit length forms.
        (0usize..3, cuts).prop_map(|(k, c)| Msg::Binary(vec![0xA5; [126, 65_535, 65_536][k]], c)),
        proptest::collection::vec(any::<u8>(), 0..126).prop_map(Msg::Ping),
    ]
}

/// Split a payload at `cuts` into fragments (at least one).
fn fragments<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    cuts.sort();
    cuts.push(data.len());
    let mut start = 0;
    cuts.iter()
        .map(|&end| {
            let piece = &data[start..end];
            start = end;
            piece
        })
        .collect()
}

/// tungstenite in `role` writes the messages.
fn tungstenite_writes(role: TRole, msgs: &[Msg]) -> Vec<u8> {
    let stream = Duplex { input: Cursor::new(Vec::new()), output: Vec::new() };
    let mut ws = WebSocket::from_raw_socket(stream, role, None);
    for m in msgs {
        let (data, opcode, cuts) = match m {
            Msg::Text(s, c) => (s.as_bytes(), Data::Text, c),
            Msg::Binary(b, c) => (&b[..], Data::Binary, c),
            Msg::Ping(p) => {
                ws.write(Message::Ping(p.clone().into())).unwrap();
                continue;
            }
        };
        let parts = fragments(data, cuts);
        for (i, part) in parts.iter().enumerate() {
            let op = if i == 0 { opcode } else { Data::Continue };
            let frame = Frame::message(part.to_vec(), TOpCode::Data(op), i == parts.len() - 1);
            ws.write(Message::Frame(frame)).unwrap();
        }
    }
    ws.flush().unwrap();
    ws.get_ref().output.clone()
}

/// Our core in `role` reads `wire`, cut into reads of `chunk` bytes.
fn core_reads(role: Role, wire: &[u8], chunk: usize) -> Vec<(u8, Vec<u8>)> {
    let mut conn = Connection::new(role);
    let mut seen = Vec::new();
    let mut message = Vec::new();
    let mut input = wire;
    loop {
        let event = match conn.want() {
            Want::Nothing | Want::Inflate => break,
            Want::Internal(buf) => {
                if !buf.is_empty() && input.is_empty() {
                    break;
                }
                let n = buf.len().min(chunk).min(input.len());
                buf[..n].copy_from_slice(&input[..n]);
                input = &input[n..];
                conn.filled(n).unwrap()
            }
            Want::Buffered(ahead) => {
                let n = ahead.len().min(chunk);
                let start = message.len();
                message.extend_from_slice(&ahead[..n]);
                conn.data_received(&mut message[start..]).unwrap()
            }
            Want::Data(_) if input.is_empty() => break,
            Want::Data(len) => {
                let n = (len.min(chunk as u64) as usize).min(input.len());
                let start = message.len();
                message.extend_from_slice(&input[..n]);
                input = &input[n..];
                conn.data_received(&mut message[start..]).unwrap()
            }
        };
        match event {
            Event::Message(MessageKind::Text) => seen.push((1, std::mem::take(&mut message))),
            Event::Message(MessageKind::Binary) => seen.push((2, std::mem::take(&mut message))),
            Event::Ping => seen.push((9, conn.control_payload().to_vec())),
            _ => {}
        }
    }
    seen
}

/// Our core in `role` writes the messages.
fn core_writes(role: Role, msgs: &[Msg]) -> Vec<u8> {
    let mut conn = Connection::new(role);
    let mut wire = Vec::new();
    let mut key_seed = 0x1234_5678u32;
    let emit = |wire: &mut Vec<u8>, header: uwebsocket::FrameHeader, payload: &[u8]| {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut buf);
        wire.extend_from_slice(&buf[..n]);
        let start = wire.len();
        wire.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut wire[start..], key, 0);
        }
    };
    for m in msgs {
        key_seed = key_seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let key = key_seed.to_le_bytes();
        let (data, kind, cuts) = match m {
            Msg::Text(s, c) => (s.as_bytes(), MessageKind::Text, c),
            Msg::Binary(b, c) => (&b[..], MessageKind::Binary, c),
            Msg::Ping(p) => {
                let h = conn.control_header(uwebsocket::OpCode::Ping, p.len(), key).unwrap();
                emit(&mut wire, h, p);
                continue;
            }
        };
        let parts = fragments(data, cuts);
        for (i, part) in parts.iter().enumerate() {
            let h = conn.data_header(kind, i == parts.len() - 1, part.len() as u64, key).unwrap();
            emit(&mut wire, h, part);
        }
    }
    wire
}

/// tungstenite in `role` reads `wire`.
fn tungstenite_reads(role: TRole, wire: Vec<u8>) -> Vec<(u8, Vec<u8>)> {
    let stream = Duplex { input: Cursor::new(wire), output: Vec::new() };
    let mut ws = WebSocket::from_raw_socket(stream, role, None);
    let mut seen = Vec::new();
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => seen.push((1, t.as_bytes().to_vec())),
            Ok(Message::Binary(b)) => seen.push((2, b.to_vec())),
            Ok(Message::Ping(p)) => seen.push((9, p.to_vec())),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)) => break,
            Err(e) => panic!("tungstenite refused our frames: {e}"),
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tungstenite_client_to_our_server(msgs in proptest::collection::vec(msg(), 0..6), chunk in 1usize..5000) {
        let wire = tungstenite_writes(TRole::Client, &msgs);
        let expected: Vec<_> = msgs.iter().map(Msg::seen).collect();
        prop_assert_eq!(core_reads(Role::Server, &wire, chunk), expected);
    }

    #[test]
    fn tungstenite_server_to_our_client(msgs in proptest::collection::vec(msg(), 0..6), chunk in 1usize..5000) {
        let wire = tungstenite_writes(TRole::Server, &msgs);
        let expected: Vec<_> = msgs.iter().map(Msg::seen).collect();
        prop_assert_eq!(core_reads(Role::Client, &wire, chunk), expected);
    }

    #[test]
    fn our_client_to_tungstenite_server(msgs in proptest::collection::vec(msg(), 0..6)) {
        let wire = core_writes(Role::Client, &msgs);
        let expected: Vec<_> = msgs.iter().map(Msg::seen).collect();
        prop_assert_eq!(tungstenite_reads(TRole::Server, wire), expected);
    }

    #[test]
    fn our_server_to_tungstenite_client(msgs in proptest::collection::vec(msg(), 0..6)) {
        let wire = core_writes(Role::Server, &msgs);
        let expected: Vec<_> = msgs.iter().map(Msg::seen).collect();
        prop_assert_eq!(tungstenite_reads(TRole::Client, wire), expected);
    }
}
