//! The WebSocket opening handshake (RFC 6455 §4), sans-IO.
//!
//! Server side: find the end of the client's head with [`head_end`], parse it with
//! [`parse_request`], check it with [`validate_request`], then answer with
//! [`write_response`] or, on error, [`write_error_response`].
//!
//! Client side: write the upgrade request with [`write_request`] (the key comes from
//! [`client_key`]), then check the server's head with [`parse_response`] and
//! [`validate_response`].
//!
//! Nothing here allocates or panics: parsed heads borrow from the caller's buffer,
//! writers fill a caller-provided `&mut [u8]` and report `Err(())` when it is too small
//! (or a caller-supplied field would break the head).

// The writers' only failure worth a value is "did not fit" (or a field that would break
// the head); the caller answers both the same way, so `()` is the whole error.
#![allow(clippy::result_unit_err)]

use crate::extension::{self, Agreement, DeflateOptions, DeflateParams};
use crate::http::{self, HeadError};
use crate::{base64, sha1::Sha1};

/// The GUID appended to the client's key before hashing (RFC 6455 §1.3, §4.2.2).
pub const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Most headers a parsed head may carry; one more is [`HandshakeError::HeadersTooLarge`].
pub const MAX_HEADERS: usize = 32;

/// The only protocol version defined by RFC 6455 (§4.1, §4.2.1 item 6).
const VERSION: &[u8] = b"13";

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`:
/// base64(SHA-1(key ++ GUID)), RFC 6455 §4.2.2 step 5.4.
///
/// `key` is the header value as sent; surrounding spaces and tabs are ignored, since
/// they are optional whitespace around a header value (RFC 7230 §3.2), not part of it.
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut sha1 = Sha1::new();
    sha1.update(trim_ows(key));
    sha1.update(GUID);
    let mut accept = [0; 28];
    // 20 digest bytes always encode to exactly 28 padded base64 bytes, so this cannot fail.
    let _ = base64::encode(&sha1.digest(), &mut accept);
    accept
}

/// `Sec-WebSocket-Key` for a client request: base64 of 16 random bytes (RFC 6455 §4.1).
///
/// The bytes must come from a source the server cannot predict; the caller supplies them
/// because this crate has no entropy source of its own.
pub fn client_key(random: &[u8; 16]) -> [u8; 24] {
    let mut key = [0; 24];
    // 16 bytes always encode to exactly 24 padded base64 bytes, so this cannot fail.
    let _ = base64::encode(random, &mut key);
    key
}

/// Index just past the `"\r\n\r\n"` that ends an HTTP head (RFC 7230 §3), if `buf` holds one.
///
/// Anything after that index is not part of the handshake (it may already be WebSocket frames).
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Why a handshake failed.
///
/// The server-side variants describe a client's request and map to the HTTP status to
/// answer with ([`status`](Self::status)); the client-side variants describe a server's
/// response and have status 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// 400: not parseable as a complete HTTP/1.x request head.
    Malformed,
    /// 431: more than [`MAX_HEADERS`] headers (callers also use it for an over-long head).
    HeadersTooLarge,
    /// 405: the method is not GET (RFC 6455 §4.2.1 item 1); the answer carries `Allow: GET`.
    MethodNotAllowed,
    /// 400: not HTTP/1.1 or higher (RFC 6455 §4.2.1 item 1).
    HttpVersion,
    /// 400: no `Host` header, or more than one (RFC 6455 §4.2.1 item 2, RFC 7230 §5.4).
    MissingHost,
    /// 426: no `Upgrade: websocket` or no `Connection: upgrade` (RFC 6455 §4.2.1 items 3-4).
    NotWebSocket,
    /// 400: `Sec-WebSocket-Key` missing, repeated, or not base64 of 16 bytes (RFC 6455 §4.2.1 item 5).
    BadKey,
    /// 426: `Sec-WebSocket-Version` missing or not 13 (RFC 6455 §4.2.1 item 6, §4.4).
    UnsupportedVersion,
    /// 403: the `Origin` is not one the server accepts (RFC 6455 §4.2.2 step 4, §10.2).
    OriginRefused,
    /// Client side: the response is not `HTTP/1.1 101`; [`Response::status`] has the code.
    BadStatus,
    /// Client side: the 101 lacks `Upgrade: websocket` or `Connection: upgrade` (RFC 6455 §4.1 items 2-3).
    BadUpgrade,
    /// Client side: `Sec-WebSocket-Accept` missing or wrong (RFC 6455 §4.1 item 4).
    BadAccept,
    /// Client side: the server chose a subprotocol the client did not offer (RFC 6455 §4.1 item 6).
    UnofferedProtocol,
    /// Client side: the server named extensions although the client offered none (RFC 6455 §4.1 item 5).
    UnofferedExtension,
    /// Client side: the server's permessage-deflate answer is not one the offer allows
    /// (RFC 7692 §5.1, §7.1).
    BadExtension,
}

impl HandshakeError {
    /// HTTP status a server answers with; 0 for the client-side errors.
    pub fn status(self) -> u16 {
        match self {
            Self::Malformed | Self::HttpVersion | Self::MissingHost | Self::BadKey => 400,
            Self::OriginRefused => 403,
            Self::MethodNotAllowed => 405,
            Self::NotWebSocket | Self::UnsupportedVersion => 426,
            Self::HeadersTooLarge => 431,
            Self::BadStatus
            | Self::BadUpgrade
            | Self::BadAccept
            | Self::UnofferedProtocol
            | Self::UnofferedExtension
            | Self::BadExtension => 0,
        }
    }

    /// Reason phrase for [`status`](Self::status) (RFC 7231 §6, RFC 6585 §5); empty for status 0.
    pub fn reason_phrase(self) -> &'static str {
        http::reason_phrase(self.status())
    }

    /// Short human-readable description, also the body of the error response.
    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "malformed HTTP request",
            Self::HeadersTooLarge => "request header fields too large",
            Self::MethodNotAllowed => "WebSocket handshake requires GET",
            Self::HttpVersion => "WebSocket handshake requires HTTP/1.1",
            Self::MissingHost => "missing or repeated Host header",
            Self::NotWebSocket => "missing Upgrade: websocket or Connection: Upgrade",
            Self::BadKey => "missing or invalid Sec-WebSocket-Key",
            Self::UnsupportedVersion => "Sec-WebSocket-Version must be 13",
            Self::OriginRefused => "origin not allowed",
            Self::BadStatus => "server did not answer 101 Switching Protocols",
            Self::BadUpgrade => "server response lacks Upgrade: websocket or Connection: Upgrade",
            Self::BadAccept => "missing or wrong Sec-WebSocket-Accept",
            Self::UnofferedProtocol => "server chose a subprotocol that was not offered",
            Self::UnofferedExtension => "server chose an extension that was not offered",
            Self::BadExtension => "server's permessage-deflate parameters do not match the offer",
        }
    }
}

/// The header fields of a parsed head, values trimmed of surrounding whitespace.
struct Headers<'b>(heapless::Vec<(&'b str, &'b [u8]), MAX_HEADERS>);

impl<'b> Headers<'b> {

    /// Values of every field called `name`, in order; names are case-insensitive (RFC 7230 §3.2).
    fn values<'s>(&'s self, name: &'s str) -> Values<'s, 'b> {
        Values { fields: &self.0, name }
    }

    /// The value of the field called `name`, if it appears exactly once.
    fn single(&self, name: &str) -> Option<&'b [u8]> {
        let mut values = self.values(name);
        match (values.next(), values.next()) {
            (Some(value), None) => Some(value),
            _ => None,
        }
    }

    /// Whether any field called `name` lists `token`, compared case-insensitively.
    ///
    /// Repeated fields form one list (RFC 7230 §3.2.2), e.g. `Connection: keep-alive, Upgrade`.
    fn has_token(&self, name: &str, token: &[u8]) -> bool {
        self.values(name)
            .flat_map(list_items)
            .any(|item| item.eq_ignore_ascii_case(token))
    }
}

/// What [`Headers::values`] has not looked at yet; one out-of-line `next`
/// serves every field the handshake reads.
pub struct Values<'s, 'b> {
    fields: &'s [(&'b str, &'b [u8])],
    name: &'s str,
}

impl<'b> Iterator for Values<'_, 'b> {
    type Item = &'b [u8];

    #[inline(never)]
    fn next(&mut self) -> Option<&'b [u8]> {
        while let [(field, value), rest @ ..] = self.fields {
            self.fields = rest;
            if field.eq_ignore_ascii_case(self.name) {
                return Some(value);
            }
        }
        None
    }
}

/// A parsed request head. Header names and values borrow from the parsed buffer.
pub struct Request<'b> {
    /// The method, e.g. `GET`.
    pub method: &'b str,
    /// The request-target as sent, query included.
    pub path: &'b str,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    headers: Headers<'b>,
}

impl<'b> Request<'b> {
    /// All header fields in order, values trimmed of surrounding whitespace.
    pub fn headers(&self) -> impl Iterator<Item = (&'b str, &'b [u8])> + '_ {
        self.headers.0.iter().copied()
    }

    /// Value of the first header field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers.values(name).next()
    }

    /// Whether the head asks for a WebSocket upgrade (`Upgrade` lists `websocket`),
    /// valid or not: a server uses it to tell a bad handshake from a plain HTTP request.
    pub fn is_upgrade(&self) -> bool {
        self.headers.has_token("upgrade", b"websocket")
    }
}

/// Parse a complete request head (pass `&buf[..head_end]`; bytes after the head are ignored).
///
/// Errors: [`HandshakeError::Malformed`] (including an incomplete head) and
/// [`HandshakeError::HeadersTooLarge`].
pub fn parse_request(buf: &[u8]) -> Result<Request<'_>, HandshakeError> {
    let head = http::parse_request_head(buf).map_err(head_error)?;
    Ok(Request {
        method: head.method,
        path: head.target,
        minor_version: head.minor_version,
        headers: Headers(head.fields),
    })
}

/// A head that does not parse is malformed (400), one with too many fields too large
/// (431, RFC 6585 §5).
fn head_error(e: HeadError) -> HandshakeError {
    match e {
        HeadError::Malformed => HandshakeError::Malformed,
        HeadError::TooManyHeaders => HandshakeError::HeadersTooLarge,
    }
}

/// What a server agrees to when a request validates.
pub struct Accept<'b, 'p> {
    /// The client's `Sec-WebSocket-Key`, trimmed; pass it to [`write_response`].
    pub key: &'b [u8],
    /// The subprotocol chosen, borrowed from the server's list.
    pub subprotocol: Option<&'p [u8]>,
}

/// Validate an upgrade request (RFC 6455 §4.2.1) against the server's settings.
///
/// `subprotocols` is the server's comma-separated list in order of preference (may be
/// empty): the first one the client offered in any `Sec-WebSocket-Protocol` field is
/// chosen, compared exactly (RFC 6455 §4.2.2 step 4, /subprotocol/). None in common is not an error:
/// the server then answers without the header and the client decides (§4.1 item 6).
///
/// `origins` is `None` to accept any origin, or a comma-separated list that the
/// `Origin` field must be present in (ASCII case-insensitive), else
/// [`HandshakeError::OriginRefused`]; `Some(b"")` refuses every request.
///
/// Checks run in the order: method, HTTP version, Host, Upgrade/Connection,
/// Sec-WebSocket-Version, Sec-WebSocket-Key, Origin.
pub fn validate_request<'b, 'p>(
    req: &Request<'b>,
    subprotocols: &'p [u8],
    origins: Option<&[u8]>,
) -> Result<Accept<'b, 'p>, HandshakeError> {
    let headers = &req.headers;
    // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    if req.method != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if req.minor_version < 1 {
        return Err(HandshakeError::HttpVersion);
    }
    // §4.2.1 item 2; RFC 7230 §5.4 also answers 400 to a repeated Host.
    if headers.single("host").is_none() {
        return Err(HandshakeError::MissingHost);
    }
    // §4.2.1 items 3-4: both are token lists, matched case-insensitively.
    if !req.is_upgrade() || !headers.has_token("connection", b"upgrade") {
        return Err(HandshakeError::NotWebSocket);
    }
    // §4.2.1 item 6, checked before the key so that a client speaking an older draft
    // (with a differently shaped key) learns which version to retry with (§4.4).
    if req.header("sec-websocket-version") != Some(VERSION) {
        return Err(HandshakeError::UnsupportedVersion);
    }
    // §4.2.1 item 5: exactly one key, base64 of 16 bytes; §11.3.1 forbids repeating it.
    let key = headers
        .single("sec-websocket-key")
        .filter(|key| is_valid_key(key))
        .ok_or(HandshakeError::BadKey)?;
    // §4.2.2 step 4 / §10.2: a server may refuse origins it does not trust.
    if let Some(allowed) = origins {
        let accepted = req.header("origin").is_some_and(|origin| {
            list_items(allowed).any(|item| item.eq_ignore_ascii_case(origin))
        });
        if !accepted {
            return Err(HandshakeError::OriginRefused);
        }
    }
    // §4.2.2 step 4 /subprotocol/: one of the client's values; server preference wins.
    let subprotocol = list_items(subprotocols).find(|ours| {
        headers
            .values("sec-websocket-protocol")
            .flat_map(list_items)
            .any(|theirs| theirs == *ours)
    });
    Ok(Accept { key, subprotocol })
}

/// Whether `key` is base64 (canonical, padded) of exactly 16 bytes (RFC 6455 §4.1, §4.2.1 item 5).
fn is_valid_key(key: &[u8]) -> bool {
    // 24 characters decode to at most 18 bytes; exactly 16 means "==" padding.
    let mut decoded = [0; 18];
    key.len() == 24 && base64::decode(key, &mut decoded) == Some(16)
}

/// Server side: the permessage-deflate agreement for a validated request (RFC 7692 §5),
/// from every `Sec-WebSocket-Extensions` field; `None` declines compression (the answer
/// then names no extension, as without this call).
pub fn negotiate_deflate(req: &Request<'_>, opts: &DeflateOptions) -> Option<Agreement> {
    extension::server_accept(req.headers.values("sec-websocket-extensions"), opts)
}

/// Write the `101 Switching Protocols` answer (RFC 6455 §4.2.2 step 5).
///
/// `key` is the client's `Sec-WebSocket-Key` ([`Accept::key`]); `subprotocol` is
/// echoed when chosen (step 5.5); `extra_headers` are complete `"Name: value\r\n"` lines copied
/// verbatim. Returns the length written, or `Err(())` when `out` is too small or
/// `subprotocol` holds a control character.
pub fn write_response(
    out: &mut [u8],
    key: &[u8],
    subprotocol: Option<&[u8]>,
    extra_headers: &[u8],
) -> Result<usize, ()> {
    write_response_with_deflate(out, key, subprotocol, None, extra_headers)
}

/// [`write_response`] with the `Sec-WebSocket-Extensions` answer of an agreement from
/// [`negotiate_deflate`] (RFC 7692 §5.1), none for `None`.
pub fn write_response_with_deflate(
    out: &mut [u8],
    key: &[u8],
    subprotocol: Option<&[u8]>,
    deflate: Option<&Agreement>,
    extra_headers: &[u8],
) -> Result<usize, ()> {
    let mut w = Writer::new(out);
    w.put(b"HTTP/1.1 101 Switching Protocols\r\n")?;
    w.header(b"Upgrade", b"websocket")?;
    w.header(b"Connection", b"Upgrade")?;
    w.header(b"Sec-WebSocket-Accept", &accept_key(key))?;
    if let Some(subprotocol) = subprotocol {
        w.header(b"Sec-WebSocket-Protocol", subprotocol)?;
    }
    if let Some(agreement) = deflate {
        let mut value = [0u8; extension::MAX_VALUE_LEN];
        let n = agreement.write(&mut value)?;
        w.header(b"Sec-WebSocket-Extensions", value.get(..n).ok_or(())?)?;
    }
    w.finish(extra_headers)
}

/// Write the HTTP error answer for a server-side [`HandshakeError`]: status line, the
/// headers that status calls for, a `text/plain` body with [`HandshakeError::message`],
/// and `Connection: close`.
///
/// Returns the length written, or `Err(())` when `out` is too small or `err` is a
/// client-side error (status 0), which has no answer.
pub fn write_error_response(out: &mut [u8], err: HandshakeError) -> Result<usize, ()> {
    let status = err.status();
    if status == 0 {
        return Err(());
    }
    let body = err.message().as_bytes();
    let mut w = Writer::new(out);
    w.put(b"HTTP/1.1 ")?;
    w.put_decimal(status)?;
    w.put(b" ")?;
    w.put(err.reason_phrase().as_bytes())?;
    w.put(b"\r\n")?;
    match err {
        // RFC 7231 §6.5.5: a 405 MUST list the allowed methods.
        HandshakeError::MethodNotAllowed => w.header(b"Allow", b"GET")?,
        // RFC 6455 §4.4: tell the client which version to retry with.
        HandshakeError::UnsupportedVersion => w.header(b"Sec-WebSocket-Version", VERSION)?,
        _ => {}
    }
    // RFC 7231 §6.5.15: a 426 MUST carry Upgrade, and RFC 7230 §6.7 then requires the
    // "upgrade" connection option; one Connection field carries it together with "close".
    let upgrade_required = status == 426;
    if upgrade_required {
        w.header(b"Upgrade", b"websocket")?;
    }
    w.header(b"Content-Type", b"text/plain")?;
    w.put(b"Content-Length: ")?;
    w.put_decimal(u16::try_from(body.len()).map_err(drop)?)?;
    w.put(b"\r\n")?;
    let connection: &[u8] = if upgrade_required {
        b"Upgrade, close"
    } else {
        b"close"
    };
    w.header(b"Connection", connection)?;
    w.put(b"\r\n")?;
    w.put(body)?;
    Ok(w.len)
}

/// Write a client's opening handshake (RFC 6455 §4.1).
///
/// `host` is as given by the user (an IPv6 literal already bracketed); `:port` is added
/// to `Host` only when `port` differs from `default_port` (80 for ws, 443 for wss),
/// per §4.1 item 4. `path` is the resource name with its query; a missing leading `/`
/// is added (so an empty path becomes `/`). `Sec-WebSocket-Protocol` is sent only when
/// `subprotocols` (a comma-separated list, sent as given) is non-empty, `Origin` when
/// given, then `extra_headers` verbatim (complete `"Name: value\r\n"` lines).
///
/// Returns the length written, or `Err(())` when `out` is too small or a field holds a
/// control character, or `host` or `path` anything but visible ASCII.
#[allow(clippy::too_many_arguments)]
pub fn write_request(
    out: &mut [u8],
    host: &[u8],
    port: u16,
    default_port: u16,
    path: &[u8],
    key: &[u8; 24],
    subprotocols: &[u8],
    origin: Option<&[u8]>,
    extra_headers: &[u8],
) -> Result<usize, ()> {
    write_request_with_deflate(out, host, port, default_port, path, key, subprotocols, origin, None, extra_headers)
}

/// [`write_request`] offering permessage-deflate as `deflate` says (RFC 7692 §5.1), no
/// offer for `None`.
#[allow(clippy::too_many_arguments)]
pub fn write_request_with_deflate(
    out: &mut [u8],
    host: &[u8],
    port: u16,
    default_port: u16,
    path: &[u8],
    key: &[u8; 24],
    subprotocols: &[u8],
    origin: Option<&[u8]>,
    deflate: Option<&DeflateOptions>,
    extra_headers: &[u8],
) -> Result<usize, ()> {
    // A URI's host and path are visible ASCII (RFC 3986 §2); whitespace in particular
    // would split the request-line (RFC 7230 §3.1.1).
    if !host.iter().chain(path).all(|b| (b'!'..=b'~').contains(b)) {
        return Err(());
    }
    let mut w = Writer::new(out);
    w.put(b"GET ")?;
    if !path.starts_with(b"/") {
        w.put(b"/")?;
    }
    w.put_field(path)?;
    w.put(b" HTTP/1.1\r\nHost: ")?;
    w.put_field(host)?;
    if port != default_port {
        w.put(b":")?;
        w.put_decimal(port)?;
    }
    w.put(b"\r\n")?;
    w.header(b"Upgrade", b"websocket")?;
    w.header(b"Connection", b"Upgrade")?;
    w.header(b"Sec-WebSocket-Key", key)?;
    w.header(b"Sec-WebSocket-Version", VERSION)?;
    if !subprotocols.is_empty() {
        w.header(b"Sec-WebSocket-Protocol", subprotocols)?;
    }
    if let Some(origin) = origin {
        w.header(b"Origin", origin)?;
    }
    if let Some(opts) = deflate {
        let mut value = [0u8; extension::MAX_VALUE_LEN];
        let n = extension::write_offer(opts, &mut value)?;
        w.header(b"Sec-WebSocket-Extensions", value.get(..n).ok_or(())?)?;
    }
    w.finish(extra_headers)
}

/// A parsed response head. Header names and values borrow from the parsed buffer.
pub struct Response<'b> {
    /// The status code, e.g. 101.
    pub status: u16,
    /// The reason phrase as sent (may be empty, and need not be UTF-8).
    pub reason: &'b [u8],
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// The first `Sec-WebSocket-Protocol` value, trimmed, unvalidated
    /// ([`validate_response`] returns the checked choice).
    pub subprotocol: Option<&'b [u8]>,
    headers: Headers<'b>,
}

impl<'b> Response<'b> {
    /// All header fields in order, values trimmed of surrounding whitespace.
    pub fn headers(&self) -> impl Iterator<Item = (&'b str, &'b [u8])> + '_ {
        self.headers.0.iter().copied()
    }

    /// Value of the first header field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers.values(name).next()
    }
}

/// Parse a complete response head (pass `&buf[..head_end]`; bytes after the head, such as
/// the server's first frames, are ignored).
///
/// Errors: [`HandshakeError::Malformed`] (including an incomplete head) and
/// [`HandshakeError::HeadersTooLarge`].
pub fn parse_response(buf: &[u8]) -> Result<Response<'_>, HandshakeError> {
    let head = http::parse_response_head(buf).map_err(head_error)?;
    let headers = Headers(head.fields);
    let subprotocol = headers.values("sec-websocket-protocol").next();
    Ok(Response {
        status: head.status,
        reason: head.reason,
        minor_version: head.minor_version,
        subprotocol,
        headers,
    })
}

/// Validate a server's answer as RFC 6455 §4.1 items 1-6 require of a client.
///
/// `key` is the `Sec-WebSocket-Key` the client sent and `offered` its comma-separated
/// subprotocol list (empty when none was offered). Extensions are not offered here, so
/// any extension in the answer fails. Returns the subprotocol the server chose.
pub fn validate_response<'b>(
    resp: &Response<'b>,
    key: &[u8; 24],
    offered: &[u8],
) -> Result<Option<&'b [u8]>, HandshakeError> {
    validate_response_with(resp, key, offered, None, no_offer).map(|(protocol, _)| protocol)
}

/// [`validate_response`] for a request that offered permessage-deflate with `deflate`
/// (from [`write_request_with_deflate`]): also returns the parameters agreed, `None` when
/// the server declined. An answer the offer does not allow fails
/// ([`HandshakeError::BadExtension`]; RFC 7692 §5.1: the client fails the connection).
pub fn validate_response_with_deflate<'b>(
    resp: &Response<'b>,
    key: &[u8; 24],
    offered: &[u8],
    deflate: Option<&DeflateOptions>,
) -> Result<(Option<&'b [u8]>, Option<DeflateParams>), HandshakeError> {
    validate_response_with(resp, key, offered, deflate, deflate_answer)
}

/// Item 5 of RFC 6455 §4.1: what the `Sec-WebSocket-Extensions` fields of an answer
/// agree to, given the offer. One of [`no_offer`] and [`deflate_answer`]: passed as a
/// function, not a generic, so that one copy of the rest of the check serves both, and a
/// build that never offers compression links no extension parser.
pub type ExtensionCheck =
    fn(Values<'_, '_>, Option<&DeflateOptions>) -> Result<Option<DeflateParams>, HandshakeError>;

/// Nothing was offered: an empty field names no extension and any token is one we did
/// not offer.
pub fn no_offer(fields: Values<'_, '_>, _: Option<&DeflateOptions>) -> Result<Option<DeflateParams>, HandshakeError> {
    match fields.flat_map(list_items).next() {
        Some(_) => Err(HandshakeError::UnofferedExtension),
        None => Ok(None),
    }
}

/// permessage-deflate was offered with `deflate` (or nothing, for `None`): RFC 7692 §5.1
/// and §7.1 decide what the answer may say.
pub fn deflate_answer(
    fields: Values<'_, '_>,
    deflate: Option<&DeflateOptions>,
) -> Result<Option<DeflateParams>, HandshakeError> {
    match deflate {
        None => no_offer(fields, None),
        Some(opts) => extension::client_accept(fields, opts).map_err(|_| HandshakeError::BadExtension),
    }
}

/// RFC 6455 §4.1 items 1-6, item 5 (the `Sec-WebSocket-Extensions` fields) decided by
/// `extensions` with the offer `deflate`.
pub fn validate_response_with<'b>(
    resp: &Response<'b>,
    key: &[u8; 24],
    offered: &[u8],
    deflate: Option<&DeflateOptions>,
    extensions: ExtensionCheck,
) -> Result<(Option<&'b [u8]>, Option<DeflateParams>), HandshakeError> {
    let headers = &resp.headers;
    // Item 1: anything but 101 is handled per HTTP; the caller reports `resp.status`.
    if resp.status != 101 || resp.minor_version < 1 {
        return Err(HandshakeError::BadStatus);
    }
    // Items 2-3.
    if !headers.has_token("upgrade", b"websocket") || !headers.has_token("connection", b"upgrade") {
        return Err(HandshakeError::BadUpgrade);
    }
    // Item 4; §11.3.3 allows the field only once in a response.
    if headers.single("sec-websocket-accept") != Some(&accept_key(key)[..]) {
        return Err(HandshakeError::BadAccept);
    }
    // Item 5.
    let params = extensions(headers.values("sec-websocket-extensions"), deflate)?;
    // Item 6: one of the offered tokens, in at most one field (§11.3.4).
    let mut chosen = headers.values("sec-websocket-protocol");
    match (chosen.next(), chosen.next()) {
        (None, _) => Ok((None, params)),
        (Some(protocol), None) if list_items(offered).any(|item| item == protocol) => {
            Ok((Some(protocol), params))
        }
        _ => Err(HandshakeError::UnofferedProtocol),
    }
}

/// Elements of a comma-separated list (RFC 7230 §7 `#rule`): trimmed of spaces and tabs,
/// empty elements skipped.
fn list_items(list: &[u8]) -> ListItems<'_> {
    ListItems(list)
}

