//! permessage-deflate negotiation (RFC 7692 §5–§7), as pure functions.
//!
//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) is a comma-separated list of
//! extensions, each a token with `;`-separated parameters, each a token with
//! an optional value (a token or a quoted string that unquotes to a token).
//! Several header fields form one list. A client may offer
//! permessage-deflate several times with different parameters, in order of
//! preference (RFC 7692 §5.1); the server accepts at most one.
//!
//! Server: [`server_accept`] picks the first offer it can honour under its
//! [`DeflateOptions`] and returns what was agreed and the response value to
//! write. Client: [`write_offer`] writes the offer its options call for and
//! [`client_accept`] checks the server's answer.

use crate::http::is_tchar;

/// The extension's name (RFC 7692 §7).
pub const NAME: &[u8] = b"permessage-deflate";

/// The longest header value [`Agreement::write`] or [`write_offer`] writes.
pub const MAX_VALUE_LEN: usize = 128;

/// What one side wants from compression.
///
/// In the server role: `server_max_window_bits` is the window we compress
/// with at most; `client_max_window_bits` the largest window we are ready
/// to decompress with (RFC 7692 §7.1.2.2: we can ask for a smaller one only
/// when the client offers the parameter, so an offer without it is declined
/// unless this is 15); the no-context-takeover flags are sent as our
/// answer (ours: we will not keep context; the client's: we ask the client
/// not to, which lets us drop the decompression window between messages).
///
/// In the client role: the same fields as the offer's parameters (a
/// `server_max_window_bits` below 15 asks the server for a smaller window;
/// `client_max_window_bits` is offered always, with our value when below 15,
/// so that a server may ask us for less).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct DeflateOptions {
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
}

impl DeflateOptions {
    /// What a device wants by default: full windows are allowed but the
    /// server asks the client for a 2^11 window when the client lets it
    /// (browsers, CPython `websockets` and Node `ws` all do), which keeps
    /// a connection's decompression memory near 4 KB.
    pub const DEFAULT: DeflateOptions = DeflateOptions {
        server_max_window_bits: 11,
        client_max_window_bits: 11,
        server_no_context_takeover: false,
        client_no_context_takeover: false,
    };
}

/// What both sides agreed on (RFC 7692 §7.1): the window each side
/// compresses with at most, and whether each keeps its context between
/// messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    /// Window bits and context takeover of what `server` (true: the server
    /// role) sends, i.e. its compressor.
    pub const fn deflate_bits(&self, server: bool) -> (u8, bool) {
        if server {
            (self.server_max_window_bits, !self.server_no_context_takeover)
        } else {
            (self.client_max_window_bits, !self.client_no_context_takeover)
        }
    }

    /// Window bits and context takeover of what it receives (its
    /// decompressor): the peer's.
    pub const fn inflate_bits(&self, server: bool) -> (u8, bool) {
        self.deflate_bits(!server)
    }
}

/// Why an offer or a response is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionError {
    /// Not the RFC 6455 §9.1 grammar (a bad token, an unterminated quote).
    Syntax,
    /// An unknown parameter, a parameter given twice, or a value where none
    /// belongs or a bad one (RFC 7692 §7: decline the offer / fail).
    Parameter,
    /// Client side: the server answered with something not offered: another
    /// extension, permessage-deflate twice, a window beyond the offer, a
    /// client_max_window_bits we did not offer, or no server_max_window_bits
    /// although we asked for a smaller window (§7.1.2).
    Unacceptable,
}

/// One permessage-deflate element's parameters (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offer {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// The value, or None when absent.
    pub server_max_window_bits: Option<u8>,
    /// Absent: None; present without a value: Some(None).
    pub client_max_window_bits: Option<Option<u8>>,
}


fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A cursor over a header value.
struct Lexer<'a> {
    text: &'a [u8],
    at: usize,
}

