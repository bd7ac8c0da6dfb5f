//! permessage-deflate in the native core: messages per second and bytes
//! on the wire for typical JSON telemetry (miniz_oxide's level 6 for the
//! ratio), and our inflater on miniz_oxide's dynamic-block streams.
//!
//!     cargo bench --bench core_deflate
//!
//! Prints one JSON object per line (medians of REPEATS runs).

use std::hint::black_box;
use std::time::Instant;

use miniz_oxide::deflate::core::{compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush};
use uwebsocket::deflate::DeflateState;
use uwebsocket::inflate::InflateState;

const REPEATS: usize = 7;
const MESSAGES: usize = 20_000;
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

fn telemetry(i: usize) -> Vec<u8> {
    format!(
        "{{\"device\":\"esp32-kitchen\",\"seq\":{i},\"ts\":{},\"temperature\":{}.{},\"humidity\":{},\"pressure\":1013.{},\"battery\":3.{},\"rssi\":-{}}}",
        1_700_000_000 + i * 5,
        20 + i % 5,
        i % 10,
        40 + i % 7,
        i % 10,
        70 + i % 20,
        50 + i % 30
    )
    .into_bytes()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn ours_compress(bits: u8, messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut d = DeflateState::new(bits);
    let mut work = vec![0u32; d.work_len().div_ceil(4)];
    let mut out = vec![0u8; 4096];
    messages
        .iter()
        .map(|m| {
            let work: &mut [u8] = bytemuck_bytes(&mut work);
            let p = d.deflate(work, m, &mut out, true).unwrap();
            assert!(p.done);
            out[..p.produced].to_vec()
        })
        .collect()
}

fn bytemuck_bytes(words: &mut [u32]) -> &mut [u8] {
    // SAFETY: any bytes are valid u8s; the length is the words' in bytes.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, words.len() * 4) }
}

fn ours_inflate(bits: u8, wire: &[Vec<u8>], out: &mut [u8]) -> usize {
    let mut s = InflateState::new(bits);
    let mut window = vec![0u8; s.window_len()];
    let mut total = 0;
    for w in wire {
        let p = s.inflate(&mut window, w, out).unwrap();
        let q = s.inflate(&mut window, &TAIL, &mut out[p.produced..]).unwrap();
        s.end_message(true).unwrap();
        total += p.produced + q.produced;
    }
    total
}

fn miniz_compress(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut d = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
    let mut out = vec![0u8; 4096];
    messages
        .iter()
        .map(|m| {
            let (_, _, n) = compress(&mut d, m, &mut out, TDEFLFlush::Sync);
            out[..n - 4].to_vec()
        })
        .collect()
}

fn main() {
    let messages: Vec<Vec<u8>> = (0..MESSAGES).map(telemetry).collect();
    let raw: usize = messages.iter().map(Vec::len).sum();
    for bits in [9u8, 11, 15] {
        let mut times = Vec::new();
        let mut wire = Vec::new();
        for _ in 0..REPEATS {
            let t = Instant::now();
            wire = black_box(ours_compress(bits, &messages));
            times.push(t.elapsed().as_secs_f64());
        }
        let bytes: usize = wire.iter().map(Vec::len).sum();
        println!(
            "{{\"case\": \"telemetry_deflate\", \"impl\": \"uwebsocket\", \"window_bits\": {bits}, \"raw_bytes_per_msg\": {:.1}, \"wire_bytes_per_msg\": {:.1}, \"msgs_per_s\": {:.0}}}",
            raw as f64 / MESSAGES as f64,
            bytes as f64 / MESSAGES as f64,
            MESSAGES as f64 / median(&times)
        );
        let mut out = vec![0u8; raw + 1024];
        let mut times = Vec::new();
        for _ in 0..REPEATS {
            let t = Instant::now();
            black_box(ours_inflate(bits, &wire, &mut out));
            times.push(t.elapsed().as_secs_f64());
        }
        println!(
            "{{\"case\": \"telemetry_inflate\", \"impl\": \"uwebsocket\", \"window_bits\": {bits}, \"msgs_per_s\": {:.0}, \"mb_per_s\": {:.1}}}",
            MESSAGES as f64 / median(&times),
            raw as f64 / median(&times) / 1e6
        );
    }
    let wire = miniz_compress(&messages);
    let bytes: usize = wire.iter().map(Vec::len).sum();
    println!(
        "{{\"case\": \"telemetry_deflate\", \"impl\": \"miniz_oxide level 6\", \"window_bits\": 15, \"wire_bytes_per_msg\": {:.1}}}",
        bytes as f64 / MESSAGES as f64
    );
    let mut out = vec![0u8; raw + 1024];
    {
        let name = "uwebsocket";
        let mut times = Vec::new();
        for _ in 0..REPEATS {
            let t = Instant::now();
            let n = ours_inflate(15, &wire, &mut out);
            assert_eq!(n, raw);
            times.push(t.elapsed().as_secs_f64());
        }
        println!(
            "{{\"case\": \"inflate_miniz_stream\", \"impl\": \"{name}\", \"msgs_per_s\": {:.0}, \"mb_per_s\": {:.1}}}",
            MESSAGES as f64 / median(&times),
            raw as f64 / median(&times) / 1e6
        );
    }
}
