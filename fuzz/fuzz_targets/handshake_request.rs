//! Server side of the opening handshake (RFC 6455 §4.2) on arbitrary bytes from a client.
//!
//! Beyond "never panics", every request that validates must yield a 101 that our own
//! client side accepts, and every rejection must yield a parseable error answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uwebsocket::handshake::{
    head_end, parse_request, parse_response, validate_request, validate_response,
    write_error_response, write_response,
};

/// The server's subprotocols, in order of preference.
const SUBPROTOCOLS: &[u8] = b"chat, superchat";
/// The origins the server accepts when the input asks for an origin check.
const ORIGINS: &[u8] = b"http://example.com, https://example.com";

fuzz_target!(|data: &[u8]| {
    // The first byte plays the server's configuration: check origins or not.
    let Some((config, bytes)) = data.split_first() else {
        return;
    };
    let origins = (config & 1 == 1).then_some(ORIGINS);
    // A server hands the parser the head as found by head_end, or whatever it has.
    let head = head_end(bytes).and_then(|end| bytes.get(..end)).unwrap_or(bytes);

    let outcome = parse_request(head).and_then(|req| {
        let _ = (req.is_upgrade(), req.headers().count(), req.header("host"));
        validate_request(&req, SUBPROTOCOLS, origins)
            .map(|accepted| (accepted.key, accepted.subprotocol))
    });
    let mut out = [0u8; 512];
    match outcome {
        Ok((key, subprotocol)) => {
            let len = write_response(&mut out, key, subprotocol, b"").expect("a 101 fits");
            let resp = parse_response(&out[..len]).expect("our 101 parses");
            let key: &[u8; 24] = key.try_into().expect("a valid key is 24 bytes");
            assert_eq!(validate_response(&resp, key, SUBPROTOCOLS), Ok(subprotocol));
        }
        Err(err) => {
            let len = write_error_response(&mut out, err).expect("server errors have an answer");
            let resp = parse_response(&out[..len]).expect("our error answer parses");
            assert_eq!(resp.status, err.status());
        }
    }
});
