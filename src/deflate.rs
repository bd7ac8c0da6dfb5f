//! Raw DEFLATE encoder (RFC 1951) for permessage-deflate (RFC 7692 §7.2.1),
//! streaming and without heap.
//!
//! LZ77 with one hash probe per position (a table of a few KB, not zlib's
//! chains: a device's messages are short and repetitive, and the probe
//! finds what repeats across them when the context is kept), greedy
//! parsing, fixed Huffman codes (§3.2.6), and a stored block (§3.2.4)
//! wherever that is shorter, so incompressible data grows by 5 bytes per
//! block at most. Matches never reach further back than the negotiated
//! window, `2^window_bits` bytes (RFC 7692 §7.1.2: the peer may demand as
//! little as 256).
//!
//! The output goes into host buffers of any size (down to one byte at a
//! time), so a large message can leave as fragments from a small fixed
//! buffer; the input may also come in pieces (a message sent in fragments
//! is one compressed stream, RFC 7692 §6.1). Each message ends as §7.2.1
//! asks: the bits of an empty stored block's header and the padding to a
//! byte boundary, without the `00 00 ff ff` of its LEN and NLEN, which the
//! receiver appends itself.
//!
//! Memory: [`DeflateState`] (40 bytes) plus [`work_len`] bytes the host gives
//! on each call (ring of twice the window, hash table, token buffer):
//!
//! | window_bits | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 |
//! |---|---|---|---|---|---|---|---|---|
//! | work bytes | 1,280 | 2,048 | 4,096 | 8,192 | 14,336 | 22,528 | 38,912 | 71,680 |

use crate::inflate::{DIST_BASE, DIST_EXTRA, LENGTH_BASE, LENGTH_EXTRA};

pub use crate::inflate::{MAX_WINDOW_BITS, MIN_WINDOW_BITS};

const fn clamp_bits(window_bits: u8) -> u8 {
    if window_bits < MIN_WINDOW_BITS {
        MIN_WINDOW_BITS
    } else if window_bits > MAX_WINDOW_BITS {
        MAX_WINDOW_BITS
    } else {
        window_bits
    }
}

/// The ring holds twice the window: the history a match may reach, and as
/// much again of input read ahead and of the block not yet written out.
const fn ring_len(window_bits: u8) -> usize {
    2 << clamp_bits(window_bits)
}

/// Hash table entries (u16 each): 256 for the smallest windows, 2048 from
/// 4 KiB up.
const fn hash_bits(window_bits: u8) -> u32 {
    let w = clamp_bits(window_bits) as u32;
    if w <= 9 {
        8
    } else if w >= 12 {
        11
    } else {
        w - 1
    }
}

/// Tokens per block (u32 each): a quarter of the window, 64 to 512.
const fn token_cap(window_bits: u8) -> usize {
    let n = (1usize << clamp_bits(window_bits)) / 4;
    if n < 64 {
        64
    } else if n > 512 {
        512
    } else {
        n
    }
}

/// Bytes of work memory the encoder needs for `window_bits` (8–15).
pub const fn work_len(window_bits: u8) -> usize {
    ring_len(window_bits) + (2 << hash_bits(window_bits)) + 4 * token_cap(window_bits)
}

/// The alignment the work memory needs (it holds u16 and u32 tables).
pub const WORK_ALIGN: usize = 4;

/// Why the encoder refused to run: the host's work memory is too small or
/// misaligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkError;

/// What one call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub consumed: usize,
    pub produced: usize,
    /// The message is complete: `finish` was given, all its input was
    /// taken, and every byte of it is in the output.
    pub done: bool,
}

/// A match token has this bit set, the length - 3 in bits 16–23 and the
/// distance - 1 in bits 0–15; a literal is its byte.
const MATCH: u32 = 1 << 31;

