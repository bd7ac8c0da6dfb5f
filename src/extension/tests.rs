//! Negotiation with the offers real peers send, and RFC 7692's rules.

use super::*;
use proptest::prelude::*;

const DEFAULT: DeflateOptions = DeflateOptions::DEFAULT;
const FULL: DeflateOptions = DeflateOptions {
    server_max_window_bits: 15,
    client_max_window_bits: 15,
    server_no_context_takeover: false,
    client_no_context_takeover: false,
};

fn accept(values: &[&str], opts: &DeflateOptions) -> Option<(DeflateParams, std::string::String)> {
    let agreement = server_accept(values.iter().map(|v| v.as_bytes()), opts)?;
    let mut out = [0u8; MAX_VALUE_LEN];
    let n = agreement.write(&mut out).unwrap();
    Some((agreement.params, std::string::String::from_utf8(out[..n].to_vec()).unwrap()))
}

fn params(server_nct: bool, client_nct: bool, server_bits: u8, client_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: server_nct,
        client_no_context_takeover: client_nct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }
}

#[test]
fn offers_of_real_clients() {
    // Chrome, CPython websockets and Node ws offer this.
    let offer = "permessage-deflate; client_max_window_bits";
    assert_eq!(
        accept(&[offer], &DEFAULT),
        Some((params(false, false, 11, 11), "permessage-deflate; server_max_window_bits=11; client_max_window_bits=11".into()))
    );
    assert_eq!(accept(&[offer], &FULL), Some((params(false, false, 15, 15), "permessage-deflate".into())));
    // Firefox offers the bare name: its window is then 32 KiB, which only
    // a server ready for it accepts.
    assert_eq!(accept(&["permessage-deflate"], &DEFAULT), None);
    assert_eq!(accept(&["permessage-deflate"], &FULL), Some((params(false, false, 15, 15), "permessage-deflate".into())));
    // Autobahn 13.x: a preference list, the first acceptable one wins.
    let autobahn = "permessage-deflate; client_no_context_takeover; client_max_window_bits=9, permessage-deflate; client_max_window_bits";
    assert_eq!(
        accept(&[autobahn], &DEFAULT),
        Some((
            params(false, true, 11, 9),
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=9".into()
        ))
    );
    // A client limiting the server's window.
    assert_eq!(
        accept(&["permessage-deflate; server_max_window_bits=8; server_no_context_takeover"], &FULL),
        Some((params(true, false, 8, 15), "permessage-deflate; server_no_context_takeover; server_max_window_bits=8".into()))
    );
    // x-webkit-deflate-frame and other extensions are skipped.
    assert_eq!(
        accept(&["x-webkit-deflate-frame", "foo; bar=1, permessage-deflate; client_max_window_bits=\"10\""], &DEFAULT).unwrap().0,
        params(false, false, 11, 10)
    );
}

#[test]
fn bad_offers_are_declined_and_the_next_tried() {
    for bad in [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; client_max_window_bits=0x9",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
        "permessage-deflate; mystery",
    ] {
        assert_eq!(accept(&[bad], &FULL), None, "{bad}");
        let both = std::format!("{bad}, permessage-deflate");
        assert_eq!(accept(&[&both], &FULL).map(|a| a.0), Some(params(false, false, 15, 15)), "{bad}");
    }
    // A field that does not parse is skipped whole; the next field counts.
    assert_eq!(accept(&["permessage-deflate; a=\"open", "permessage-deflate"], &FULL).map(|a| a.0), Some(params(false, false, 15, 15)));
    assert_eq!(accept(&["permessage-deflate; a=\"1\"2"], &FULL), None);
    assert_eq!(accept(&[""], &FULL), None);
    assert_eq!(accept(&[" , ,"], &FULL), None);
}

#[test]
fn quoted_values_and_case() {
    let e: std::vec::Vec<_> = elements(b"Permessage-Deflate ; Server_Max_Window_Bits = \"1\\2\" ;client_max_window_bits").collect();
    assert_eq!(
        e,
        [Ok(Element {
            name: b"Permessage-Deflate",
            params: Ok(Offer { server_max_window_bits: Some(12), client_max_window_bits: Some(None), ..Offer::default() })
        })]
    );
}