// The lexer's steps and `Offer::set` stay out of line (#[inline(never)]):
// the element parser calls each several times, and inlined every call would
// be a copy in flash; headers are parsed once per connection.
impl<'a> Lexer<'a> {
    #[inline(never)]
    fn skip_ows(&mut self) {
        while self.text.get(self.at).is_some_and(|&b| is_ows(b)) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    #[inline(never)]
    fn token(&mut self) -> Result<&'a [u8], ExtensionError> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        match self.text.get(start..self.at) {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(ExtensionError::Syntax),
        }
    }

    /// A parameter value: a token, or a quoted string (RFC 7230 §3.2.6)
    /// whose unescaped text is a token (RFC 6455 §9.1). Only values of up
    /// to two characters matter here (window bits), so the unescaped text
    /// goes into a small buffer; a longer one is reported as such.
    #[inline(never)]
    fn value(&mut self) -> Result<Value, ExtensionError> {
        if self.peek() != Some(b'"') {
            return Ok(Value::of(self.token()?));
        }
        self.at += 1;
        let mut v = Value::default();
        loop {
            let Some(b) = self.peek() else {
                return Err(ExtensionError::Syntax);
            };
            self.at += 1;
            let c = match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(ExtensionError::Syntax);
                    };
                    self.at += 1;
                    e
                }
                _ => b,
            };
            if !is_tchar(c) {
                return Err(ExtensionError::Syntax);
            }
            v.push(c);
        }
        if v.len == 0 {
            return Err(ExtensionError::Syntax);
        }
        Ok(v)
    }
}

/// A parameter's value, unquoted: its first bytes and its length.
#[derive(Default, Clone, Copy)]
struct Value {
    bytes: [u8; 2],
    len: usize,
}

impl Value {
    fn of(token: &[u8]) -> Value {
        let mut v = Value::default();
        for &b in token {
            v.push(b);
        }
        v
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
        }
        self.len += 1;
    }

    /// RFC 7692 §7.1.2.1: a decimal integer 8–15 without leading zeros.
    fn window_bits(&self) -> Option<u8> {
        let bits = match (self.len, self.bytes) {
            (1, [d, _]) if d.is_ascii_digit() => d - b'0',
            (2, [b'1', d]) if d.is_ascii_digit() => 10 + d - b'0',
            _ => return None,
        };
        (8..=15).contains(&bits).then_some(bits)
    }
}

/// One element of the list: its name and its parameters parsed as
/// permessage-deflate's (only when the name is permessage-deflate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    pub name: &'a [u8],
    /// For permessage-deflate: the parameters, or why they are unusable.
    /// For other extensions: `Ok(Offer::default())` (not looked at).
    pub params: Result<Offer, ExtensionError>,
}

/// The elements of one header value, in order. A syntax error ends the
/// list with one `Err`.
pub fn elements(value: &[u8]) -> Elements<'_> {
    Elements { lexer: Lexer { text: value, at: 0 }, failed: false }
}

pub struct Elements<'a> {
    lexer: Lexer<'a>,
    failed: bool,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Element<'a>, ExtensionError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = self.element();
        match result {
            Ok(None) => None,
            Ok(Some(e)) => Some(Ok(e)),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl<'a> Elements<'a> {
    fn element(&mut self) -> Result<Option<Element<'a>>, ExtensionError> {
        let lx = &mut self.lexer;
        // Empty list elements are allowed and skipped (RFC 7230 §7).
        loop {
            lx.skip_ows();
            match lx.peek() {
                None => return Ok(None),
                Some(b',') => lx.at += 1,
                Some(_) => break,
            }
        }
        let name = lx.token()?;
        let ours = name.eq_ignore_ascii_case(NAME);
        let mut offer = Offer::default();
        let mut bad = false;
        loop {
            lx.skip_ows();
            match lx.peek() {
                None => break,
                Some(b',') => {
                    lx.at += 1;
                    break;
                }
                Some(b';') => lx.at += 1,
                Some(_) => return Err(ExtensionError::Syntax),
            }
            lx.skip_ows();
            let param = lx.token()?;
            lx.skip_ows();
            let value = if lx.peek() == Some(b'=') {
                lx.at += 1;
                lx.skip_ows();
                Some(lx.value()?)
            } else {
                None
            };
            if ours && !bad {
                bad = offer.set(param, value).is_err();
            }
        }
        let params = if bad { Err(ExtensionError::Parameter) } else { Ok(offer) };
        Ok(Some(Element { name, params }))
    }
}