/// Where the writing out of a block stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Emit {
    /// Nothing to write: parsing goes on.
    Idle,
    /// A fixed-code block's header.
    FixedHeader,
    /// Its tokens from this index, then end-of-block.
    Fixed(u16),
    /// A stored block of the bytes [block_start, pos): header and lengths.
    StoredHeader,
    /// ...and its bytes, so many written.
    Stored(u16),
    /// The message's end: an empty stored block's header and padding.
    MessageEnd,
    /// The last bits of the message going out.
    Flush,
}

/// The encoder's state, apart from its work memory.
#[derive(Debug, Clone)]
pub struct DeflateState {
    window_bits: u8,
    /// Absolute positions in the stream (wrapping; the ring index is the
    /// position masked): the next byte to parse, the end of the input held,
    /// the first byte a match may refer to (after a reset), the first byte
    /// of the block being parsed.
    pos: u32,
    end: u32,
    history_start: u32,
    block_start: u32,
    tokens: u16,
    /// Cost of the parsed block in bits with the fixed code.
    fixed_bits: u32,
    emit: Emit,
    /// The block being closed is the message's last.
    closing: bool,
    /// Output bits not yet written, first bit lowest.
    bits: u64,
    nbits: u32,
}

impl DeflateState {
    /// An encoder whose matches stay within `2^window_bits` bytes (8–15,
    /// clamped). The work memory needs no initialisation.
    pub const fn new(window_bits: u8) -> Self {
        DeflateState {
            window_bits: clamp_bits(window_bits),
            pos: 0,
            end: 0,
            history_start: 0,
            block_start: 0,
            tokens: 0,
            fixed_bits: 0,
            emit: Emit::Idle,
            closing: false,
            bits: 0,
            nbits: 0,
        }
    }

    /// [`work_len`] for this state.
    pub const fn work_len(&self) -> usize {
        work_len(self.window_bits)
    }

    /// Forget the history (no context takeover, RFC 7692 §7.1.1): the next
    /// message refers to nothing before it. Call between messages only.
    pub fn reset_history(&mut self) {
        self.history_start = self.end;
        self.pos = self.end;
        self.block_start = self.end;
    }

    /// Whether a message is partly compressed (input taken, not all out).
    pub fn in_message(&self) -> bool {
        self.pos != self.block_start || self.end != self.pos || self.emit != Emit::Idle || self.nbits != 0
    }

    /// Compress `input` (the next bytes of the message) into `out`.
    /// `finish`: `input` is the end of the message; call again with the
    /// rest of `input` and more room until `done`. Without `finish`, all
    /// of `input` is eventually taken, but bytes are held back (to find
    /// matches across pieces) until more input or `finish` comes.
    pub fn deflate(&mut self, work: &mut [u8], input: &[u8], out: &mut [u8], finish: bool) -> Result<Progress, WorkError> {
        let (ring, rest) = work.split_at_mut_checked(ring_len(self.window_bits)).ok_or(WorkError)?;
        let (hash, rest) = rest.split_at_mut_checked(2 << hash_bits(self.window_bits)).ok_or(WorkError)?;
        let tokens = rest.get_mut(..4 * token_cap(self.window_bits)).ok_or(WorkError)?;
        let hash: &mut [u16] = bytemuck::try_cast_slice_mut(hash).map_err(|_| WorkError)?;
        let tokens: &mut [u32] = bytemuck::try_cast_slice_mut(tokens).map_err(|_| WorkError)?;
        let mut m = Mem { ring, hash, tokens };
        let mut io = Io { input, consumed: 0, out, produced: 0 };
        let done = self.step(&mut m, &mut io, finish);
        Ok(Progress { consumed: io.consumed, produced: io.produced, done })
    }

    fn window(&self) -> u32 {
        1 << self.window_bits
    }

    /// The longest match: 258 (§3.2.5), or half the window for the two
    /// smallest windows so that a block and its look-ahead fit the ring.
    fn max_match(&self) -> u32 {
        (self.window() / 2).min(258)
    }

