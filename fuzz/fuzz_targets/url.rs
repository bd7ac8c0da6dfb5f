//! The URL parser and the Basic credentials built from what it accepts:
//! any bytes, no panic, and what parses has a host, a port and a path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uwebsocket::url;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = url::parse(data) {
        assert!(!u.host.is_empty() && u.port != 0 && !u.path.is_empty());
        if let Some((user, password)) = u.userinfo {
            let mut out = [0u8; 400];
            let _ = url::basic_auth(user, password, &mut out);
        }
    }
});
