//! The compression calls as the shim makes them: negotiation on both
//! sides, then a message compressed into a small fixed buffer, sent as
//! fragments, and inflated a few bytes at a time on the other side.

use super::*;
use std::vec;
use std::vec::Vec;

/// A host-allocated block of `size` bytes aligned to `align` (<= 16).
fn block(size: usize) -> Vec<u128> {
    vec![0u128; size.div_ceil(16)]
}

#[test]
fn negotiate_compress_fragment_inflate() {
    assert!(core::mem::align_of::<InflateState>() <= 16 && core::mem::align_of::<DeflateState>() <= 16);
    let server_opts = DeflateOptions { server_max_window_bits: 10, ..DeflateOptions::DEFAULT };
    let client_opts = DeflateOptions::DEFAULT;

    // Client offer, in the request's extra lines.
    let mut line = [0u8; UWS_DEFLATE_LINE];
    let n = unsafe { uws_deflate_offer(&client_opts, line.as_mut_ptr(), line.len()) };
    assert_eq!(&line[..n], b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11; client_max_window_bits=11\r\n");
    let nonce = [7u8; UWS_NONCE_LEN];
    let mut key = [0u8; UWS_KEY_LEN];
    let mut request = [0u8; 512];
    let rn = unsafe {
        uws_client_request(request.as_mut_ptr(), request.len(), b"h".as_ptr(), 1, 80, 80, b"/".as_ptr(), 1,
            core::ptr::null(), 0, core::ptr::null(), 0, line.as_ptr(), n, nonce.as_ptr(), key.as_mut_ptr())
    };
    assert!(rn > 0);

    // Server: accept the offer, answer with the line in `extra`.
    let mut server_params = DeflateParams::default();
    let n = unsafe { uws_deflate_server_accept(request.as_ptr(), rn, &server_opts, line.as_mut_ptr(), line.len(), &mut server_params) };
    assert!(n > 0);
    let mut response = [0u8; 512];
    let mut result = core::mem::MaybeUninit::<uws_handshake>::uninit();
    assert!(unsafe {
        uws_server_handshake(request.as_ptr(), rn, true, core::ptr::null(), 0, core::ptr::null(), 0, line.as_ptr(), n,
            response.as_mut_ptr(), response.len(), result.as_mut_ptr())
    });
    let response_len = unsafe { result.assume_init_ref() }.response_len;

    // Client: the answer is within the offer.
    let mut client_params = DeflateParams::default();
    let mut agreed = false;
    assert!(unsafe {
        uws_client_response_deflate(response.as_ptr(), response_len, key.as_ptr(), core::ptr::null(), 0, &client_opts,
            result.as_mut_ptr(), &mut client_params, &mut agreed)
    });
    assert!(agreed);
    assert_eq!(client_params, server_params);
    // The plain call refuses an answer naming an extension, as before.
    assert!(!unsafe { uws_client_response(response.as_ptr(), response_len, key.as_ptr(), core::ptr::null(), 0, result.as_mut_ptr()) });

    let mut keep = false;
    let tx_bits = unsafe { uws_deflate_tx_bits(&server_params, true, &mut keep) };
    assert_eq!((tx_bits, keep), (10, true));
    let rx_bits = unsafe { uws_deflate_rx_bits(&client_params, false, &mut keep) };
    assert_eq!((rx_bits, keep), (10, true));

    // Connections.
    let mut server = std::boxed::Box::new(core::mem::MaybeUninit::<Connection>::uninit());
    let mut client = std::boxed::Box::new(core::mem::MaybeUninit::<Connection>::uninit());
    let (s, c) = (server.as_mut_ptr(), client.as_mut_ptr());
    assert!(unsafe { uws_conn_init(s, true, 0, 0) && uws_conn_init(c, false, 0, 0) });
    unsafe {
        uws_conn_set_deflate(s, &server_params);
        uws_conn_set_deflate(c, &client_params);
    }
    let mut deflater_mem = block(uws_deflater_size(tx_bits));
    let deflater = deflater_mem.as_mut_ptr() as *mut DeflateState;
    assert!(unsafe { uws_deflater_init(deflater, tx_bits) });
    let mut inflater_mem = block(uws_inflater_size(rx_bits));
    let inflater = inflater_mem.as_mut_ptr() as *mut InflateState;
    assert!(unsafe { uws_inflater_init(inflater, rx_bits) });

    // Server sends two telemetry messages, compressed through a 16-byte buffer.
    let mut wire = Vec::new();
    let messages: Vec<Vec<u8>> = (0..2)
        .map(|i| std::format!("{{\"sensor\":\"t1\",\"seq\":{i},\"values\":[1,2,3,1,2,3,1,2,3]}}").into_bytes())
        .collect();
    for m in &messages {
        let mut at = 0;
        loop {
            let mut out = [0u8; 16];
            let (mut used, mut n) = (0, 0);
            let r = unsafe { uws_deflate(deflater, m[at..].as_ptr(), m.len() - at, out.as_mut_ptr(), out.len(), true, &mut used, &mut n) };
            at += used;
            let done = r == UWS_DEFLATE_DONE;
            let mut header = [0u8; UWS_MAX_HEADER];
            let mut k = [0u8; 4];
            let hn = unsafe { uws_tx_compressed_header(s, true, done, n as u64, core::ptr::null(), header.as_mut_ptr(), k.as_mut_ptr()) };
            assert!(hn > 0);
            wire.extend_from_slice(&header[..hn as usize]);
            wire.extend_from_slice(&out[..n]);
            if done {
                break;
            }
        }
    }
    assert_eq!(wire[0] & 0x70, 0x40, "RSV1 on the first frame");

    // Client receives, inflating 5 bytes at a time into a growing buffer.
    let mut input = &wire[..];
    let mut got = Vec::new();
    let mut message = Vec::new();
    for _ in 0..10_000 {
        if got.len() == messages.len() {
            break;
        }
        let ev = if unsafe { uws_rx_needs_inflate(c) } {
            let mut out = [0u8; 5];
            let mut n = 0;
            let ev = unsafe { uws_rx_inflate(c, inflater, out.as_mut_ptr(), out.len(), &mut n) };
            message.extend_from_slice(&out[..n]);
            ev
        } else {
            let (mut internal, mut buffered) = (core::ptr::null_mut(), core::ptr::null());
            let want = unsafe { uws_rx_want(c, &mut internal, &mut buffered) } as usize;
            assert!(!internal.is_null(), "compressed payload is read into the core");
            let n = want.min(input.len()).min(7);
            unsafe { core::ptr::copy_nonoverlapping(input.as_ptr(), internal, n) };
            input = &input[n..];
            unsafe { uws_rx_filled(c, n) }
        };
        assert!(ev >= 0, "{ev}");
        if ev == UWS_EV_TEXT {
            got.push(core::mem::take(&mut message));
        }
    }
    assert_eq!(got, messages);
}

#[test]
fn calls_refuse_null_and_plain_connections() {
    let mut mem = std::boxed::Box::new(core::mem::MaybeUninit::<Connection>::uninit());
    let c = mem.as_mut_ptr();
    assert!(unsafe { uws_conn_init(c, true, 0, 0) });
    let mut header = [0u8; UWS_MAX_HEADER];
    let mut k = [0u8; 4];
    assert_eq!(unsafe { uws_tx_compressed_header(c, true, true, 1, core::ptr::null(), header.as_mut_ptr(), k.as_mut_ptr()) }, UWS_TX_INVALID);
    assert!(!unsafe { uws_rx_needs_inflate(c) });
    let mut n = 1;
    assert_eq!(unsafe { uws_rx_inflate(c, core::ptr::null_mut(), core::ptr::null_mut(), 0, &mut n) }, UWS_EV_CONTINUE);
    assert_eq!(n, 0);
    assert!(!unsafe { uws_inflater_init(core::ptr::null_mut(), 9) });
    assert_eq!(unsafe { uws_deflate(core::ptr::null_mut(), core::ptr::null(), 0, core::ptr::null_mut(), 0, true, &mut n, &mut n) }, UWS_DEFLATE_ERROR);
    assert_eq!(unsafe { uws_deflate_offer(core::ptr::null(), core::ptr::null_mut(), 0) }, 0);
    let mut p = DeflateParams::default();
    assert_eq!(unsafe { uws_deflate_server_accept(b"x".as_ptr(), 1, &DeflateOptions::DEFAULT, core::ptr::null_mut(), 0, &mut p) }, 0);
    for bits in 8..=15 {
        assert!(uws_inflater_size(bits) >= 512 && uws_deflater_size(bits) > deflate::work_len(bits));
    }
}

/// A build without compression links `uws_client_response`, one with it
/// `uws_client_response_deflate` (given no offer when a script asks for
/// none): both must judge every answer alike.
#[test]
fn the_plain_response_check_agrees_with_the_deflate_one_offering_nothing() {
    let key = b"dGhlIHNhbXBsZSBub25jZQ==";
    let accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    let answers = [
        std::format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{accept}\r\n\r\n"),
        std::format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{accept}\r\nSec-WebSocket-Protocol: chat\r\n\r\n"),
        std::format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"),
        std::format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
        std::format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{accept}\r\nSec-WebSocket-Extensions: , \r\n\r\n"),
        std::format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"),
        std::format!("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
        std::format!("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"),
        std::format!("SSH-2.0-OpenSSH_9.2\r\n\r\n"),
    ];
    let offered = b"chat, superchat";
    let outcome = |ok: bool, r: &uws_handshake| {
        let message = if r.message.is_null() { &[][..] } else { unsafe { core::slice::from_raw_parts(r.message, r.message_len) } };
        (ok, r.status, r.protocol.start, r.protocol.len, message.to_vec())
    };
    let mut accepted = 0;
    for answer in &answers {
        let mut plain = core::mem::MaybeUninit::<uws_handshake>::uninit();
        let ok = unsafe { uws_client_response(answer.as_ptr(), answer.len(), key.as_ptr(), offered.as_ptr(), offered.len(), plain.as_mut_ptr()) };
        let plain = outcome(ok, unsafe { plain.assume_init_ref() });
        let mut deflate = core::mem::MaybeUninit::<uws_handshake>::uninit();
        let mut params = DeflateParams::default();
        let mut agreed = true;
        let ok = unsafe {
            uws_client_response_deflate(answer.as_ptr(), answer.len(), key.as_ptr(), offered.as_ptr(), offered.len(),
                core::ptr::null(), deflate.as_mut_ptr(), &mut params, &mut agreed)
        };
        assert!(!agreed, "{answer:?}");
        assert_eq!(plain, outcome(ok, unsafe { deflate.assume_init_ref() }), "{answer:?}");
        accepted += usize::from(ok);
    }
    assert_eq!(accepted, 3, "the first two answers and the empty extension list");
}