    fn step(&mut self, m: &mut Mem<'_>, io: &mut Io<'_, '_>, finish: bool) -> bool {
        loop {
            if self.emit != Emit::Idle {
                let message_end = matches!(self.emit, Emit::MessageEnd | Emit::Flush);
                if !self.write_block(m, io) {
                    return false;
                }
                if message_end {
                    return true;
                }
                if self.closing {
                    self.closing = false;
                    self.emit = Emit::MessageEnd;
                }
                continue;
            }
            self.take_input(m, io);
            let all_in = finish && io.consumed == io.input.len();
            self.parse(m, all_in);
            let ended = all_in && self.pos == self.end;
            if ended && self.tokens == 0 && self.pos == self.block_start {
                self.emit = Emit::MessageEnd;
                continue;
            }
            let block_full = usize::from(self.tokens) >= m.tokens.len()
                || self.pos.wrapping_sub(self.block_start) >= self.window() / 2;
            if block_full || ended {
                self.closing = ended;
                self.close_block();
                continue;
            }
            // Everything given is taken; the rest waits for more input.
            return false;
        }
    }

    /// Copy input into the ring, up to a window's worth of look-ahead.
    fn take_input(&mut self, m: &mut Mem<'_>, io: &mut Io<'_, '_>) {
        let mask = m.ring.len().wrapping_sub(1);
        let room = self.window().saturating_sub(self.end.wrapping_sub(self.pos)) as usize;
        let from = io.input.get(io.consumed..).unwrap_or(&[]);
        let n = room.min(from.len());
        for &b in from.get(..n).unwrap_or(&[]) {
            if let Some(slot) = m.ring.get_mut(self.end as usize & mask) {
                *slot = b;
            }
            self.end = self.end.wrapping_add(1);
        }
        io.consumed += n;
    }

    /// Greedy LZ77 over the look-ahead into tokens; with less than a
    /// longest match left, only when the message's input is all in.
    fn parse(&mut self, m: &mut Mem<'_>, all_in: bool) {
        let mask = m.ring.len().wrapping_sub(1);
        let shift = 32 - hash_bits(self.window_bits);
        let byte = |ring: &[u8], p: u32| ring.get(p as usize & mask).copied().unwrap_or(0);
        let hash_at = |ring: &[u8], p: u32| -> usize {
            let v = u32::from(byte(ring, p)) | u32::from(byte(ring, p.wrapping_add(1))) << 8 | u32::from(byte(ring, p.wrapping_add(2))) << 16;
            (v.wrapping_mul(0x9E37_79B1) >> shift) as usize
        };
        let half = self.window() / 2;
        let max_match = self.max_match();
        while usize::from(self.tokens) < m.tokens.len() && self.pos.wrapping_sub(self.block_start) < half {
            let ahead = self.end.wrapping_sub(self.pos);
            if ahead == 0 || (!all_in && ahead < max_match) {
                return;
            }
            let mut token = u32::from(byte(m.ring, self.pos));
            let mut advance = 1;
            let mut cost = if token < 144 { 8 } else { 9 };
            if ahead >= 3 {
                let h = hash_at(m.ring, self.pos);
                let candidate = m.hash.get(h).copied().unwrap_or(0);
                if let Some(slot) = m.hash.get_mut(h) {
                    *slot = self.pos as u16;
                }
                let dist = u32::from((self.pos as u16).wrapping_sub(candidate));
                let reach = self.pos.wrapping_sub(self.history_start);
                if dist >= 1 && dist <= self.window() && dist <= reach {
                    let limit = ahead.min(max_match);
                    let from = self.pos.wrapping_sub(dist);
                    let mut len = 0;
                    while len < limit && byte(m.ring, from.wrapping_add(len)) == byte(m.ring, self.pos.wrapping_add(len)) {
                        len += 1;
                    }
                    // A 3-byte match far back costs more than its literals.
                    if len >= 4 || (len == 3 && dist <= 4096) {
                        token = MATCH | (len - 3) << 16 | (dist - 1);
                        advance = len;
                        cost = match_bits(len, dist);
                    }
                }
            }
            if let Some(slot) = m.tokens.get_mut(usize::from(self.tokens)) {
                *slot = token;
            }
            self.tokens += 1;
            self.fixed_bits += cost;
            // The positions a match covers go into the table too.
            for i in 1..advance {
                let p = self.pos.wrapping_add(i);
                if self.end.wrapping_sub(p) >= 3 {
                    let h = hash_at(m.ring, p);
                    if let Some(slot) = m.hash.get_mut(h) {
                        *slot = p as u16;
                    }
                }
            }
            self.pos = self.pos.wrapping_add(advance);
        }
    }

