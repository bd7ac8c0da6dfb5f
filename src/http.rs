//! HTTP/1.1 heads (RFC 9110, RFC 9112), sans-IO, for the opening handshake
//! and for plain HTTP answers on the same port:
//!
//! - [`HeadReader`]: how many bytes may be read next without reading past
//!   the blank line that ends a head, and when a head is too long;
//! - [`parse_request_head`] / [`parse_response_head`]: the start line and
//!   the header fields of a complete head;
//! - [`joined_field`]: a request's fields as a dictionary holds them:
//!   lower-cased names, repeated fields joined with ", " (RFC 9110 §5.3);
//! - [`reason_phrase`]: the one table of reason phrases;
//! - [`write_response`] and [`write_refusal`]: a response head for
//!   `respond()`, and a complete plain-text error response;
//! - [`is_list_item`] and [`header_line`]: validation of what a script
//!   passes (subprotocols, origins, extra header fields).
//!
//! Nothing here allocates or can panic.

use crate::handshake::MAX_HEADERS;

/// Why a head could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Not a complete, well-formed HTTP/1.0 or HTTP/1.1 head.
    Malformed,
    /// More than [`MAX_HEADERS`] header fields.
    TooManyHeaders,
}

/// The header fields of a head, values trimmed of optional whitespace.
pub type Fields<'b> = heapless::Vec<(&'b str, &'b [u8]), MAX_HEADERS>;

/// A parsed request head.
#[derive(Debug)]
pub struct RequestHead<'b> {
    pub method: &'b str,
    pub target: &'b str,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    pub fields: Fields<'b>,
}

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead<'b> {
    pub minor_version: u8,
    pub status: u16,
    pub reason: &'b [u8],
    pub fields: Fields<'b>,
}

/// `tchar` (RFC 9110 §5.6.2).
pub const fn is_tchar(b: u8) -> bool {
    // One bit per ASCII byte: `!#$%&'*+-.^_`|~`, digits and letters (a
    // table is smaller than the comparisons).
    const TCHAR: [u32; 4] = {
        let mut set = [0u32; 4];
        let mut c = 0;
        while c < 128 {
            let b = c as u8;
            if matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
                || b.is_ascii_alphanumeric()
            {
                set[c / 32] |= 1 << (c % 32);
            }
            c += 1;
        }
        set
    };
    b < 128 && TCHAR[(b / 32) as usize] >> (b % 32) & 1 != 0
}

/// A field-value byte (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB.
const fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7F)
}

/// Whether `name: value` is a field line that cannot break a head: the
/// name a token (RFC 9110 §5.1), the value VCHAR, obs-text, SP and HTAB
/// (§5.5). One out-of-line check for the parser and both writers.
#[inline(never)]
fn is_field(name: &[u8], value: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_tchar(b)) && value.iter().all(|&b| is_field_byte(b))
}

/// `bytes` without leading and trailing SP and HTAB (RFC 9110 §5.6.3).
pub fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Lines of a head, each without its CRLF (a bare LF is accepted too, RFC
/// 9112 §2.2); a line with no end makes the head incomplete.
struct Lines<'b>(&'b [u8]);

impl<'b> Lines<'b> {
    fn next_line(&mut self) -> Result<&'b [u8], HeadError> {
        let end = self.0.iter().position(|&b| b == b'\n').ok_or(HeadError::Malformed)?;
        let (line, rest) = self.0.split_at_checked(end).ok_or(HeadError::Malformed)?;
        self.0 = rest.get(1..).unwrap_or(&[]);
        Ok(match line {
            [rest @ .., b'\r'] => rest,
            _ => line,
        })
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, HeadError> {
    core::str::from_utf8(bytes).map_err(|_| HeadError::Malformed)
}

/// "HTTP/1.0" or "HTTP/1.1": the minor version.
fn version(bytes: &[u8]) -> Result<u8, HeadError> {
    match bytes {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor @ (b'0' | b'1')] => Ok(minor - b'0'),
        _ => Err(HeadError::Malformed),
    }
}

