//! The decompressor on any bytes, in any pieces, into output of any size:
//! no panic, and never more output than it was given room for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uwebsocket::inflate::InflateState;

fuzz_target!(|data: &[u8]| {
    let [bits, in_step, out_step, rest @ ..] = data else { return };
    let mut state = InflateState::new(8 + bits % 8);
    let mut window = vec![0u8; state.window_len()];
    let in_step = usize::from(*in_step) + 1;
    let mut out = vec![0u8; usize::from(*out_step) + 1];
    let mut input = rest;
    // Messages separated by the tail a receiver appends (RFC 7692 §7.2.2).
    for _ in 0..4 {
        let mut stalled = 0;
        while stalled < 3 {
            let piece = &input[..input.len().min(in_step)];
            let Ok(p) = state.inflate(&mut window, piece, &mut out) else { return };
            assert!(p.consumed <= piece.len() && p.produced <= out.len());
            input = &input[p.consumed..];
            stalled = if p.consumed == 0 && p.produced == 0 { stalled + 1 } else { 0 };
        }
        if state.end_message(bits & 0x80 != 0).is_err() {
            return;
        }
    }
});