    /// Choose how the parsed block goes out: fixed codes, or stored when
    /// that is shorter (§3.2.4: 3 header bits, padding, LEN and NLEN).
    fn close_block(&mut self) {
        let raw = self.pos.wrapping_sub(self.block_start);
        let fixed = 3 + self.fixed_bits + 7;
        let stored = 3 + (8 - (self.nbits + 3) % 8) % 8 + 32 + 8 * raw;
        self.emit = if stored < fixed { Emit::StoredHeader } else { Emit::FixedHeader };
    }

    /// Flush whole bytes of the bit buffer into the output.
    fn flush_bits(&mut self, io: &mut Io<'_, '_>) {
        while self.nbits >= 8 {
            let Some(slot) = io.out.get_mut(io.produced) else {
                return;
            };
            *slot = self.bits as u8;
            self.bits >>= 8;
            self.nbits -= 8;
            io.produced += 1;
        }
    }

    fn put_bits(&mut self, value: u32, n: u32) {
        self.bits |= u64::from(value) << self.nbits;
        self.nbits += n;
    }

    fn pad_to_byte(&mut self) {
        self.nbits = (self.nbits + 7) & !7;
    }

    /// Write out what `emit` says; false when the output filled first.
    fn write_block(&mut self, m: &mut Mem<'_>, io: &mut Io<'_, '_>) -> bool {
        loop {
            self.flush_bits(io);
            if self.nbits > 32 {
                return false;
            }
            match self.emit {
                Emit::Idle => return true,
                Emit::FixedHeader => {
                    // BFINAL 0, BTYPE 01 (§3.2.3).
                    self.put_bits(0b010, 3);
                    self.emit = Emit::Fixed(0);
                }
                Emit::Fixed(index) => match m.tokens.get(usize::from(index)) {
                    Some(&token) if index < self.tokens => {
                        self.put_token(token);
                        self.emit = Emit::Fixed(index + 1);
                    }
                    _ => {
                        // End of block: symbol 256, seven zero bits.
                        self.put_bits(0, 7);
                        self.end_block();
                    }
                },
                Emit::StoredHeader => {
                    // Up to 42 bits go in at once: wait until the bits
                    // before them are out, or the 64-bit buffer overflows.
                    if self.nbits >= 8 {
                        return false;
                    }
                    // BFINAL 0, BTYPE 00, padding, LEN, NLEN (§3.2.4).
                    self.put_bits(0, 3);
                    self.pad_to_byte();
                    let len = self.pos.wrapping_sub(self.block_start) as u16;
                    self.put_bits(u32::from(len) | u32::from(!len) << 16, 32);
                    self.emit = Emit::Stored(0);
                }
                Emit::Stored(done) => {
                    if self.nbits != 0 {
                        return false;
                    }
                    let len = self.pos.wrapping_sub(self.block_start) as u16;
                    let mask = m.ring.len().wrapping_sub(1);
                    let mut done = done;
                    while done < len {
                        let Some(slot) = io.out.get_mut(io.produced) else {
                            self.emit = Emit::Stored(done);
                            return false;
                        };
                        *slot = m.ring.get(self.block_start.wrapping_add(u32::from(done)) as usize & mask).copied().unwrap_or(0);
                        io.produced += 1;
                        done += 1;
                    }
                    self.end_block();
                }
                Emit::MessageEnd => {
                    // §7.2.1: a sync flush's empty stored block, less its
                    // LEN and NLEN: BFINAL 0, BTYPE 00, padding.
                    self.put_bits(0, 3);
                    self.pad_to_byte();
                    self.emit = Emit::Flush;
                }
                Emit::Flush => {
                    if self.nbits != 0 {
                        return false;
                    }
                    self.emit = Emit::Idle;
                    return true;
                }
            }
        }
    }