/// The rest of a list for [`list_items`]; one out-of-line `next` serves
/// every list the handshake reads.
struct ListItems<'a>(&'a [u8]);

impl<'a> Iterator for ListItems<'a> {
    type Item = &'a [u8];

    #[inline(never)]
    fn next(&mut self) -> Option<&'a [u8]> {
        // Empty elements are skipped, so an empty rest is the end.
        while !self.0.is_empty() {
            let end = self.0.iter().position(|&b| b == b',').unwrap_or(self.0.len());
            let (item, rest) = self.0.split_at_checked(end)?;
            self.0 = rest.get(1..).unwrap_or(&[]);
            let item = trim_ows(item);
            if !item.is_empty() {
                return Some(item);
            }
        }
        None
    }
}

use http::trim_ows;

/// Appends to a caller's buffer; every write fails as a whole, with nothing counted,
/// when the buffer is too small.
struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl<'o> Writer<'o> {
    fn new(out: &'o mut [u8]) -> Self {
        Self { out, len: 0 }
    }

    // `put`, `put_field` and `header` stay out of line: a head is written with dozens of
    // calls, each an inlined copy otherwise; it is written once per connection.
    #[inline(never)]
    fn put(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let end = self.len.checked_add(bytes.len()).ok_or(())?;
        self.out
            .get_mut(self.len..end)
            .ok_or(())?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Put caller-supplied bytes, refusing control characters: CR or LF would end the line
    /// (or the head) early, and a field value is only VCHAR, obs-text, SP and HTAB
    /// (RFC 7230 §3.2).
    #[inline(never)]
    fn put_field(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if bytes.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(());
        }
        self.put(bytes)
    }

    /// Put a `"Name: value\r\n"` line.
    #[inline(never)]
    fn header(&mut self, name: &[u8], value: &[u8]) -> Result<(), ()> {
        self.put(name)?;
        self.put(b": ")?;
        self.put_field(value)?;
        self.put(b"\r\n")
    }

    /// Put `n` in decimal without leading zeros.
    #[inline]
    fn put_decimal(&mut self, n: u16) -> Result<(), ()> {
        let mut digits = [0u8; 20];
        self.put(http::decimal(usize::from(n), &mut digits))
    }

    /// Put the caller's extra header lines and the blank line ending the head; the total length.
    fn finish(mut self, extra_headers: &[u8]) -> Result<usize, ()> {
        self.put(extra_headers)?;
        self.put(b"\r\n")?;
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::{
        format,
        string::{String, ToString},
        vec,
        vec::Vec,
    };

    /// RFC 6455 §1.3's sample key and its accept value.
    const SAMPLE_KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";
    const SAMPLE_ACCEPT: &[u8; 28] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    /// The client handshake of RFC 6455 §1.2.
    const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    /// A head made of `lines` (the first is the start line).
    fn head(lines: &[&str]) -> String {
        let mut head = lines.join("\r\n");
        head.push_str("\r\n\r\n");
        head
    }

    /// A valid upgrade request with `replace` applied to its header lines: each
    /// `(name, Some(line))` replaces the line(s) of that field, `(name, None)` drops them;
    /// extra lines are appended with an empty name.
    fn request_with(start: &str, replace: &[(&str, Option<&str>)]) -> String {
        let base = [
            ("Host", "Host: server.example.com"),
            ("Upgrade", "Upgrade: websocket"),
            ("Connection", "Connection: Upgrade"),
            (
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ),
            ("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13"),
            ("Origin", "Origin: http://example.com"),
        ];
        let mut lines = vec![start];
        for (name, line) in base {
            match replace.iter().find(|(replaced, _)| *replaced == name) {
                Some((_, Some(replacement))) => lines.push(replacement),
                Some((_, None)) => {}
                None => lines.push(line),
            }
        }
        lines.extend(
            replace
                .iter()
                .filter(|(name, _)| name.is_empty())
                .filter_map(|(_, line)| *line),
        );
        head(&lines)
    }

    fn valid_request(replace: &[(&str, Option<&str>)]) -> String {
        request_with("GET /chat HTTP/1.1", replace)
    }

    /// Parse and validate with server subprotocols `subprotocols` and any origin.
    fn accept<'p>(head: &str, subprotocols: &'p [u8]) -> Result<Option<&'p [u8]>, HandshakeError> {
        let req = parse_request(head.as_bytes())?;
        validate_request(&req, subprotocols, None).map(|accepted| accepted.subprotocol)
    }

    fn base64_of(bytes: &[u8]) -> String {
        let mut out = [0; 64];
        let len = base64::encode(bytes, &mut out).unwrap();
        String::from_utf8(out[..len].to_vec()).unwrap()
    }

    #[test]
    fn rfc_sample_accept_key() {
        assert_eq!(&accept_key(SAMPLE_KEY), SAMPLE_ACCEPT);
        // Optional whitespace around the value is not part of the key.
        assert_eq!(&accept_key(b" \tdGhlIHNhbXBsZSBub25jZQ== "), SAMPLE_ACCEPT);
    }

    #[test]
    fn rfc_sample_client_key() {
        assert_eq!(&client_key(b"the sample nonce"), SAMPLE_KEY);
    }

    #[test]
    fn head_end_finds_blank_line() {
        assert_eq!(head_end(b""), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(head_end(b"\r\n\r\n"), Some(4));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\n\x81\x00"), Some(18));
        assert_eq!(head_end(RFC_REQUEST.as_bytes()), Some(RFC_REQUEST.len()));
    }

    #[test]
    fn rfc_sample_request_validates() {
        let req = parse_request(RFC_REQUEST.as_bytes()).unwrap();
        assert_eq!(
            (req.method, req.path, req.minor_version),
            ("GET", "/chat", 1)
        );
        assert!(req.is_upgrade());
        assert_eq!(req.headers().count(), 7);
        assert_eq!(req.header("HOST"), Some(&b"server.example.com"[..]));
        assert_eq!(req.header("x-missing"), None);
        let accepted = validate_request(&req, b"chat", Some(b"http://example.com")).unwrap();
        assert_eq!(accepted.key, SAMPLE_KEY);
        assert_eq!(accepted.subprotocol, Some(&b"chat"[..]));
    }

    #[test]
    fn parse_request_errors() {
        assert_eq!(parse_request(b"").err(), Some(HandshakeError::Malformed));
        // Incomplete: no blank line yet.
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n").err(),
            Some(HandshakeError::Malformed)
        );
        assert_eq!(
            parse_request(b"GET / HTTP/2.0\r\n\r\n").err(),
            Some(HandshakeError::Malformed)
        );
        let mut thirty_two = String::from("GET / HTTP/1.1\r\n");
        for i in 0..MAX_HEADERS {
            thirty_two.push_str(&format!("X-{i}: y\r\n"));
        }
        thirty_two.push_str("\r\n");
        assert_eq!(
            parse_request(thirty_two.as_bytes())
                .unwrap()
                .headers()
                .count(),
            MAX_HEADERS
        );
        // Bytes after the head (early frames) are not the parser's business.
        assert!(parse_request(b"GET / HTTP/1.1\r\n\r\n\x81\x80").is_ok());
    }

    #[test]
    fn bad_requests_map_to_errors_and_statuses() {
        use HandshakeError::*;
        let key_of = |len: usize| format!("Sec-WebSocket-Key: {}", base64_of(&vec![7; len]));
        let (key15, key16, key17) = (key_of(15), key_of(16), key_of(17));
        let mut too_many: Vec<String> = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y")).collect();
        too_many.insert(0, "GET / HTTP/1.1".into());
        let too_many = head(&too_many.iter().map(String::as_str).collect::<Vec<_>>());
        let cases: &[(&str, String, HandshakeError, u16)] = &[
            (
                "wrong method",
                request_with("POST /chat HTTP/1.1", &[]),
                MethodNotAllowed,
                405,
            ),
            (
                "HTTP/1.0",
                request_with("GET /chat HTTP/1.0", &[]),
                HttpVersion,
                400,
            ),
            (
                "missing Host",
                valid_request(&[("Host", None)]),
                MissingHost,
                400,
            ),
            (
                "repeated Host",
                valid_request(&[("", Some("Host: other.example"))]),
                MissingHost,
                400,
            ),
            (
                "no Upgrade",
                valid_request(&[("Upgrade", None)]),
                NotWebSocket,
                426,
            ),
            (
                "Upgrade: h2c",
                valid_request(&[("Upgrade", Some("Upgrade: h2c"))]),
                NotWebSocket,
                426,
            ),
            (
                "no Connection",
                valid_request(&[("Connection", None)]),
                NotWebSocket,
                426,
            ),
            (
                "Connection without upgrade",
                valid_request(&[("Connection", Some("Connection: keep-alive"))]),
                NotWebSocket,
                426,
            ),
            (
                "missing key",
                valid_request(&[("Sec-WebSocket-Key", None)]),
                BadKey,
                400,
            ),
            (
                "key of 15 bytes",
                valid_request(&[("Sec-WebSocket-Key", Some(&key15))]),
                BadKey,
                400,
            ),
            (
                "key of 17 bytes",
                valid_request(&[("Sec-WebSocket-Key", Some(&key17))]),
                BadKey,
                400,
            ),
            (
                "non-base64 key",
                valid_request(&[(
                    "Sec-WebSocket-Key",
                    Some("Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="),
                )]),
                BadKey,
                400,
            ),
            (
                "non-canonical key",
                valid_request(&[(
                    "Sec-WebSocket-Key",
                    Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="),
                )]),
                BadKey,
                400,
            ),
            (
                "duplicated key",
                valid_request(&[("", Some(&key16))]),
                BadKey,
                400,
            ),
            (
                "version 8",
                valid_request(&[("Sec-WebSocket-Version", Some("Sec-WebSocket-Version: 8"))]),
                UnsupportedVersion,
                426,
            ),
            (
                "missing version",
                valid_request(&[("Sec-WebSocket-Version", None)]),
                UnsupportedVersion,
                426,
            ),
            (
                "origin refused",
                valid_request(&[("Origin", Some("Origin: http://evil.example"))]),
                OriginRefused,
                403,
            ),
            (
                "origin missing",
                valid_request(&[("Origin", None)]),
                OriginRefused,
                403,
            ),
            ("33 headers", too_many, HeadersTooLarge, 431),
            (
                "garbage",
                String::from("\x16\x03\x01\x02\x00\x01\x00\x01\u{fc}\r\n\r\n"),
                Malformed,
                400,
            ),
        ];
        for (name, request, error, status) in cases {
            let result = parse_request(request.as_bytes()).and_then(|req| {
                validate_request(&req, b"", Some(b"https://a.example, HTTP://Example.com"))
                    .map(drop)
            });
            assert_eq!(result, Err(*error), "{name}");
            assert_eq!(error.status(), *status, "{name}");
        }
        // The valid base request (with a key of 16 bytes) passes the same check.
        let result =
            parse_request(valid_request(&[("Sec-WebSocket-Key", Some(&key16))]).as_bytes())
                .and_then(|req| {
                    validate_request(&req, b"", Some(b"https://a.example, HTTP://Example.com"))
                        .map(drop)
                });
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn checks_run_in_documented_order() {
        // Everything wrong at once reports the method first.
        let all_wrong = head(&["PUT / HTTP/1.0", "Upgrade: h2c"]);
        assert_eq!(
            accept(&all_wrong, b""),
            Err(HandshakeError::MethodNotAllowed)
        );
        let bad_version_and_key = valid_request(&[
            ("Sec-WebSocket-Version", Some("Sec-WebSocket-Version: 8")),
            ("Sec-WebSocket-Key", Some("Sec-WebSocket-Key: short")),
        ]);
        assert_eq!(
            accept(&bad_version_and_key, b""),
            Err(HandshakeError::UnsupportedVersion)
        );
    }

    #[test]
    fn upgrade_and_connection_are_token_lists() {
        let accepted = |upgrade: &str, connection: &[&str]| {
            let mut replace = vec![("Upgrade", Some(upgrade)), ("Connection", None)];
            replace.extend(connection.iter().map(|line| ("", Some(*line))));
            accept(&valid_request(&replace), b"").is_ok()
        };
        assert!(accepted(
            "Upgrade: websocket",
            &["Connection: keep-alive, Upgrade"]
        ));
        assert!(accepted(
            "Upgrade: websocket",
            &["Connection: keep-alive", "Connection: upgrade"]
        ));
        assert!(accepted("UPGRADE: WebSocket", &["CONNECTION: UPGRADE"]));
        assert!(accepted(
            "Upgrade:\twebsocket\t",
            &["Connection:\tkeep-alive,\tUpgrade\t"]
        ));
        assert!(accepted(
            "Upgrade: h2c, websocket",
            &["Connection: Upgrade,,"]
        ));
        assert!(!accepted("Upgrade: h2c", &["Connection: Upgrade"]));
        assert!(!accepted("Upgrade: websockets", &["Connection: Upgrade"]));
        assert!(!accepted("Upgrade: websocket", &["Connection: upgrades"]));
        assert!(!accepted(
            "Upgrade: websocket",
            &["Connection: keep-alive upgrade"]
        ));
        let plain = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert!(!plain.is_upgrade());
    }

    #[test]
    fn subprotocol_choice() {
        let offering = |lines: &[&str]| {
            let mut replace = vec![];
            replace.extend(lines.iter().map(|line| ("", Some(*line))));
            valid_request(&replace)
        };
        let one = offering(&["Sec-WebSocket-Protocol: a, b"]);
        // The server's order of preference wins over the client's.
        assert_eq!(accept(&one, b"b, a"), Ok(Some(&b"b"[..])));
        assert_eq!(accept(&one, b"c,a"), Ok(Some(&b"a"[..])));
        // No match, or nothing on either side, is no subprotocol, not an error.
        assert_eq!(accept(&one, b"c"), Ok(None));
        assert_eq!(accept(&one, b""), Ok(None));
        assert_eq!(accept(&offering(&[]), b"a, b"), Ok(None));
        // Tokens compare exactly.
        assert_eq!(
            accept(&offering(&["Sec-WebSocket-Protocol: Chat"]), b"chat"),
            Ok(None)
        );
        // Several fields form one list.
        let several = offering(&[
            "Sec-WebSocket-Protocol: x",
            "sec-websocket-protocol:\ty ,\tz",
        ]);
        assert_eq!(accept(&several, b"z, q"), Ok(Some(&b"z"[..])));
        // The choice is borrowed from the server's list.
        let server = b" chat ,mqtt";
        let chosen = accept(&offering(&["Sec-WebSocket-Protocol: mqtt"]), server)
            .unwrap()
            .unwrap();
        assert_eq!(chosen, b"mqtt");
        assert!(server.as_ptr_range().contains(&chosen.as_ptr()));
    }

    #[test]
    fn origins() {
        let with_origin = |origin: &str| valid_request(&[("Origin", Some(origin))]);
        let check = |head: &str, origins: Option<&[u8]>| {
            let req = parse_request(head.as_bytes()).unwrap();
            validate_request(&req, b"", origins).map(drop)
        };
        let refused = Err(HandshakeError::OriginRefused);
        assert_eq!(
            check(
                &with_origin("Origin: https://B.example"),
                Some(b"https://a.example,https://b.example")
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &with_origin("Origin: https://c.example"),
                Some(b"https://a.example")
            ),
            refused
        );
        assert_eq!(
            check(&with_origin("Origin: https://a.example"), Some(b"")),
            refused
        );
        assert_eq!(check(&valid_request(&[("Origin", None)]), None), Ok(()));
        assert_eq!(check(&with_origin("Origin: null"), None), Ok(()));
    }

    #[test]
    fn response_bytes_for_rfc_sample() {
        let mut out = [0; 256];
        let len = write_response(&mut out, SAMPLE_KEY, None, b"").unwrap();
        assert_eq!(
            &out[..len],
            b"HTTP/1.1 101 Switching Protocols\r\n\
              Upgrade: websocket\r\n\
              Connection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        let len = write_response(&mut out, SAMPLE_KEY, Some(b"chat"), b"Server: uws\r\n").unwrap();
        assert_eq!(
            &out[..len],
            b"HTTP/1.1 101 Switching Protocols\r\n\
              Upgrade: websocket\r\n\
              Connection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
              Sec-WebSocket-Protocol: chat\r\n\
              Server: uws\r\n\r\n"
        );
        assert_eq!(
            write_response(&mut out, SAMPLE_KEY, Some(b"a\r\nb"), b""),
            Err(())
        );
    }

    /// Every buffer shorter than what `write` needs fails; the exact size succeeds.
    fn assert_needs_exactly(write: impl Fn(&mut [u8]) -> Result<usize, ()>) {
        let mut big = [0; 512];
        let needed = write(&mut big).unwrap();
        for len in 0..needed {
            assert_eq!(write(&mut vec![0; len]), Err(()), "buffer of {len} bytes");
        }
        let mut exact = vec![0; needed];
        assert_eq!(write(&mut exact), Ok(needed));
        assert_eq!(exact, &big[..needed]);
    }

    #[test]
    fn writers_fail_cleanly_on_short_buffers() {
        assert_needs_exactly(|out| write_response(out, SAMPLE_KEY, Some(b"chat"), b"X-A: b\r\n"));
        assert_needs_exactly(|out| write_error_response(out, HandshakeError::NotWebSocket));
        assert_needs_exactly(|out| write_error_response(out, HandshakeError::MethodNotAllowed));
        assert_needs_exactly(|out| {
            write_request(
                out,
                b"[::1]",
                8080,
                80,
                b"/a?b",
                SAMPLE_KEY,
                b"chat",
                Some(b"http://o"),
                b"X: y\r\n",
            )
        });
    }

    #[test]
    fn error_responses() {
        use HandshakeError::*;
        let server_side = [
            Malformed,
            HeadersTooLarge,
            MethodNotAllowed,
            HttpVersion,
            MissingHost,
            NotWebSocket,
            BadKey,
            UnsupportedVersion,
            OriginRefused,
        ];
        for err in server_side {
            let mut out = [0; 512];
            let len = write_error_response(&mut out, err).unwrap();
            let mut fields = [httparse::EMPTY_HEADER; 16];
            let mut resp = httparse::Response::new(&mut fields);
            let head_len = resp.parse(&out[..len]).unwrap().unwrap();
            assert_eq!(resp.code, Some(err.status()));
            assert_eq!(resp.reason, Some(err.reason_phrase()));
            assert_eq!(&out[head_len..len], err.message().as_bytes(), "{err:?}");
            let field = |name: &str| {
                resp.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| h.value)
            };
            assert_eq!(
                field("content-length"),
                Some(format!("{}", err.message().len()).as_bytes())
            );
            assert_eq!(field("content-type"), Some(&b"text/plain"[..]));
            assert_eq!(field("allow").is_some(), err == MethodNotAllowed, "{err:?}");
            assert_eq!(
                field("sec-websocket-version").is_some(),
                err == UnsupportedVersion,
                "{err:?}"
            );
            let connection = field("connection").unwrap();
            if err.status() == 426 {
                assert_eq!(field("upgrade"), Some(&b"websocket"[..]));
                assert_eq!(connection, b"Upgrade, close");
            } else {
                assert_eq!(field("upgrade"), None);
                assert_eq!(connection, b"close");
            }
            assert!(!err.message().is_empty());
        }
        let mut out = [0; 512];
        let len = write_error_response(&mut out, MethodNotAllowed).unwrap();
        assert_eq!(
            &out[..len],
            &b"HTTP/1.1 405 Method Not Allowed\r\n\
               Allow: GET\r\n\
               Content-Type: text/plain\r\n\
               Content-Length: 32\r\n\
               Connection: close\r\n\r\n\
               WebSocket handshake requires GET"[..]
        );
        for err in [
            BadStatus,
            BadUpgrade,
            BadAccept,
            UnofferedProtocol,
            UnofferedExtension,
            BadExtension,
        ] {
            assert_eq!((err.status(), err.reason_phrase()), (0, ""));
            assert!(!err.message().is_empty());
            assert_eq!(write_error_response(&mut out, err), Err(()));
        }
    }

    fn request_bytes(host: &[u8], port: u16, default_port: u16, path: &[u8]) -> Vec<u8> {
        let mut out = [0; 512];
        let len = write_request(
            &mut out,
            host,
            port,
            default_port,
            path,
            SAMPLE_KEY,
            b"",
            None,
            b"",
        )
        .unwrap();
        out[..len].to_vec()
    }

    #[test]
    fn client_request_bytes() {
        let expected = |start_and_host: &str| {
            format!(
                "{start_and_host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .into_bytes()
        };
        // ws://example.com/chat?x=1
        assert_eq!(
            request_bytes(b"example.com", 80, 80, b"/chat?x=1"),
            expected("GET /chat?x=1 HTTP/1.1\r\nHost: example.com")
        );
        // ws://example.com:8080/chat?x=1
        assert_eq!(
            request_bytes(b"example.com", 8080, 80, b"/chat?x=1"),
            expected("GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080")
        );
        // wss://[2001:db8::1]/ (default port 443) and ws://[::1]:9000
        assert_eq!(
            request_bytes(b"[2001:db8::1]", 443, 443, b""),
            expected("GET / HTTP/1.1\r\nHost: [2001:db8::1]")
        );
        assert_eq!(
            request_bytes(b"[::1]", 9000, 80, b"?q"),
            expected("GET /?q HTTP/1.1\r\nHost: [::1]:9000")
        );
        assert_eq!(
            request_bytes(b"a", 0, 80, b"/"),
            expected("GET / HTTP/1.1\r\nHost: a:0")
        );

        let mut out = [0; 512];
        let len = write_request(
            &mut out,
            b"example.com",
            443,
            443,
            b"/chat",
            SAMPLE_KEY,
            b"chat, superchat",
            Some(b"http://example.com"),
            b"Authorization: Basic eDp5\r\n",
        )
        .unwrap();
        assert_eq!(
            &out[..len],
            &b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
               Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: http://example.com\r\n\
               Authorization: Basic eDp5\r\n\r\n"[..]
        );
    }

    #[test]
    fn client_request_refuses_fields_that_break_the_head() {
        let mut out = [0; 512];
        let mut write = |host: &[u8], path: &[u8], subprotocols: &[u8], origin: &[u8]| {
            write_request(
                &mut out,
                host,
                80,
                80,
                path,
                SAMPLE_KEY,
                subprotocols,
                Some(origin),
                b"",
            )
        };
        assert!(write(b"a", b"/", b"p", b"o").is_ok());
        assert_eq!(write(b"a\r\nX: y", b"/", b"p", b"o"), Err(()));
        assert_eq!(write(b"a b", b"/", b"p", b"o"), Err(()));
        assert_eq!(write(b"a", b"/ HTTP/1.0", b"p", b"o"), Err(()));
        assert_eq!(write(b"a", b"/\n", b"p", b"o"), Err(()));
        assert_eq!(write(b"a", b"/", b"p\r\n", b"o"), Err(()));
        assert_eq!(write(b"a", b"/", b"p", b"o\0"), Err(()));
        assert_eq!(write(b"a", b"/\t", b"p", b"o"), Err(()));
        assert_eq!(write(b"a", "/ä".as_bytes(), b"p", b"o"), Err(()));
        assert_eq!(write(b"a", b"/", b"p\x7f", b"o"), Err(()));
        // Tabs and non-ASCII text are fine in a field value.
        assert!(write(b"a", b"/", b"p,\tq", "ü".as_bytes()).is_ok());
    }

    /// A server answer to `SAMPLE_KEY` with `lines` after the status line.
    fn check_response(lines: &[&str], offered: &[u8]) -> Result<Option<Vec<u8>>, HandshakeError> {
        let head = head(lines);
        let resp = parse_response(head.as_bytes())?;
        validate_response(&resp, SAMPLE_KEY, offered).map(|chosen| chosen.map(<[u8]>::to_vec))
    }

    #[test]
    fn client_validates_response() {
        use HandshakeError::*;
        const STATUS: &str = "HTTP/1.1 101 Switching Protocols";
        const UPGRADE: &str = "Upgrade: websocket";
        const CONNECTION: &str = "Connection: Upgrade";
        const ACCEPT: &str = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        assert_eq!(
            check_response(&[STATUS, UPGRADE, CONNECTION, ACCEPT], b""),
            Ok(None)
        );
        assert_eq!(
            check_response(
                &[
                    STATUS,
                    "upgrade: WebSocket",
                    "connection: keep-alive, upgrade",
                    ACCEPT
                ],
                b""
            ),
            Ok(None)
        );
        let chat = "Sec-WebSocket-Protocol: chat";
        assert_eq!(
            check_response(
                &[STATUS, UPGRADE, CONNECTION, ACCEPT, chat],
                b"superchat, chat"
            ),
            Ok(Some(b"chat".to_vec()))
        );
        // An empty extensions field names no extension.
        assert_eq!(
            check_response(
                &[
                    STATUS,
                    UPGRADE,
                    CONNECTION,
                    ACCEPT,
                    "Sec-WebSocket-Extensions: "
                ],
                b""
            ),
            Ok(None)
        );

        let cases: &[(&[&str], &[u8], HandshakeError)] = &[
            (
                &["HTTP/1.1 404 Not Found", UPGRADE, CONNECTION, ACCEPT],
                b"",
                BadStatus,
            ),
            (&["HTTP/1.1 200 OK"], b"", BadStatus),
            (
                &[
                    "HTTP/1.0 101 Switching Protocols",
                    UPGRADE,
                    CONNECTION,
                    ACCEPT,
                ],
                b"",
                BadStatus,
            ),
            (&[STATUS, CONNECTION, ACCEPT], b"", BadUpgrade),
            (
                &[STATUS, "Upgrade: h2c", CONNECTION, ACCEPT],
                b"",
                BadUpgrade,
            ),
            (&[STATUS, UPGRADE, ACCEPT], b"", BadUpgrade),
            (
                &[STATUS, UPGRADE, "Connection: close", ACCEPT],
                b"",
                BadUpgrade,
            ),
            (&[STATUS, UPGRADE, CONNECTION], b"", BadAccept),
            (
                &[
                    STATUS,
                    UPGRADE,
                    CONNECTION,
                    "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==",
                ],
                b"",
                BadAccept,
            ),
            (
                &[STATUS, UPGRADE, CONNECTION, ACCEPT, ACCEPT],
                b"",
                BadAccept,
            ),
            (
                &[
                    STATUS,
                    UPGRADE,
                    CONNECTION,
                    ACCEPT,
                    "Sec-WebSocket-Extensions: permessage-deflate",
                ],
                b"",
                UnofferedExtension,
            ),
            (
                &[STATUS, UPGRADE, CONNECTION, ACCEPT, chat],
                b"",
                UnofferedProtocol,
            ),
            (
                &[STATUS, UPGRADE, CONNECTION, ACCEPT, chat],
                b"superchat",
                UnofferedProtocol,
            ),
            (
                &[
                    STATUS,
                    UPGRADE,
                    CONNECTION,
                    ACCEPT,
                    "Sec-WebSocket-Protocol: chat, superchat",
                ],
                b"chat, superchat",
                UnofferedProtocol,
            ),
            (
                &[STATUS, UPGRADE, CONNECTION, ACCEPT, chat, chat],
                b"chat",
                UnofferedProtocol,
            ),
        ];
        for (lines, offered, error) in cases {
            assert_eq!(check_response(lines, offered), Err(*error), "{lines:?}");
            assert_eq!(error.status(), 0);
        }

        // The caller reads the status of a refusal.
        let refusal = head(&["HTTP/1.1 403 Forbidden", "Content-Length: 0"]);
        let resp = parse_response(refusal.as_bytes()).unwrap();
        assert_eq!(
            (resp.status, resp.reason, resp.minor_version),
            (403, &b"Forbidden"[..], 1)
        );
        assert_eq!(resp.header("CONTENT-LENGTH"), Some(&b"0"[..]));
        assert_eq!(resp.headers().count(), 1);
        assert_eq!(resp.subprotocol, None);
    }

    #[test]
    fn parse_response_errors() {
        assert_eq!(parse_response(b"").err(), Some(HandshakeError::Malformed));
        assert_eq!(
            parse_response(b"HTTP/1.1 101 Switching Protocols\r\n").err(),
            Some(HandshakeError::Malformed)
        );
        assert_eq!(
            parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").err(),
            Some(HandshakeError::Malformed)
        );
        let mut many = String::from("HTTP/1.1 101 Switching Protocols\r\n");
        for i in 0..=MAX_HEADERS {
            many.push_str(&format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(
            parse_response(many.as_bytes()).err(),
            Some(HandshakeError::HeadersTooLarge)
        );
    }

    #[test]
    fn client_and_server_agree() {
        let key = client_key(&[0x5a; 16]);
        let mut request = [0; 512];
        let request_len = write_request(
            &mut request,
            b"localhost",
            8765,
            80,
            b"/ws",
            &key,
            b"v2.proto, v1.proto",
            Some(b"http://localhost"),
            b"",
        )
        .unwrap();
        let end = head_end(&request[..request_len]).unwrap();
        let req = parse_request(&request[..end]).unwrap();
        let accepted =
            validate_request(&req, b"v1.proto, v2.proto", Some(b"http://localhost")).unwrap();
        assert_eq!(accepted.subprotocol, Some(&b"v1.proto"[..]));

        let mut response = [0; 512];
        let response_len =
            write_response(&mut response, accepted.key, accepted.subprotocol, b"").unwrap();
        let resp = parse_response(&response[..response_len]).unwrap();
        assert_eq!(resp.subprotocol, Some(&b"v1.proto"[..]));
        assert_eq!(
            validate_response(&resp, &key, b"v2.proto, v1.proto"),
            Ok(Some(&b"v1.proto"[..]))
        );
    }

    #[test]
    fn client_and_server_agree_on_deflate() {
        use crate::extension::{DeflateOptions, DeflateParams};
        let key = client_key(&[0x5a; 16]);
        let client = DeflateOptions { server_no_context_takeover: true, ..DeflateOptions::DEFAULT };
        let server = DeflateOptions { server_max_window_bits: 10, ..DeflateOptions::DEFAULT };
        let mut request = [0; 512];
        let n = write_request_with_deflate(&mut request, b"h", 80, 80, b"/", &key, b"", None, Some(&client), b"").unwrap();
        let text = core::str::from_utf8(&request[..n]).unwrap();
        assert!(text.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=11; client_max_window_bits=11\r\n"
        ));
        let req = parse_request(&request[..n]).unwrap();
        let accepted = validate_request(&req, b"", None).unwrap();
        let agreement = negotiate_deflate(&req, &server).unwrap();
        let mut response = [0; 512];
        let n = write_response_with_deflate(&mut response, accepted.key, None, Some(&agreement), b"").unwrap();
        let resp = parse_response(&response[..n]).unwrap();
        let expected = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 10,
            client_max_window_bits: 11,
        };
        assert_eq!(validate_response_with_deflate(&resp, &key, b"", Some(&client)), Ok((None, Some(expected))));
        // The same answer to a client that offered nothing: refused as before.
        assert_eq!(validate_response(&resp, &key, b""), Err(HandshakeError::UnofferedExtension));
        // An answer outside the offer fails the handshake.
        let bad = head(&[
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Accept: (accept)",
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15",
        ]);
        let bad = bad.replace("(accept)", core::str::from_utf8(&accept_key(&key)).unwrap());
        let resp = parse_response(bad.as_bytes()).unwrap();
        assert_eq!(validate_response_with_deflate(&resp, &key, b"", Some(&client)), Err(HandshakeError::BadExtension));
        // A server that declines: no extension, no compression.
        let mut plain = [0; 512];
        let n = write_response(&mut plain, accepted.key, None, b"").unwrap();
        let resp = parse_response(&plain[..n]).unwrap();
        assert_eq!(validate_response_with_deflate(&resp, &key, b"", Some(&client)), Ok((None, None)));
    }

    /// Heads that are mostly valid handshakes, with pieces swapped for arbitrary text.
    fn near_valid_head() -> impl Strategy<Value = Vec<u8>> {
        let start = prop_oneof![
            Just("GET /chat HTTP/1.1".to_string()),
            Just("HTTP/1.1 101 Switching Protocols".to_string()),
            "[ -~]{0,40}",
        ];
        let name = prop_oneof![
            Just("Host"),
            Just("Upgrade"),
            Just("Connection"),
            Just("Sec-WebSocket-Key"),
            Just("Sec-WebSocket-Version"),
            Just("Sec-WebSocket-Protocol"),
            Just("Sec-WebSocket-Accept"),
            Just("Sec-WebSocket-Extensions"),
            Just("Origin"),
        ];
        let value = prop_oneof![
            Just("websocket".to_string()),
            Just("Upgrade".to_string()),
            Just("13".to_string()),
            Just("dGhlIHNhbXBsZSBub25jZQ==".to_string()),
            Just("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string()),
            "[ -~\t\u{80}-\u{ff}]{0,30}",
        ];
        (start, proptest::collection::vec((name, value), 0..40)).prop_map(|(start, fields)| {
            let mut head = start.into_bytes();
            for (name, value) in fields {
                head.extend_from_slice(format!("\r\n{name}: {value}").as_bytes());
            }
            head.extend_from_slice(b"\r\n\r\n");
            head
        })
    }

    /// Byte strings that are mostly visible ASCII, so writers often accept them.
    fn mostly_visible_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![8 => 0x21u8..=0x7e, 1 => any::<u8>()], 0..30)
    }

    /// Every entry point on `bytes`; none may panic.
    fn exercise(bytes: &[u8]) {
        let _ = head_end(bytes);
        if let Ok(req) = parse_request(bytes) {
            let _ = req.is_upgrade();
            let _ = validate_request(&req, b"chat, superchat", None);
            let _ = validate_request(&req, b"", Some(b"http://example.com"));
        }
        if let Ok(resp) = parse_response(bytes) {
            let _ = validate_response(&resp, SAMPLE_KEY, b"chat");
            let _ = validate_response(&resp, SAMPLE_KEY, b"");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            exercise(&bytes);
        }

        #[test]
        fn near_valid_heads_never_panic(bytes in near_valid_head()) {
            exercise(&bytes);
        }

        #[test]
        fn written_response_parses_back(
            size in 0usize..300,
            key in any::<[u8; 24]>(),
            subprotocol in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        ) {
            let mut out = vec![0; size];
            let Ok(len) = write_response(&mut out, &key, subprotocol.as_deref(), b"") else {
                return Ok(());
            };
            let resp = parse_response(&out[..len]).unwrap();
            prop_assert_eq!(resp.subprotocol, subprotocol.as_deref().map(trim_ows));
            if subprotocol.is_none() {
                prop_assert_eq!(validate_response(&resp, &key, b""), Ok(None));
            }
        }

        #[test]
        fn written_request_with_any_fields_parses_back(
            size in 0usize..300,
            host in mostly_visible_bytes(),
            path in mostly_visible_bytes(),
            subprotocols in mostly_visible_bytes(),
            origin in proptest::option::of(mostly_visible_bytes()),
            port in any::<u16>(),
        ) {
            let mut out = vec![0; size];
            let Ok(len) = write_request(
                &mut out, &host, port, 80, &path, SAMPLE_KEY, &subprotocols, origin.as_deref(), b"",
            ) else {
                return Ok(());
            };
            let req = parse_request(&out[..len]).unwrap();
            prop_assert!(validate_request(&req, b"", None).is_ok());
        }

        #[test]
        fn written_request_parses_back(
            host in "([a-z0-9-]{1,20}(\\.[a-z0-9-]{1,10}){0,3}|\\[[0-9a-f:]{2,39}\\])",
            port in any::<u16>(),
            default_port in prop_oneof![Just(80u16), Just(443u16)],
            path in "(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]{0,30})?(\\?[A-Za-z0-9=&%/?-]{0,20})?",
            random in any::<[u8; 16]>(),
            subprotocols in "([A-Za-z0-9.!#$%&'*+^_`|~-]{1,10}(, ?[A-Za-z0-9._-]{1,10}){0,3})?",
            origin in proptest::option::of("https?://[a-z0-9.]{1,20}(:[0-9]{1,5})?"),
        ) {
            let key = client_key(&random);
            let mut out = [0; 1024];
            let len = write_request(
                &mut out, host.as_bytes(), port, default_port, path.as_bytes(), &key,
                subprotocols.as_bytes(), origin.as_deref().map(str::as_bytes), b"X-Extra: 1\r\n",
            ).unwrap();
            prop_assert_eq!(head_end(&out[..len]), Some(len));

            // An independent parse of the bytes.
            let mut fields = [httparse::EMPTY_HEADER; 16];
            let mut parsed = httparse::Request::new(&mut fields);
            prop_assert_eq!(parsed.parse(&out[..len]), Ok(httparse::Status::Complete(len)));
            let field = |name: &str| parsed.headers.iter().find(|h| h.name == name).map(|h| h.value);
            let expected_path = if path.starts_with('/') { path.clone() } else { format!("/{path}") };
            let expected_host = if port == default_port { host.clone() } else { format!("{host}:{port}") };
            prop_assert_eq!(parsed.method, Some("GET"));
            prop_assert_eq!(parsed.path, Some(expected_path.as_str()));
            prop_assert_eq!(parsed.version, Some(1));
            prop_assert_eq!(field("Host"), Some(expected_host.as_bytes()));
            prop_assert_eq!(field("Sec-WebSocket-Key"), Some(&key[..]));
            prop_assert_eq!(field("Sec-WebSocket-Version"), Some(&b"13"[..]));
            prop_assert_eq!(field("Sec-WebSocket-Protocol"), (!subprotocols.is_empty()).then_some(subprotocols.as_bytes()));
            prop_assert_eq!(field("Origin"), origin.as_deref().map(str::as_bytes));
            prop_assert_eq!(field("X-Extra"), Some(&b"1"[..]));

            // And our own server side accepts it, choosing the client's last offer.
            let req = parse_request(&out[..len]).unwrap();
            let last_offer = subprotocols.rsplit(',').next().unwrap_or("").trim();
            let accepted = validate_request(&req, last_offer.as_bytes(), origin.as_deref().map(str::as_bytes)).unwrap();
            prop_assert_eq!(accepted.key, &key[..]);
            prop_assert_eq!(accepted.subprotocol, (!last_offer.is_empty()).then_some(last_offer.as_bytes()));
        }
    }
}
