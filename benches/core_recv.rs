//! Native receive throughput: our core against tungstenite on the same
//! client-to-server (masked) binary frames, in one process, taking turns.
//!
//!     cargo bench --bench core_recv
//!
//! Prints one JSON object per line: {"case": "native_recv", "impl": ...,
//! "size": ..., "msgs_per_s": ..., "mb_per_s": ...} (medians of REPEATS
//! runs; MB = 10^6 payload bytes). Both sides read from memory and deliver
//! each message's payload unmasked into memory: we into one reused buffer
//! (as `recv_into` does), tungstenite into the message it returns.

use std::hint::black_box;
use std::io::{self, Cursor, Read, Write};
use std::time::Instant;

use tungstenite::protocol::{Role as TRole, WebSocket, WebSocketConfig};
use tungstenite::Message;
use uwebsocket::connection::{Connection, Event, Role, Want};
use uwebsocket::frame::apply_mask;

const SIZES: [usize; 4] = [16, 1024, 65_535, 1 << 20];
const REPEATS: usize = 7;
/// Bytes of frames in one stream; a run reads it once.
const STREAM_BYTES: usize = 32 << 20;
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn masked_frame(size: usize) -> Vec<u8> {
    let mut f = vec![0x82u8];
    if size < 126 {
        f.push(0x80 | size as u8);
    } else if size < 65_536 {
        f.push(0x80 | 126);
        f.extend_from_slice(&(size as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(size as u64).to_be_bytes());
    }
    f.extend_from_slice(&KEY);
    let start = f.len();
    f.extend((0..size).map(|i| (i * 31 + 7) as u8));
    apply_mask(&mut f[start..], KEY, 0);
    f
}

/// Our core, server role: frames in, each message's payload into `out`.
fn ours(wire: &[u8], size: usize, out: &mut [u8]) -> usize {
    let mut conn = Connection::new(Role::Server);
    conn.set_limits(u64::MAX, u64::MAX);
    let mut input = wire;
    let mut messages = 0;
    let mut written = 0;
    loop {
        let event = match conn.want() {
            Want::Nothing | Want::Inflate => break,
            Want::Internal(buf) => {
                let n = buf.len().min(input.len());
                if n == 0 && !buf.is_empty() {
                    break;
                }
                buf[..n].copy_from_slice(&input[..n]);
                input = &input[n..];
                conn.filled(n).expect("valid frames")
            }
            Want::Buffered(ahead) => {
                let n = ahead.len();
                out[written..written + n].copy_from_slice(ahead);
                let event = conn.data_received(&mut out[written..written + n]).expect("valid frames");
                written += n;
                event
            }
            Want::Data(len) => {
                let n = (len as usize).min(input.len()).min(out.len() - written);
                out[written..written + n].copy_from_slice(&input[..n]);
                input = &input[n..];
                let event = conn.data_received(&mut out[written..written + n]).expect("valid frames");
                written += n;
                event
            }
        };
        if let Event::Message(_) = event {
            assert_eq!(written, size);
            black_box(&out[..written]);
            written = 0;
            messages += 1;
        }
    }
    messages
}

struct Input(Cursor<Vec<u8>>);

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Input {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

fn main() {
    for size in SIZES {
        let frame = masked_frame(size);
        let count = (STREAM_BYTES / frame.len()).max(8);
        let wire = frame.repeat(count);
        let mut out = vec![0u8; size];
        let mut rates = [Vec::new(), Vec::new()];
        for _ in 0..REPEATS {
            // The copy tungstenite's stream takes is made outside its clock.
            let t = Instant::now();
            assert_eq!(ours(&wire, size, &mut out), count);
            rates[0].push(count as f64 / t.elapsed().as_secs_f64());
            let copy = wire.clone();
            let t = Instant::now();
            assert_eq!(theirs(copy, size), count);
            rates[1].push(count as f64 / t.elapsed().as_secs_f64());
        }
        for (name, r) in ["uwebsocket", "tungstenite"].iter().zip(rates) {
            let rate = median(r);
            println!(
                "{{\"case\": \"native_recv\", \"impl\": \"{name}\", \"size\": {size}, \"msgs_per_s\": {rate:.0}, \"mb_per_s\": {:.1}}}",
                rate * size as f64 / 1e6
            );
        }
    }
}

/// tungstenite, server role, on the same bytes (its stream owns them).
fn theirs(wire: Vec<u8>, size: usize) -> usize {
    let config = WebSocketConfig::default().max_message_size(None).max_frame_size(None);
    let mut ws = WebSocket::from_raw_socket(Input(Cursor::new(wire)), TRole::Server, Some(config));
    let mut messages = 0;
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) => {
                assert_eq!(b.len(), size);
                black_box(&b);
                messages += 1;
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(tungstenite::Error::Protocol(_)) => break,
            Err(e) => panic!("tungstenite: {e}"),
        }
    }
    messages
}
