//! Any messages through our compressor and back through our decompressor
//! at the same window, with and without context takeover, in pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uwebsocket::deflate::DeflateState;
use uwebsocket::inflate::InflateState;

fuzz_target!(|data: &[u8]| {
    let [bits, step, flags, rest @ ..] = data else { return };
    let bits = 8 + bits % 8;
    let keep = flags & 1 != 0;
    let step = usize::from(*step) + 1;
    let mut deflater = DeflateState::new(bits);
    let mut work = vec![0u32; deflater.work_len().div_ceil(4)];
    let mut inflater = InflateState::new(bits);
    let mut window = vec![0u8; inflater.window_len()];
    for message in rest.split(|&b| b == 0xFF).take(8) {
        let mut compressed = Vec::new();
        let mut at = 0;
        loop {
            let mut out = vec![0u8; step];
            let end = (at + step).min(message.len());
            let work: &mut [u8] = bytemuck_cast(&mut work);
            let p = deflater.deflate(work, &message[at..end], &mut out, end == message.len()).unwrap();
            compressed.extend_from_slice(&out[..p.produced]);
            at += p.consumed;
            if p.done {
                break;
            }
        }
        if !keep {
            deflater.reset_history();
        }
        compressed.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut plain = vec![0u8; message.len() + 1];
        let p = inflater.inflate(&mut window, &compressed, &mut plain).expect("our own stream inflates");
        assert_eq!(p.consumed, compressed.len());
        assert_eq!(&plain[..p.produced], message);
        inflater.end_message(keep).expect("and ends between blocks");
    }
});

fn bytemuck_cast(words: &mut [u32]) -> &mut [u8] {
    // SAFETY: u8 has no alignment or validity requirement; the length is
    // that of the words in bytes.
    unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, words.len() * 4) }
}