impl Offer {
    /// Take one parameter (RFC 7692 §7.1): each at most once, flags without
    /// a value, window bits 8–15.
    #[inline(never)]
    fn set(&mut self, name: &[u8], value: Option<Value>) -> Result<(), ExtensionError> {
        let bits = |v: Option<Value>| v.and_then(|v| v.window_bits()).ok_or(ExtensionError::Parameter);
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        if is(b"server_no_context_takeover") && !self.server_no_context_takeover && value.is_none() {
            self.server_no_context_takeover = true;
        } else if is(b"client_no_context_takeover") && !self.client_no_context_takeover && value.is_none() {
            self.client_no_context_takeover = true;
        } else if is(b"server_max_window_bits") && self.server_max_window_bits.is_none() {
            self.server_max_window_bits = Some(bits(value)?);
        } else if is(b"client_max_window_bits") && self.client_max_window_bits.is_none() {
            self.client_max_window_bits = Some(match value {
                None => None,
                v => Some(bits(v)?),
            });
        } else {
            return Err(ExtensionError::Parameter);
        }
        Ok(())
    }
}

/// What the server agreed to, and how to say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreement {
    pub params: DeflateParams,
    /// Whether the response names each window size (§7.1.2.1: it must
    /// when the offer did, and may to state a smaller one).
    send_server_bits: bool,
    send_client_bits: bool,
}

fn clamp_bits(bits: u8) -> u8 {
    bits.clamp(8, 15)
}

/// Server side: the first permessage-deflate offer in `values` (every
/// `Sec-WebSocket-Extensions` field of the request, in order) that can be
/// honoured under `opts`. Offers with bad parameters are declined and the
/// next one tried (RFC 7692 §5.1); a field that does not parse is
/// skipped whole. `None`: no compression (the response names no extension).
pub fn server_accept<'a>(values: impl Iterator<Item = &'a [u8]>, opts: &DeflateOptions) -> Option<Agreement> {
    let ours_server = clamp_bits(opts.server_max_window_bits);
    let ours_client = clamp_bits(opts.client_max_window_bits);
    for value in values {
        for element in elements(value) {
            let Ok(element) = element else { break };
            if !element.name.eq_ignore_ascii_case(NAME) {
                continue;
            }
            let Ok(offer) = element.params else { continue };
            // §7.1.2.2: without the parameter the client may use a full
            // window; a server that cannot take one declines.
            let client_bits = match offer.client_max_window_bits {
                None if ours_client < 15 => continue,
                None => 15,
                Some(limit) => ours_client.min(limit.unwrap_or(15)),
            };
            let server_bits = ours_server.min(offer.server_max_window_bits.unwrap_or(15));
            let params = DeflateParams {
                server_no_context_takeover: offer.server_no_context_takeover || opts.server_no_context_takeover,
                client_no_context_takeover: offer.client_no_context_takeover || opts.client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
            };
            return Some(Agreement {
                params,
                send_server_bits: offer.server_max_window_bits.is_some() || server_bits < 15,
                send_client_bits: client_bits < 15 || matches!(offer.client_max_window_bits, Some(Some(_))),
            });
        }
    }
    None
}

/// A small writer over a caller's buffer.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    // Out of line, as the head writers' `put`: called many times per value.
    #[inline(never)]
    fn put(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let end = self.len.checked_add(bytes.len()).ok_or(())?;
        self.buf.get_mut(self.len..end).ok_or(())?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn bits(&mut self, name: &[u8], bits: u8) -> Result<(), ()> {
        self.put(b"; ")?;
        self.put(name)?;
        self.put(b"=")?;
        if bits >= 10 {
            self.put(&[b'1', b'0' + bits - 10])
        } else {
            self.put(&[b'0' + bits])
        }
    }
}

