//! Close status codes (RFC 6455 §7.4).

/// A close status code as carried in the first two bytes of a Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page closed).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a Close frame (never sent).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type (bad UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1011: the server hit an unexpected condition (also: keepalive timeout).
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);

    /// Whether this code may appear in a Close frame on the wire (§7.4.1,
    /// §7.4.2 and the IANA registry): 1000–1003 and 1007–1014 are defined,
    /// 3000–4999 belong to libraries and applications. 1004 is reserved,
    /// 1005, 1006 and 1015 must never be sent, and everything else below
    /// 3000 is unassigned.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}
