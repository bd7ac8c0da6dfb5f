//! The HTTP head reader, parsers, header joining and response writers:
//! any bytes, no panic; the reader never takes a byte past the head's end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uwebsocket::http::{self, HeadReader, HeadState};

fuzz_target!(|data: &[u8]| {
    let mut reader = HeadReader::new(data.len().max(1));
    let mut pos = 0;
    while reader.state() == HeadState::Incomplete && pos < data.len() {
        let n = reader.next_read().min(data.len() - pos);
        reader.feed(&data[pos..pos + n]);
        pos += n;
    }
    if reader.state() == HeadState::Complete {
        assert!(data[..pos].ends_with(b"\r\n\r\n"));
        assert_eq!(uwebsocket::handshake::head_end(data), Some(pos));
    }
    if let Ok(head) = http::parse_request_head(data) {
        let mut name = [0u8; 512];
        let mut value = [0u8; 512];
        let mut i = 0;
        while http::joined_field(&head.fields, i, &mut name, &mut value).is_some() {
            i += 1;
        }
    }
    let _ = http::parse_response_head(data);
    let (a, b) = data.split_at(data.len() / 2);
    let mut out = [0u8; 256];
    let _ = http::write_response(&mut out, 200, a, b, data.len());
    let _ = http::header_line(a, b, &mut out);
});