impl Agreement {
    /// Write the response's `Sec-WebSocket-Extensions` value into `out`
    /// (MAX_VALUE_LEN bytes suffice). Returns its length.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, ()> {
        let mut w = Out { buf: out, len: 0 };
        w.put(NAME)?;
        if self.params.server_no_context_takeover {
            w.put(b"; server_no_context_takeover")?;
        }
        if self.params.client_no_context_takeover {
            w.put(b"; client_no_context_takeover")?;
        }
        if self.send_server_bits {
            w.bits(b"server_max_window_bits", self.params.server_max_window_bits)?;
        }
        if self.send_client_bits {
            w.bits(b"client_max_window_bits", self.params.client_max_window_bits)?;
        }
        Ok(w.len)
    }
}

/// What was agreed, every parameter named (both window sizes): how a
/// WebSocket tells a script its compression (`ws.compression`). Returns
/// its length (MAX_VALUE_LEN bytes suffice).
pub fn describe(params: DeflateParams, out: &mut [u8]) -> Result<usize, ()> {
    Agreement { params, send_server_bits: true, send_client_bits: true }.write(out)
}

/// Client side: write the offer `opts` call for (one permessage-deflate
/// element) into `out`. Returns its length.
pub fn write_offer(opts: &DeflateOptions, out: &mut [u8]) -> Result<usize, ()> {
    let mut w = Out { buf: out, len: 0 };
    w.put(NAME)?;
    if opts.server_no_context_takeover {
        w.put(b"; server_no_context_takeover")?;
    }
    if opts.client_no_context_takeover {
        w.put(b"; client_no_context_takeover")?;
    }
    let server = clamp_bits(opts.server_max_window_bits);
    if server < 15 {
        w.bits(b"server_max_window_bits", server)?;
    }
    // Always offered: a server may then ask for a smaller window (§7.1.2.2).
    let client = clamp_bits(opts.client_max_window_bits);
    if client < 15 {
        w.bits(b"client_max_window_bits", client)?;
    } else {
        w.put(b"; client_max_window_bits")?;
    }
    Ok(w.len)
}

/// Client side: check the server's `Sec-WebSocket-Extensions` fields
/// (`values`, every field in order) against the offer [`write_offer`] made
/// from `opts`. `Ok(None)`: the server declined compression. A response
/// that is not acceptable fails the handshake (RFC 7692 §5.1, RFC 6455
/// §4.1 item 5).
pub fn client_accept<'a>(
    values: impl Iterator<Item = &'a [u8]>,
    opts: &DeflateOptions,
) -> Result<Option<DeflateParams>, ExtensionError> {
    let offered_server = clamp_bits(opts.server_max_window_bits);
    let offered_client = clamp_bits(opts.client_max_window_bits);
    let mut agreed = None;
    for value in values {
        for element in elements(value) {
            let element = element?;
            if !element.name.eq_ignore_ascii_case(NAME) || agreed.is_some() {
                return Err(ExtensionError::Unacceptable);
            }
            let answer = element.params?;
            let server_bits = match answer.server_max_window_bits {
                Some(bits) if bits <= offered_server => bits,
                None if offered_server == 15 => 15,
                _ => return Err(ExtensionError::Unacceptable),
            };
            let client_bits = match answer.client_max_window_bits {
                None => offered_client,
                Some(Some(bits)) if bits <= offered_client => bits,
                // §7.1.2.2: a response value is required and within the offer.
                _ => return Err(ExtensionError::Unacceptable),
            };
            agreed = Some(DeflateParams {
                server_no_context_takeover: answer.server_no_context_takeover,
                client_no_context_takeover: answer.client_no_context_takeover || opts.client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
            });
        }
    }
    Ok(agreed)
}

#[cfg(test)]
mod tests;
