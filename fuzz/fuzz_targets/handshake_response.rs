//! Client side of the opening handshake (RFC 6455 §4.1) on arbitrary bytes: as the
//! server's answer, and as the fields of the client's own request.
//!
//! Beyond "never panics", a chosen subprotocol must be one that was offered, and every
//! request the writer accepts must parse and validate on our own server side.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uwebsocket::handshake::{
    head_end, parse_request, parse_response, validate_request, validate_response, write_request,
};

/// RFC 6455 §1.3's sample key, as if the client had sent it.
const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";

fuzz_target!(|data: &[u8]| {
    let head = head_end(data).and_then(|end| data.get(..end)).unwrap_or(data);
    if let Ok(resp) = parse_response(head) {
        let _ = (resp.status, resp.headers().count(), resp.header("upgrade"));
        for offered in [&b""[..], b"chat", b"chat, superchat"] {
            if let Ok(Some(chosen)) = validate_response(&resp, KEY, offered) {
                assert!(offered.split(|&b| b == b',').any(|item| item.trim_ascii() == chosen));
            }
        }
    }

    // The same bytes, split at NULs, as host, path, subprotocols and origin.
    let mut fields = data.split(|&b| b == 0);
    let (host, path, subprotocols) = (
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
    );
    let origin = fields.next();
    let port = (data.len() & 0xffff) as u16;
    let mut out = [0u8; 256];
    if let Ok(len) = write_request(&mut out, host, port, 80, path, KEY, subprotocols, origin, b"") {
        let req = parse_request(&out[..len]).expect("our request parses");
        let accepted = validate_request(&req, b"", None).expect("our request validates");
        assert_eq!(accepted.key, KEY);
    }
});
