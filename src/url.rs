//! `ws://` and `wss://` URLs (RFC 6455 §3, RFC 3986), sans-IO.
//!
//! `ws[s]://[user[:password]@]host[:port][/path][?query][#fragment]`: the
//! scheme is case-insensitive (RFC 3986 §3.1), a host may be an IPv6
//! literal in brackets (§3.2.2, kept with its brackets, as the Host header
//! wants it), the port defaults to 80 or 443 (RFC 6455 §3), the path and
//! query default to "/" and the fragment is dropped (§3: fragments are not
//! used in WebSocket URIs). Userinfo is kept percent-encoded; [`basic_auth`]
//! decodes it into an `Authorization: Basic` field (RFC 7617).
//!
//! Nothing here allocates or can panic.

use crate::base64;

/// A parsed URL; every part borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    /// `wss://`: the connection runs over TLS.
    pub tls: bool,
    /// The host as written: a name, an IPv4 address, or `[IPv6]`.
    pub host: &'a [u8],
    /// The port given, or the scheme's default.
    pub port: u16,
    /// Path and query (the resource name of RFC 6455 §3), "/" when empty.
    pub path: &'a [u8],
    /// The userinfo before `@`, percent-encoded: user and password.
    pub userinfo: Option<(&'a [u8], &'a [u8])>,
}

impl Url<'_> {
    /// 443 for `wss://`, 80 for `ws://`.
    pub const fn default_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            80
        }
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    Scheme,
    Host,
    Ipv6,
    Port,
    Userinfo,
    Character,
}

impl UrlError {
    /// The message a script sees (a ValueError's).
    pub const fn message(self) -> &'static str {
        match self {
            UrlError::Scheme => "URL must start with ws:// or wss://",
            UrlError::Host => "invalid host in URL",
            UrlError::Ipv6 => "invalid IPv6 address in URL",
            UrlError::Port => "invalid port in URL",
            UrlError::Userinfo => "invalid user or password in URL",
            UrlError::Character => "URL holds a space or control character",
        }
    }
}

fn strip_scheme(url: &[u8]) -> Option<(bool, &[u8])> {
    let (tls, n) = match url {
        [w, s, b':', b'/', b'/', ..] if w.eq_ignore_ascii_case(&b'w') && s.eq_ignore_ascii_case(&b's') => (false, 5),
        [w, s, s2, b':', b'/', b'/', ..]
            if w.eq_ignore_ascii_case(&b'w') && s.eq_ignore_ascii_case(&b's') && s2.eq_ignore_ascii_case(&b's') =>
        {
            (true, 6)
        }
        _ => return None,
    };
    Some((tls, url.get(n..)?))
}

/// Whether `bytes` is percent-encoding done right (every `%` followed by
/// two hex digits).
fn well_encoded(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == b'%') {
        match rest.get(i + 1..i + 3) {
            Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {}
            _ => return false,
        }
        rest = rest.get(i + 3..).unwrap_or(&[]);
    }
    true
}

