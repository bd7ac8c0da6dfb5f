//! HTTP/1.1 heads (RFC 9110, RFC 9112), sans-IO, for the opening handshake
//! and for plain HTTP answers on the same port:
//!
//! - [`parse_request_head`] / [`parse_response_head`]: the start line and
//!   the header fields of a complete head.
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
    matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
        || b.is_ascii_alphanumeric()
}

/// A field-value byte (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB.
const fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7F)
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
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) || !value.iter().all(|&b| is_field_byte(b)) {
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