#[test]
fn client_offer_and_response() {
    let mut out = [0u8; MAX_VALUE_LEN];
    let n = write_offer(&DEFAULT, &mut out).unwrap();
    assert_eq!(&out[..n], b"permessage-deflate; server_max_window_bits=11; client_max_window_bits=11");
    let n = write_offer(&FULL, &mut out).unwrap();
    assert_eq!(&out[..n], b"permessage-deflate; client_max_window_bits");
    let all = DeflateOptions { server_no_context_takeover: true, client_no_context_takeover: true, ..DEFAULT };
    let n = write_offer(&all, &mut out).unwrap();
    assert!(n <= MAX_VALUE_LEN);

    let check = |values: &[&str], opts: &DeflateOptions| client_accept(values.iter().map(|v| v.as_bytes()), opts);
    assert_eq!(check(&[], &DEFAULT), Ok(None));
    // What CPython websockets answers to our default offer.
    assert_eq!(
        check(&["permessage-deflate; server_max_window_bits=11; client_max_window_bits=11"], &DEFAULT),
        Ok(Some(params(false, false, 11, 11)))
    );
    assert_eq!(check(&["permessage-deflate; server_max_window_bits=9"], &DEFAULT), Ok(Some(params(false, false, 9, 11))));
    assert_eq!(check(&["permessage-deflate"], &FULL), Ok(Some(params(false, false, 15, 15))));
    assert_eq!(
        check(&["permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=8"], &FULL),
        Ok(Some(params(true, true, 15, 8)))
    );
    for bad in [
        // We asked for a window of 2^11; the server did not agree.
        "permessage-deflate",
        "permessage-deflate; server_max_window_bits=12",
        "permessage-deflate; server_max_window_bits=11; client_max_window_bits=12",
        "permessage-deflate; server_max_window_bits=11; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=11, permessage-deflate; server_max_window_bits=11",
        "x-webkit-deflate-frame",
        "permessage-deflate; server_max_window_bits=11; foo",
        "permessage-deflate; server_max_window_bits=11; server_max_window_bits=11",
        "permessage-deflate; server_max_window_bits=\"11",
    ] {
        assert!(check(&[bad], &DEFAULT).is_err(), "{bad}");
    }
    // Two fields that together name it twice.
    assert!(check(&["permessage-deflate; server_max_window_bits=11", "permessage-deflate; server_max_window_bits=11"], &DEFAULT).is_err());
}

#[test]
fn roles_pick_their_side() {
    let p = params(true, false, 9, 12);
    assert_eq!(p.deflate_bits(true), (9, false));
    assert_eq!(p.inflate_bits(true), (12, true));
    assert_eq!(p.deflate_bits(false), (12, true));
    assert_eq!(p.inflate_bits(false), (9, false));
}

proptest! {
    #[test]
    fn any_header_is_safe_and_answers_within_the_offer(value in "[ a-z_=;,\"0-9\\\\-]{0,80}", sb in 8u8..=15, cb in 8u8..=15) {
        let opts = DeflateOptions { server_max_window_bits: sb, client_max_window_bits: cb, ..DEFAULT };
        if let Some(agreement) = server_accept(core::iter::once(value.as_bytes()), &opts) {
            prop_assert!(agreement.params.server_max_window_bits <= sb);
            prop_assert!(agreement.params.client_max_window_bits <= cb);
            // The answer is one the offering client accepts... when the
            // offer is ours.
            let mut out = [0u8; MAX_VALUE_LEN];
            let n = agreement.write(&mut out).unwrap();
            prop_assert!(elements(&out[..n]).all(|e| e.is_ok()));
        }
        let _ = client_accept(core::iter::once(value.as_bytes()), &opts);
    }

    #[test]
    fn our_offer_and_our_answer_agree(sb in 8u8..=15, cb in 8u8..=15, snct: bool, cnct: bool, sb2 in 8u8..=15, cb2 in 8u8..=15) {
        let client = DeflateOptions { server_max_window_bits: sb, client_max_window_bits: cb, server_no_context_takeover: snct, client_no_context_takeover: cnct };
        let server = DeflateOptions { server_max_window_bits: sb2, client_max_window_bits: cb2, ..DEFAULT };
        let mut offer = [0u8; MAX_VALUE_LEN];
        let n = write_offer(&client, &mut offer).unwrap();
        let agreement = server_accept(core::iter::once(&offer[..n]), &server).unwrap();
        let mut answer = [0u8; MAX_VALUE_LEN];
        let m = agreement.write(&mut answer).unwrap();
        let got = client_accept(core::iter::once(&answer[..m]), &client).unwrap().unwrap();
        prop_assert_eq!(got, agreement.params);
        prop_assert_eq!(got.server_max_window_bits, sb.min(sb2));
        prop_assert_eq!(got.client_max_window_bits, cb.min(cb2));
    }
}

#[test]
fn description_names_every_parameter() {
    let mut out = [0u8; MAX_VALUE_LEN];
    let params = DeflateParams { server_max_window_bits: 15, client_max_window_bits: 11, ..DeflateParams::default() };
    let n = describe(params, &mut out).unwrap();
    assert_eq!(&out[..n], b"permessage-deflate; server_max_window_bits=15; client_max_window_bits=11");
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 8,
        client_max_window_bits: 9,
    };
    let n = describe(params, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        &b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
           server_max_window_bits=8; client_max_window_bits=9"[..]
    );
    assert_eq!(describe(params, &mut out[..20]), Err(()));
}