/// Parse a `ws://` or `wss://` URL.
pub fn parse(url: &[u8]) -> Result<Url<'_>, UrlError> {
    let (tls, rest) = strip_scheme(url).ok_or(UrlError::Scheme)?;
    // A space or control byte can only be a mistake (or an attempt to
    // break the request line, RFC 9112 §3).
    if url.iter().any(|&b| b <= b' ' || b == 0x7F) {
        return Err(UrlError::Character);
    }
    // The authority ends at the first "/", "?" or "#" (RFC 3986 §3.2).
    let end = rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(end).ok_or(UrlError::Host)?;
    // The path ends at the fragment.
    let path = tail.split(|&b| b == b'#').next().unwrap_or(&[]);
    let path: &[u8] = if path.is_empty() { b"/" } else { path };
    // Userinfo: up to the last "@" (a password may hold an encoded one).
    let (userinfo, hostport) = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => {
            let (info, hostport) = authority.split_at_checked(at).ok_or(UrlError::Userinfo)?;
            let (user, password) = match info.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let (user, password) = info.split_at_checked(colon).ok_or(UrlError::Userinfo)?;
                    (user, password.get(1..).unwrap_or(&[]))
                }
                None => (info, &[][..]),
            };
            if !well_encoded(user) || !well_encoded(password) || user.contains(&b'@') || password.contains(&b'@') {
                return Err(UrlError::Userinfo);
            }
            (Some((user, password)), hostport.get(1..).unwrap_or(&[]))
        }
        None => (None, authority),
    };
    let (host, port) = if let [b'[', inner @ ..] = hostport {
        let close = inner.iter().position(|&b| b == b']').ok_or(UrlError::Ipv6)?;
        let (address, after) = inner.split_at_checked(close).ok_or(UrlError::Ipv6)?;
        // RFC 3986 §3.2.2: hex digits, colons, an embedded IPv4's dots
        // (no zone identifiers, no IPvFuture).
        if address.is_empty() || !address.iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err(UrlError::Ipv6);
        }
        let host = hostport.get(..close + 2).ok_or(UrlError::Ipv6)?;
        match after.get(1..).unwrap_or(&[]) {
            [] => (host, None),
            [b':', port @ ..] => (host, Some(port)),
            _ => return Err(UrlError::Port),
        }
    } else {
        match hostport.iter().position(|&b| b == b':') {
            Some(colon) => {
                let (host, port) = hostport.split_at_checked(colon).ok_or(UrlError::Host)?;
                (host, Some(port.get(1..).unwrap_or(&[])))
            }
            None => (hostport, None),
        }
    };
    // reg-name characters (RFC 3986 §3.2.2): unreserved, sub-delims, pct.
    let host_byte = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b);
    if host.is_empty() || !(host.starts_with(b"[") || host.iter().all(|&b| host_byte(b))) {
        return Err(UrlError::Host);
    }
    let default = if tls { 443 } else { 80 };
    let port = match port {
        None => default,
        Some(digits) => parse_port(digits).ok_or(UrlError::Port)?,
    };
    Ok(Url { tls, host, port, path, userinfo })
}

/// 1 to 65535 in decimal; an empty port is refused (RFC 3986 allows it,
/// but it is surely a mistake in a script).
fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    let mut port: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        port = port * 10 + u32::from(d - b'0');
    }
    u16::try_from(port).ok().filter(|&p| p != 0)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode percent-encoding (RFC 3986 §2.1) into the start of `out`: the
/// length written, or `None` for a bad escape or too small an `out`.
pub fn percent_decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut written = 0;
    let mut rest = input;
    while let [b, tail @ ..] = rest {
        let (byte, tail) = match (b, tail) {
            (b'%', [h, l, tail @ ..]) => (hex(*h)? << 4 | hex(*l)?, tail),
            (b'%', _) => return None,
            (b, tail) => (*b, tail),
        };
        *out.get_mut(written)? = byte;
        written += 1;
        rest = tail;
    }
    Some(written)
}

/// The longest decoded `user:password` [`basic_auth`] encodes.
pub const MAX_CREDENTIALS: usize = 255;

/// Write the header line `Authorization: Basic <base64(user:password)>\r\n`
/// (RFC 7617 §2) for percent-encoded userinfo into `out`: its length, or
/// `None` when the userinfo does not decode, holds a control character
/// (it would break the head), is over [`MAX_CREDENTIALS`], or `out` is too
/// small.
pub fn basic_auth(user: &[u8], password: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut plain = [0u8; MAX_CREDENTIALS];
    let n = percent_decode(user, &mut plain)?;
    *plain.get_mut(n)? = b':';
    let m = percent_decode(password, plain.get_mut(n + 1..)?)?;
    let credentials = plain.get(..n + 1 + m)?;
    // RFC 7617 §2: the user-id holds no colon; no CTL in either.
    if plain.get(..n)?.contains(&b':') || credentials.iter().any(|&b| b < b' ' || b == 0x7F) {
        return None;
    }
    const PREFIX: &[u8] = b"Authorization: Basic ";
    let encoded = base64::encoded_len(credentials.len())?;
    let total = PREFIX.len() + encoded + 2;
    let out = out.get_mut(..total)?;
    let (prefix, rest) = out.split_at_mut_checked(PREFIX.len())?;
    prefix.copy_from_slice(PREFIX);
    let written = base64::encode(credentials, rest)?;
    rest.get_mut(written..written + 2)?.copy_from_slice(b"\r\n");
    Some(total)
}