    fn end_block(&mut self) {
        self.block_start = self.pos;
        self.tokens = 0;
        self.fixed_bits = 0;
        self.emit = Emit::Idle;
    }

    fn put_token(&mut self, token: u32) {
        if token & MATCH == 0 {
            let (code, len) = fixed_literal(token as u16);
            self.put_bits(code, len);
            return;
        }
        let length = ((token >> 16) & 0xFF) + 3;
        let dist = (token & 0xFFFF) + 1;
        let (li, lextra) = length_symbol(length);
        let (code, len) = fixed_literal(257 + li as u16);
        self.put_bits(code, len);
        let lbase = LENGTH_BASE.get(li).copied().map_or(0, u32::from);
        self.put_bits(length - lbase, lextra);
        let (di, dextra) = dist_symbol(dist);
        // Fixed distance codes are 5 bits (§3.2.6), sent first bit highest.
        self.put_bits(reverse(di as u32, 5), 5);
        let dbase = DIST_BASE.get(di).copied().map_or(0, u32::from);
        self.put_bits(dist - dbase, dextra);
    }
}

/// Work memory split by table.
struct Mem<'a> {
    ring: &'a mut [u8],
    hash: &'a mut [u16],
    tokens: &'a mut [u32],
}

struct Io<'i, 'o> {
    input: &'i [u8],
    consumed: usize,
    out: &'o mut [u8],
    produced: usize,
}

fn reverse(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// The fixed code of a literal/length symbol (§3.2.6), bit-reversed for
/// the LSB-first bit buffer, and its length.
fn fixed_literal(symbol: u16) -> (u32, u32) {
    let s = u32::from(symbol);
    match symbol {
        0..=143 => (reverse(0x30 + s, 8), 8),
        144..=255 => (reverse(0x190 + s - 144, 9), 9),
        256..=279 => (reverse(s - 256, 7), 7),
        _ => (reverse(0xC0 + s - 280, 8), 8),
    }
}

/// Index into LENGTH_BASE and extra bit count for a match length 3–258.
fn length_symbol(length: u32) -> (usize, u32) {
    let mut i = LENGTH_BASE.len();
    while i > 0 {
        i -= 1;
        if LENGTH_BASE.get(i).map_or(false, |&b| u32::from(b) <= length) {
            return (i, LENGTH_EXTRA.get(i).copied().map_or(0, u32::from));
        }
    }
    (0, 0)
}

/// Index into DIST_BASE and extra bit count for a distance 1–32768.
fn dist_symbol(dist: u32) -> (usize, u32) {
    let mut i = DIST_BASE.len();
    while i > 0 {
        i -= 1;
        if DIST_BASE.get(i).map_or(false, |&b| u32::from(b) <= dist) {
            return (i, DIST_EXTRA.get(i).copied().map_or(0, u32::from));
        }
    }
    (0, 0)
}

/// Bits a match costs with the fixed code.
fn match_bits(length: u32, dist: u32) -> u32 {
    let (li, lextra) = length_symbol(length);
    let (_, dextra) = dist_symbol(dist);
    let code = if li + 257 < 280 { 7 } else { 8 };
    code + lextra + 5 + dextra
}

#[cfg(test)]
pub(crate) mod tests;