/// The start line (after any empty lines, RFC 9112 §2.2), then the fields
/// up to the blank line.
fn split_head(buf: &[u8]) -> Result<(&[u8], Fields<'_>), HeadError> {
    let mut lines = Lines(buf);
    let mut start = lines.next_line()?;
    while start.is_empty() {
        start = lines.next_line()?;
    }
    let mut fields = Fields::new();
    loop {
        let line = lines.next_line()?;
        if line.is_empty() {
            return Ok((start, fields));
        }
        // No whitespace before the colon (RFC 9112 §5.1), no obs-fold.
        let colon = line.iter().position(|&b| b == b':').ok_or(HeadError::Malformed)?;
        let (name, value) = line.split_at_checked(colon).ok_or(HeadError::Malformed)?;
        let value = value.get(1..).unwrap_or(&[]);
        if !is_field(name, value) {
            return Err(HeadError::Malformed);
        }
        fields
            .push((utf8(name)?, trim_ows(value)))
            .map_err(|_| HeadError::TooManyHeaders)?;
    }
}

/// Parse a complete request head (bytes after its blank line are ignored).
pub fn parse_request_head(buf: &[u8]) -> Result<RequestHead<'_>, HeadError> {
    let (start, fields) = split_head(buf)?;
    let mut parts = start.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(v), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(HeadError::Malformed);
    };
    // request-target: no whitespace or control bytes (RFC 9112 §3.2).
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) || target.is_empty()
        || !target.iter().all(|&b| b > b' ' && b != 0x7F)
    {
        return Err(HeadError::Malformed);
    }
    Ok(RequestHead { method: utf8(method)?, target: utf8(target)?, minor_version: version(v)?, fields })
}

/// Parse a complete response head (bytes after its blank line, such as the
/// first frames, are ignored).
pub fn parse_response_head(buf: &[u8]) -> Result<ResponseHead<'_>, HeadError> {
    let (start, fields) = split_head(buf)?;
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]; the
    // second space is tolerated missing (RFC 9112 §4).
    let (v, rest) = start.split_at_checked(8).ok_or(HeadError::Malformed)?;
    let minor_version = version(v)?;
    let (code, reason) = match rest {
        [b' ', a, b, c] => ([*a, *b, *c], &[][..]),
        [b' ', a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        _ => return Err(HeadError::Malformed),
    };
    if !code.iter().all(u8::is_ascii_digit) || !reason.iter().all(|&b| is_field_byte(b)) {
        return Err(HeadError::Malformed);
    }
    let [a, b, c] = code.map(|d| u16::from(d - b'0'));
    Ok(ResponseHead { minor_version, status: a * 100 + b * 10 + c, reason, fields })
}

/// The statuses a device commonly answers with (RFC 9110 §15, RFC 6585 §5)
/// and their reason phrases, the n-th phrase after the n-th newline of
/// `REASONS`: one string and a table of codes take less flash than a
/// `match` of string slices.
const STATUSES: [u16; 16] = [101, 200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 426, 431, 500, 503];
const REASONS: &[u8] = b"Switching Protocols\nOK\nCreated\nNo Content\nMoved Permanently\nFound\nNot Modified\n\
Bad Request\nUnauthorized\nForbidden\nNot Found\nMethod Not Allowed\nUpgrade Required\n\
Request Header Fields Too Large\nInternal Server Error\nService Unavailable\n";

/// The reason phrase for `status`: one of the statuses above, empty for
/// the rest (RFC 9112 §4 allows it).
pub fn reason_phrase(status: u16) -> &'static str {
    let mut rest = REASONS;
    for &s in STATUSES.iter() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let (phrase, after) = rest.split_at(end);
        if s == status {
            // ASCII, so always UTF-8; the check costs less than an unsafe block.
            return core::str::from_utf8(phrase).unwrap_or("");
        }
        rest = after.get(1..).unwrap_or(&[]);
    }
    ""
}

/// Where a head being read stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadState {
    /// More bytes are needed: [`HeadReader::next_read`] says how many.
    Incomplete,
    /// The blank line arrived: the head is complete, nothing past it read.
    Complete,
    /// The limit was reached without the blank line (answer 431).
    TooLong,
}