/// How a `wss://` connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// With the TLS context the caller made, as it is.
    Given,
    /// Verifying the server's certificate against the CA the caller gave.
    Verify,
    /// Without verifying the server: the caller asked for it explicitly.
    Unverified,
    /// Not at all: nothing to verify the server with, and no consent to
    /// go unverified (a connection that only looks secure is worse than
    /// none, RFC 6455 §10.6).
    Refused,
}

/// The [`TlsPolicy`] for a `wss://` connection: `context` the caller gave a
/// TLS context, `ca` CA certificates, `insecure` consent to skip
/// verification (which then wins over `ca`).
pub fn tls_policy(context: bool, ca: bool, insecure: bool) -> TlsPolicy {
    match (context, insecure, ca) {
        (true, _, _) => TlsPolicy::Given,
        (false, true, _) => TlsPolicy::Unverified,
        (false, false, true) => TlsPolicy::Verify,
        (false, false, false) => TlsPolicy::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::{format, string::String, vec};

    fn url(s: &str) -> Result<Url<'_>, UrlError> {
        parse(s.as_bytes())
    }

    #[test]
    fn rfc_6455_section_3_forms() {
        let u = url("ws://example.com/chat?x=1#frag").unwrap();
        assert_eq!((u.tls, u.host, u.port, u.path), (false, &b"example.com"[..], 80, &b"/chat?x=1"[..]));
        let u = url("WSS://Example.COM").unwrap();
        assert_eq!((u.tls, u.host, u.port, u.path), (true, &b"Example.COM"[..], 443, &b"/"[..]));
        let u = url("ws://h:8080?q").unwrap();
        assert_eq!((u.port, u.path), (8080, &b"?q"[..]));
        let u = url("wss://h#only-fragment").unwrap();
        assert_eq!(u.path, b"/");
        assert_eq!(u.userinfo, None);
    }

    #[test]
    fn ipv6_literals_keep_their_brackets() {
        let u = url("ws://[::1]:9000/x").unwrap();
        assert_eq!((u.host, u.port, u.path), (&b"[::1]"[..], 9000, &b"/x"[..]));
        let u = url("wss://[2001:db8::7]").unwrap();
        assert_eq!((u.host, u.port), (&b"[2001:db8::7]"[..], 443));
        let u = url("ws://[::ffff:192.0.2.1]/").unwrap();
        assert_eq!(u.host, b"[::ffff:192.0.2.1]");
        for bad in ["ws://[::1", "ws://[]/", "ws://[::1]x/", "ws://[fe80::1%25eth0]/", "ws://[g::1]/"] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_are_checked() {
        assert_eq!(url("ws://h:65535").unwrap().port, 65535);
        assert_eq!(url("ws://h:00080").unwrap().port, 80);
        for bad in ["ws://h:", "ws://h:0", "ws://h:65536", "ws://h:123456", "ws://h:8a", "ws://h:-1", "ws://h:1:2"] {
            assert_eq!(url(bad), Err(UrlError::Port), "{bad}");
        }
    }

    #[test]
    fn userinfo_and_basic_auth() {
        let u = url("wss://al%40ice:p%3Ass@host:1/").unwrap();
        assert_eq!(u.userinfo, Some((&b"al%40ice"[..], &b"p%3Ass"[..])));
        assert_eq!(u.host, b"host");
        let mut out = [0u8; 128];
        // RFC 7617 §2's example: Aladdin / open sesame.
        let u = url("ws://Aladdin:open%20sesame@h/").unwrap();
        let (user, password) = u.userinfo.unwrap();
        let n = basic_auth(user, password, &mut out).unwrap();
        assert_eq!(&out[..n], b"Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n");
        assert_eq!(basic_auth(user, password, &mut out[..n - 1]), None);
        let n = basic_auth(b"x", b"", &mut out).unwrap();
        assert_eq!(&out[..n], b"Authorization: Basic eDo=\r\n");
        // Decoded control characters and colons in the user are refused.
        assert_eq!(basic_auth(b"a%0D%0Ab", b"", &mut out), None);
        assert_eq!(basic_auth(b"a%3Ab", b"", &mut out), None);
        assert_eq!(basic_auth(&[b'a'; 300], b"", &mut out), None);
        for bad in ["ws://a%zz@h/", "ws://a%4@h/", "ws://@/"] {
            assert!(url(bad).is_err(), "{bad}");
        }
        assert_eq!(url("ws://@h/").unwrap().userinfo, Some((&b""[..], &b""[..])));
    }

    #[test]
    fn refusals() {
        for (bad, err) in [
            ("http://h/", UrlError::Scheme),
            ("ws:/h", UrlError::Scheme),
            ("", UrlError::Scheme),
            ("ws://", UrlError::Host),
            ("ws:///path", UrlError::Host),
            ("ws://h/a b", UrlError::Character),
            ("ws://h/\r\nX: y", UrlError::Character),
            ("ws://h\"/", UrlError::Host),
            ("ws://h]/", UrlError::Host),
        ] {
            assert_eq!(url(bad), Err(err), "{bad:?}");
            assert!(!err.message().is_empty());
        }
    }

    proptest! {
        #[test]
        fn built_urls_parse_back(tls: bool, host in "[a-z0-9.-]{1,20}|\\[[0-9a-f:]{2,20}\\]", port in proptest::option::of(1u16..),
                                 path in "(/[a-zA-Z0-9%._~-]{0,10}){0,3}(\\?[a-z=&]{0,10})?", user in proptest::option::of("[a-z%0-9]{0,6}")) {
            prop_assume!(!(host.starts_with('[') && host == "[]"));
            let mut s = String::from(if tls { "wss://" } else { "ws://" });
            if let Some(u) = &user { s.push_str(u); s.push_str(":pw@"); }
            s.push_str(&host);
            if let Some(p) = port { s.push_str(&format!(":{p}")); }
            s.push_str(&path);
            s.push_str("#frag");
            let good_user = user.as_deref().map_or(true, |u| well_encoded(u.as_bytes()));
            match parse(s.as_bytes()) {
                Ok(u) => {
                    prop_assert!(good_user);
                    prop_assert_eq!(u.tls, tls);
                    prop_assert_eq!(u.host, host.as_bytes());
                    prop_assert_eq!(u.port, port.unwrap_or(if tls { 443 } else { 80 }));
                    prop_assert_eq!(u.path, if path.is_empty() { &b"/"[..] } else { path.as_bytes() });
                }
                Err(e) => prop_assert!(!good_user && e == UrlError::Userinfo, "{:?} {:?}", s, e),
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut with_scheme = b"ws://".to_vec();
            with_scheme.extend_from_slice(&bytes);
            if let Ok(u) = parse(&with_scheme) {
                let mut out = vec![0u8; 512];
                if let Some((user, password)) = u.userinfo {
                    let _ = basic_auth(user, password, &mut out);
                }
                prop_assert!(!u.host.is_empty() && u.port != 0 && !u.path.is_empty());
            }
        }

        #[test]
        fn percent_decoding_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let encoded: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
            let mut out = vec![0u8; 64];
            let n = percent_decode(encoded.as_bytes(), &mut out).unwrap();
            prop_assert_eq!(&out[..n], &bytes[..]);
        }
    }

    #[test]
    fn wss_is_verified_unless_the_caller_says_otherwise() {
        use TlsPolicy::*;
        // (context, ca, insecure) -> policy
        let table = [
            ((true, true, true), Given),
            ((true, false, false), Given),
            ((false, true, false), Verify),
            ((false, true, true), Unverified),
            ((false, false, true), Unverified),
            ((false, false, false), Refused),
        ];
        for ((context, ca, insecure), policy) in table {
            assert_eq!(tls_policy(context, ca, insecure), policy, "{context} {ca} {insecure}");
        }
    }
}
