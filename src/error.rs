//! Protocol errors. Each one is a reason to fail the connection (§7.1.7) and
//! carries the close code the failure is reported with.

use crate::close::CloseCode;

/// Why the core failed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ProtocolError {
    /// A client sent an unmasked frame (§5.1: a server must fail it).
    UnmaskedFrame = 1,
    /// A server sent a masked frame (§5.1: a client must fail it).
    MaskedFrame,
    /// RSV1–3 set although no extension was negotiated (§5.2).
    ReservedBits,
    /// Opcode 3–7 or 0xB–0xF (§5.2).
    ReservedOpcode,
    /// A control frame with more than 125 bytes of payload (§5.5).
    ControlFrameTooLong,
    /// A control frame without FIN (§5.5: control frames are never fragmented).
    FragmentedControlFrame,
    /// A continuation frame with no fragmented message to continue (§5.4).
    UnexpectedContinuation,
    /// A new text or binary frame inside a fragmented message (§5.4).
    ExpectedContinuation,
    /// A 64-bit length with its most significant bit set, or a length not
    /// in its minimal encoding (§5.2).
    BadLength,
    /// Text that is not UTF-8 (§8.1).
    InvalidUtf8,
    /// A Close frame with a one-byte payload (§5.5.1).
    BadClosePayload,
    /// A close code that must not appear on the wire (§7.4).
    InvalidCloseCode,
    /// A close reason that is not UTF-8 (§5.5.1).
    InvalidCloseReason,
    /// A frame longer than the configured maximum frame size.
    FrameTooBig,
    /// A message longer than the configured maximum message size.
    MessageTooBig,
    /// A frame arrived after the peer's Close frame (§5.5.1).
    DataAfterClose,
    /// A compressed message that is not valid DEFLATE data (RFC 7692
    /// §7.2.2), or a distance beyond the negotiated window. 1007: the
    /// payload does not match its type, as Node's `ws` answers too.
    BadCompressedData,
}

impl ProtocolError {
    /// The close code this failure is reported to the peer with.
    pub const fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason | ProtocolError::BadCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooBig | ProtocolError::MessageTooBig => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short description for the exception a script sees.
    pub const fn message(self) -> &'static str {
        match self {
            ProtocolError::UnmaskedFrame => "unmasked frame from client",
            ProtocolError::MaskedFrame => "masked frame from server",
            ProtocolError::ReservedBits => "reserved bits set",
            ProtocolError::ReservedOpcode => "reserved opcode",
            ProtocolError::ControlFrameTooLong => "control frame longer than 125 bytes",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::UnexpectedContinuation => "continuation frame without a message",
            ProtocolError::ExpectedContinuation => "new message inside a fragmented message",
            ProtocolError::BadLength => "invalid payload length encoding",
            ProtocolError::InvalidUtf8 => "invalid UTF-8 in text message",
            ProtocolError::BadClosePayload => "close frame with a 1-byte payload",
            ProtocolError::InvalidCloseCode => "invalid close code",
            ProtocolError::InvalidCloseReason => "invalid UTF-8 in close reason",
            ProtocolError::FrameTooBig => "frame exceeds the size limit",
            ProtocolError::MessageTooBig => "message exceeds the size limit",
            ProtocolError::DataAfterClose => "frame received after close",
            ProtocolError::BadCompressedData => "invalid compressed data",
        }
    }
}