/// Reads an HTTP head from a stream without reading a byte past its blank
/// line (frames may follow at once): each read asks for no more bytes than
/// could still belong to the "\r\n\r\n" that ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct HeadReader {
    /// Bytes of the head so far.
    pub len: usize,
    /// The most bytes a head may have.
    pub max: usize,
    /// How much of "\r\n\r\n" the last bytes matched.
    pub matched: u8,
}

impl HeadReader {
    /// A reader for a head of at most `max` bytes.
    pub const fn new(max: usize) -> Self {
        HeadReader { len: 0, max, matched: 0 }
    }

    pub const fn state(&self) -> HeadState {
        if self.matched >= 4 {
            HeadState::Complete
        } else if self.len >= self.max {
            HeadState::TooLong
        } else {
            HeadState::Incomplete
        }
    }

    /// How many bytes may be read next (0 once complete or too long).
    pub const fn next_read(&self) -> usize {
        match self.state() {
            HeadState::Incomplete => {
                let left = self.max - self.len;
                let rest = 4 - self.matched as usize;
                if left < rest {
                    left
                } else {
                    rest
                }
            }
            _ => 0,
        }
    }

    /// Take the bytes just read (at most [`next_read`](Self::next_read) of
    /// them are looked at).
    pub fn feed(&mut self, bytes: &[u8]) -> HeadState {
        for &b in bytes.iter().take(self.next_read()) {
            let expected = if self.matched % 2 == 0 { b'\r' } else { b'\n' };
            self.matched = if b == expected {
                self.matched + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
            self.len += 1;
        }
        self.state()
    }
}

/// The `index`-th distinct field of a head, as a dictionary of fields holds
/// it: the name lower-cased into `name_out`, and the values of every field
/// of that name (compared case-insensitively) joined with ", " into
/// `value_out` (RFC 9110 §5.3). Distinct names come in order of first
/// appearance. Returns the two lengths, or `None` past the last field (or
/// when an output is too small: buffers as long as the head always do).
pub fn joined_field(fields: &[(&str, &[u8])], index: usize, name_out: &mut [u8], value_out: &mut [u8]) -> Option<(usize, usize)> {
    let mut distinct = fields
        .iter()
        .enumerate()
        .filter(|(i, (name, _))| !fields.iter().take(*i).any(|(earlier, _)| earlier.eq_ignore_ascii_case(name)));
    let (_, (name, _)) = distinct.nth(index)?;
    let name_out = name_out.get_mut(..name.len())?;
    for (dst, src) in name_out.iter_mut().zip(name.bytes()) {
        *dst = src.to_ascii_lowercase();
    }
    let mut len = 0usize;
    for (_, value) in fields.iter().filter(|(other, _)| other.eq_ignore_ascii_case(name)) {
        let sep: &[u8] = if len == 0 { b"" } else { b", " };
        for part in [sep, value] {
            let end = len.checked_add(part.len())?;
            value_out.get_mut(len..end)?.copy_from_slice(part);
            len = end;
        }
    }
    Some((name.len(), len))
}

/// Whether `item` may be one element of a comma-separated list we send
/// (a subprotocol or an allowed origin): visible ASCII, no comma, not empty.
/// Subprotocols are tokens in RFC 6455 §4.1; an origin is a serialized
/// origin (RFC 6454 §6.2): both are visible ASCII without commas.
pub fn is_list_item(item: &[u8]) -> bool {
    !item.is_empty() && item.iter().all(|&b| b > b' ' && b < 0x7F && b != b',')
}

/// Write the header line `name: value\r\n` into `out` after checking it
/// cannot break the head: the name a token (RFC 9110 §5.1), the value free
/// of CR, LF and other control bytes but HTAB (§5.5). Returns the length,
/// `Err(Invalid)` for a bad field or `Err(NoRoom(n))` when `out` is shorter
/// than the `n` bytes needed.
pub fn header_line(name: &[u8], value: &[u8], out: &mut [u8]) -> Result<usize, WriteError> {
    if !is_field(name, value) {
        return Err(WriteError::Invalid);
    }
    let mut w = Writer::new(out);
    w.put(name);
    w.put(b": ");
    w.put(value);
    w.put(b"\r\n");
    w.finish()
}

/// Whether `lines` is a run of complete `name: value\r\n` lines as
/// [`header_line`] writes them.
pub fn is_header_lines(mut lines: &[u8]) -> bool {
    while !lines.is_empty() {
        let Some(end) = lines.windows(2).position(|w| w == b"\r\n") else {
            return false;
        };
        let (line, rest) = lines.split_at(end.min(lines.len()));
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return false;
        };
        let (name, value) = line.split_at(colon.min(line.len()));
        let value = value.get(1..).unwrap_or(&[]);
        if !is_field(name, value) {
            return false;
        }
        lines = rest.get(2..).unwrap_or(&[]);
    }
    true
}

