//! permessage-deflate negotiation on any header value: no panic, the
//! server's answer stays within its options, and what it writes parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uwebsocket::extension::{self, DeflateOptions};

fuzz_target!(|data: &[u8]| {
    let [sb, cb, flags, rest @ ..] = data else { return };
    let opts = DeflateOptions {
        server_max_window_bits: 8 + sb % 8,
        client_max_window_bits: 8 + cb % 8,
        server_no_context_takeover: flags & 1 != 0,
        client_no_context_takeover: flags & 2 != 0,
    };
    let fields = rest.split(|&b| b == b'\n');
    if let Some(agreement) = extension::server_accept(fields.clone(), &opts) {
        assert!(agreement.params.server_max_window_bits <= opts.server_max_window_bits);
        assert!(agreement.params.client_max_window_bits <= opts.client_max_window_bits);
        let mut out = [0u8; extension::MAX_VALUE_LEN];
        let n = agreement.write(&mut out).expect("an answer always fits");
        assert!(extension::elements(&out[..n]).all(|e| e.is_ok_and(|e| e.params.is_ok())));
    }
    if let Ok(Some(params)) = extension::client_accept(fields, &opts) {
        assert!(params.server_max_window_bits <= opts.server_max_window_bits);
        assert!(params.client_max_window_bits <= opts.client_max_window_bits);
    }
});
