//! The connection state machine on arbitrary input: the first bytes choose
//! the role, the limits and how the input is cut into reads; the rest is
//! the wire. The core must never panic, never take more than it asked
//! for, and stop reading once it failed or closed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uwebsocket::connection::{Connection, Event, Role, State, Want};

fuzz_target!(|data: &[u8]| {
    let [flags, max, cut, rest @ ..] = data else { return };
    let role = if flags & 1 == 0 { Role::Server } else { Role::Client };
    let mut conn = Connection::new(role);
    conn.set_limits(u64::from(*max) * 64 + 1, u64::from(*max) * 16 + 1);
    let chunk = usize::from(*cut % 17) + 1;
    let mut input = rest;
    let mut payload = [0u8; 4096];
    let mut message_len = 0usize;
    loop {
        let result = match conn.want() {
            Want::Nothing => {
                assert!(!matches!(conn.state(), State::Open | State::CloseSent));
                break;
            }
            // Compression is never negotiated here (RSV1 is refused).
            Want::Inflate => unreachable!(),
            // Nothing more to read: what was read ahead is used up first.
            Want::Internal(buf) if !buf.is_empty() && input.is_empty() => break,
            Want::Data(_) if input.is_empty() => break,
            Want::Buffered(ahead) => {
                assert!(!ahead.is_empty() && ahead.len() <= 125);
                let n = ahead.len().min(chunk);
                let dst = &mut payload[message_len % 2048..][..n];
                dst.copy_from_slice(&ahead[..n]);
                message_len += n;
                conn.data_received(dst)
            }
            Want::Internal(buf) => {
                assert!(buf.len() <= 125);
                let n = buf.len().min(chunk).min(input.len());
                buf[..n].copy_from_slice(&input[..n]);
                input = &input[n..];
                conn.filled(n)
            }
            Want::Data(len) => {
                assert!(len > 0);
                let n = (len.min(chunk as u64) as usize).min(input.len());
                let dst = &mut payload[message_len % 2048..][..n];
                dst.copy_from_slice(&input[..n]);
                input = &input[n..];
                message_len += n;
                conn.data_received(dst)
            }
        };
        match result {
            Ok(Event::Message(_)) => message_len = 0,
            Ok(Event::Close) => assert!(conn.close_code().is_some()),
            Ok(_) => {}
            Err(e) => {
                assert!(matches!(e.close_code().0, 1002 | 1007 | 1009));
                assert_eq!(conn.want(), Want::Nothing);
                break;
            }
        }
    }
});