/// Why a response could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// A status outside 100-999, or a field that would break the head.
    Invalid,
    /// `out` is too small: this many bytes are needed.
    NoRoom(usize),
}

/// Write a response head for `respond()` into `out`: the status line (the
/// reason from [`reason_phrase`]), `Content-Type`, the caller's extra
/// header lines (checked with [`is_header_lines`]), `Content-Length` and
/// `Connection: close` (the connection ends with the body: RFC 9112 §9.6).
/// The body is written by the caller after it. Returns the head's length.
pub fn write_response(out: &mut [u8], status: u16, content_type: &[u8], extra_lines: &[u8], body_len: usize) -> Result<usize, WriteError> {
    if !(100..=999).contains(&status)
        || content_type.is_empty()
        || !content_type.iter().all(|&b| is_field_byte(b))
        || !is_header_lines(extra_lines)
    {
        return Err(WriteError::Invalid);
    }
    let mut w = Writer::new(out);
    w.put(b"HTTP/1.1 ");
    w.decimal(status as usize);
    w.put(b" ");
    w.put(reason_phrase(status).as_bytes());
    w.put(b"\r\nContent-Type: ");
    w.put(content_type);
    w.put(b"\r\n");
    w.put(extra_lines);
    w.put(b"Content-Length: ");
    w.decimal(body_len);
    w.put(b"\r\nConnection: close\r\n\r\n");
    w.finish()
}

/// A complete refusal: [`write_response`] with `text/plain`, `extra_lines`
/// and `message` as the body.
pub fn write_refusal(out: &mut [u8], status: u16, extra_lines: &[u8], message: &[u8]) -> Result<usize, WriteError> {
    let head = match write_response(out, status, b"text/plain", extra_lines, message.len()) {
        Ok(n) => n,
        Err(WriteError::NoRoom(n)) => return Err(WriteError::NoRoom(n.saturating_add(message.len()))),
        Err(e) => return Err(e),
    };
    let mut w = Writer { out, len: head, needed: head };
    w.put(message);
    w.finish()
}

/// `n` in decimal without leading zeros: the end of `digits`. The one
/// number formatter of the core (HTTP heads of both roles use it).
#[inline(never)]
pub(crate) fn decimal(mut n: usize, digits: &mut [u8; 20]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    digits.get(start..).unwrap_or(&[])
}

/// Appends to a buffer, counting what would not fit so that the caller
/// learns the size needed.
struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
    needed: usize,
}

impl<'o> Writer<'o> {
    fn new(out: &'o mut [u8]) -> Self {
        Writer { out, len: 0, needed: 0 }
    }

    // Out of line: a head is written with a dozen calls, each an inlined
    // copy otherwise.
    #[inline(never)]
    fn put(&mut self, bytes: &[u8]) {
        let fits = self.len == self.needed;
        self.needed = self.needed.saturating_add(bytes.len());
        if !fits {
            return;
        }
        match self.out.get_mut(self.len..).and_then(|rest| rest.get_mut(..bytes.len())) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            // Nothing more is written once something did not fit.
            None => self.len = usize::MAX,
        }
    }

    #[inline]
    fn decimal(&mut self, n: usize) {
        let mut digits = [0u8; 20];
        self.put(decimal(n, &mut digits));
    }

    fn finish(self) -> Result<usize, WriteError> {
        if self.len == self.needed && self.len != usize::MAX {
            Ok(self.len)
        } else {
            Err(WriteError::NoRoom(self.needed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::{string::String, vec, vec::Vec};

    #[test]
    fn head_reader_never_reads_past_the_blank_line() {
        let stream = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81\x05hello";
        let mut reader = HeadReader::new(4096);
        let mut pos = 0;
        while reader.state() == HeadState::Incomplete {
            let n = reader.next_read();
            assert!(n > 0);
            reader.feed(&stream[pos..pos + n]);
            pos += n;
        }
        assert_eq!((reader.state(), pos), (HeadState::Complete, stream.len() - 7));
        assert_eq!(reader.next_read(), 0);
        // "\r\r\n\r\n" and a bare "\n\n" (not a terminator).
        let mut reader = HeadReader::new(100);
        assert_eq!(reader.feed(b"a\r"), HeadState::Incomplete);
        assert_eq!(reader.feed(b"\r\n\r\n"), HeadState::Incomplete, "only next_read() bytes are taken");
        assert_eq!(reader.feed(b"\n"), HeadState::Complete);
        let mut reader = HeadReader::new(100);
        assert_eq!(reader.feed(b"\n\n"), HeadState::Incomplete);
        // Too long.
        let mut reader = HeadReader::new(10);
        for _ in 0..10 {
            let n = reader.next_read();
            reader.feed(&b"xxxx"[..n]);
        }
        assert_eq!((reader.state(), reader.len), (HeadState::TooLong, 10));
    }

    #[test]
    fn repeated_fields_join_in_order() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\nX-A: 1\r\naccept:  y \r\nx-a: 2\r\n\r\n";
        let parsed = parse_request_head(head).unwrap();
        let mut name = [0u8; 64];
        let mut value = [0u8; 64];
        let mut got = Vec::new();
        let mut i = 0;
        while let Some((n, v)) = joined_field(&parsed.fields, i, &mut name, &mut value) {
            got.push((String::from_utf8(name[..n].to_vec()).unwrap(), String::from_utf8(value[..v].to_vec()).unwrap()));
            i += 1;
        }
        let expected: Vec<(String, String)> = [("host", "a"), ("accept", "x, y"), ("x-a", "1, 2")]
            .iter()
            .map(|(a, b)| (String::from(*a), String::from(*b)))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(joined_field(&parsed.fields, 1, &mut name, &mut value[..3]), None);
    }

    #[test]
    fn responses() {
        let mut out = [0u8; 256];
        let n = write_response(&mut out, 404, b"text/html", b"X-A: 1\r\n", 5).unwrap();
        assert_eq!(
            &out[..n],
            &b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nX-A: 1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"[..]
        );
        assert_eq!(write_response(&mut out[..10], 404, b"text/html", b"", 5), Err(WriteError::NoRoom(n - 8)));
        let n = write_response(&mut out, 299, b"a/b", b"", 0).unwrap();
        assert!(out[..n].starts_with(b"HTTP/1.1 299 \r\n"));
        for status in [0u16, 99, 1000] {
            assert_eq!(write_response(&mut out, status, b"a", b"", 0), Err(WriteError::Invalid));
        }
        for bad in [&b"X: 1\r\nY: 2"[..], b"X: 1\nY: 2\r\n", b": 1\r\n", b"X Y: 1\r\n", b"X: \x00\r\n", b"X\r\n"] {
            assert_eq!(write_response(&mut out, 200, b"a", bad, 0), Err(WriteError::Invalid), "{bad:?}");
        }
        assert_eq!(write_response(&mut out, 200, b"text/html\r\nX: y", b"", 0), Err(WriteError::Invalid));
        let n = write_refusal(&mut out, 403, b"", b"no").unwrap();
        assert!(out[..n].ends_with(b"Content-Length: 2\r\nConnection: close\r\n\r\nno"));
        assert!(out[..n].starts_with(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"));
        assert_eq!(write_refusal(&mut out[..n - 1], 403, b"", b"no"), Err(WriteError::NoRoom(n)));
    }

    #[test]
    fn header_lines_and_list_items() {
        let mut out = [0u8; 64];
        assert_eq!(header_line(b"X-Token", b"a b\tc", &mut out), Ok(16));
        assert_eq!(&out[..16], b"X-Token: a b\tc\r\n");
        assert_eq!(header_line(b"X-Token", b"a", &mut out[..5]), Err(WriteError::NoRoom(12)));
        for (name, value) in [(&b"X:Y"[..], &b"1"[..]), (b"X Y", b"1"), (b"", b"1"), (b"X", b"a\r\nY: b"), (b"X", b"\n")] {
            assert_eq!(header_line(name, value, &mut out), Err(WriteError::Invalid), "{name:?}");
        }
        assert!(is_list_item(b"chat.v2") && is_list_item(b"https://example.com:8080"));
        for bad in [&b""[..], b"a,b", b"a b", b"a\r", b"\x7f"] {
            assert!(!is_list_item(bad), "{bad:?}");
        }
        for status in [200u16, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 426, 431, 500, 503] {
            assert!(!reason_phrase(status).is_empty(), "{status}");
        }
    }

    fn head_strategy() -> impl Strategy<Value = Vec<u8>> {
        let field = ("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,8}", "[ \t]{0,2}", "[ -~\t]{0,12}");
        (
            "(GET|POST|PUT|[A-Z]{1,6})",
            "/[!-~]{0,20}",
            "HTTP/1\\.[01]",
            proptest::collection::vec(field, 0..40),
            proptest::bool::ANY,
        )
            .prop_map(|(method, target, version, fields, bare_lf)| {
                let eol = if bare_lf { "\n" } else { "\r\n" };
                let mut head = std::format!("{method} {target} {version}{eol}");
                for (name, ows, value) in fields {
                    head.push_str(&std::format!("{name}:{ows}{value}{eol}"));
                }
                head.push_str(eol);
                head.into_bytes()
            })
    }

    proptest! {
        #[test]
        fn request_heads_agree_with_httparse(head in head_strategy()) {
            let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut theirs = httparse::Request::new(&mut fields);
            let expected = theirs.parse(&head);
            let ours = parse_request_head(&head);
            match expected {
                Ok(httparse::Status::Complete(_)) => {
                    let ours = ours.unwrap();
                    prop_assert_eq!(Some(ours.method), theirs.method);
                    prop_assert_eq!(Some(ours.target), theirs.path);
                    prop_assert_eq!(Some(ours.minor_version), theirs.version);
                    prop_assert_eq!(ours.fields.len(), theirs.headers.len());
                    for ((name, value), h) in ours.fields.iter().zip(theirs.headers.iter()) {
                        prop_assert_eq!(*name, h.name);
                        prop_assert_eq!(*value, trim_ows(h.value));
                    }
                }
                Err(httparse::Error::TooManyHeaders) => prop_assert_eq!(ours.unwrap_err(), HeadError::TooManyHeaders),
                _ => prop_assert!(ours.is_err()),
            }
        }

        #[test]
        fn head_reader_stops_exactly_at_the_head_end(head in head_strategy(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut stream = head.clone();
            stream.extend_from_slice(&tail);
            let mut reader = HeadReader::new(1 << 16);
            let mut pos = 0;
            while reader.state() == HeadState::Incomplete && pos < stream.len() {
                let n = reader.next_read().min(stream.len() - pos);
                reader.feed(&stream[pos..pos + n]);
                pos += n;
            }
            match crate::handshake::head_end(&stream) {
                Some(end) => prop_assert_eq!((reader.state(), pos), (HeadState::Complete, end)),
                None => prop_assert_eq!(reader.state(), HeadState::Incomplete),
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), index in 0usize..40) {
            if let Ok(head) = parse_request_head(&bytes) {
                let mut name = vec![0u8; bytes.len()];
                let mut value = vec![0u8; bytes.len()];
                let _ = joined_field(&head.fields, index, &mut name, &mut value);
            }
            let _ = parse_response_head(&bytes);
            let mut out = vec![0u8; 300];
            let _ = write_response(&mut out, 200, &bytes, &bytes, bytes.len());
            let _ = is_header_lines(&bytes);
        }
    }
}
