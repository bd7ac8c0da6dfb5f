//! Raw DEFLATE decoder (RFC 1951) for permessage-deflate (RFC 7692 §7.2.2),
//! streaming and without heap.
//!
//! [`InflateState`] is a resumable state machine: [`InflateState::inflate`]
//! takes any piece of the compressed stream and any amount of output space,
//! and stops where either runs out, keeping everything it needs to go on
//! (a Huffman symbol is only taken once all its bits, extra bits included,
//! are there, so no symbol is ever half-read). The LZ77 window is memory
//! the host passes in on each call, `2^window_bits` bytes, so that one block
//! per connection holds state and window together (see `ffi.rs`) and the
//! window can be released between messages when there is no context
//! takeover (RFC 7692 §7.1.1).
//!
//! RAM: `size_of::<InflateState>()` (2,088 bytes on a 64-bit host; the
//! tables are arrays of u8/u16, so about the same on a 32-bit device) plus
//! the window, `2^max(window_bits, 9)` bytes: 9 → 2.6 KB in all,
//! 10 → 3.1 KB, 11 → 4.1 KB, 12 → 6.2 KB, 13 → 10.3 KB, 14 → 18.5 KB,
//! 15 → 34.9 KB. A window of 8 bits is given 9: zlib never emits a
//! 256-byte window (its deflate turns 8 into 9), and RFC 7692 §7.1.2.2
//! lets a peer ask for 8, so its distances may reach 512.
//!
//! Errors are values: a distance beyond the window or the history so far,
//! code lengths that do not form a prefix code, a stored block whose NLEN
//! is not the complement of LEN, reserved block types and symbols.

/// Window sizes RFC 7692 §7.1.2 allows on the wire.
pub const MIN_WINDOW_BITS: u8 = 8;
pub const MAX_WINDOW_BITS: u8 = 15;

/// The window the decoder keeps for a negotiated `window_bits` (see the
/// module comment: 8 is given 9).
pub const fn window_size(window_bits: u8) -> usize {
    let bits = if window_bits < 9 {
        9
    } else if window_bits > MAX_WINDOW_BITS {
        MAX_WINDOW_BITS
    } else {
        window_bits
    };
    1 << bits
}

/// Why a compressed stream is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// BTYPE 11 (RFC 1951 §3.2.3).
    ReservedBlockType,
    /// A stored block whose NLEN is not the one's complement of LEN (§3.2.4).
    StoredLength,
    /// Code lengths that over-subscribe the code space or leave it
    /// incomplete, or a repeat with nothing to repeat or past the end
    /// (§3.2.7), or no code for end-of-block.
    CodeLengths,
    /// A code that matches no symbol, or length symbol 286–287 or distance
    /// symbol 30–31 (§3.2.5).
    InvalidSymbol,
    /// A distance beyond the window or before the start of the history.
    DistanceTooFar,
    /// The message ended inside a block (RFC 7692 §7.2.2: after the appended
    /// empty stored block the stream must be between blocks).
    Truncated,
    /// The host's window is smaller than the state was set up for.
    Window,
}

impl InflateError {
    pub const fn message(self) -> &'static str {
        match self {
            InflateError::ReservedBlockType => "invalid deflate block type",
            InflateError::StoredLength => "invalid deflate stored block length",
            InflateError::CodeLengths => "invalid deflate code lengths",
            InflateError::InvalidSymbol => "invalid deflate code",
            InflateError::DistanceTooFar => "deflate distance too far back",
            InflateError::Truncated => "truncated deflate stream",
            InflateError::Window => "deflate window too small",
        }
    }
}

/// Why [`InflateState::inflate`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// All the input was taken and everything it holds is decoded: give
    /// more input (or end the message).
    NeedInput,
    /// The output space is full; input may be left over.
    OutputFull,
    /// A block with BFINAL set ended: the stream is over and the rest of the
    /// input is ignored (RFC 7692 §7.2.3.3 allows a sender to end each
    /// message this way).
    Done,
}

/// What one call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub consumed: usize,
    pub produced: usize,
    pub status: Status,
}

/// Literal/length alphabet (RFC 1951 §3.2.5): 0–285 used, 286–287 only in
/// the fixed code's table.
const LITLEN_SYMBOLS: usize = 288;
const DIST_SYMBOLS: usize = 32;
/// Codes up to this many bits decode with one table look-up; longer ones
/// (rare: the fixed code's 9-bit literals and long dynamic codes) bit by bit.
const FAST_BITS: u32 = 9;
const MAX_CODE_BITS: usize = 15;

/// Base lengths and extra bits of length symbols 257–285 (§3.2.5).
pub(crate) const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
pub(crate) const LENGTH_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
/// Base distances and extra bits of distance symbols 0–29 (§3.2.5).
pub(crate) const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
pub(crate) const DIST_EXTRA: [u8; 30] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/// The order code length code lengths are sent in (§3.2.7).
const CLEN_ORDER: [u8; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// A canonical Huffman code (§3.2.2): how many codes of each length and
/// the symbols in code order, plus a table for the short codes.
#[derive(Debug, Clone)]
struct Huffman<const N: usize, const FAST: usize> {
    counts: [u16; MAX_CODE_BITS + 1],
    symbols: [u16; N],
    /// Indexed by the next bits of input (first bit lowest): symbol << 4 |
    /// code length, 0 where no code of up to FAST bits starts so.
    fast: [u16; FAST],
}

impl<const N: usize, const FAST: usize> Huffman<N, FAST> {
    const fn new() -> Self {
        Huffman { counts: [0; MAX_CODE_BITS + 1], symbols: [0; N], fast: [0; FAST] }
    }

    /// Build from code lengths (0: symbol unused). `incomplete_ok`: a code
    /// with a single one-bit code is allowed (§3.2.7 allows one distance
    /// code; zlib accepts it for both alphabets); an empty code decodes
    /// nothing.
    fn build(&mut self, lengths: &[u8]) -> Result<(), InflateError> {
        build_code(&mut self.counts, &mut self.symbols, &mut self.fast, lengths)
    }

    /// Decode one symbol from the low `nbits` of `bits` without taking it:
    /// `Ok(None)` when more bits are needed.
    #[inline]
    fn decode(&self, bits: u64, nbits: u32) -> Result<Option<(u16, u32)>, InflateError> {
        if FAST > 1 {
            let entry = self.fast.get(bits as usize & (FAST - 1)).copied().unwrap_or(0);
            if entry != 0 {
                let len = u32::from(entry & 15);
                return Ok(if len <= nbits { Some((entry >> 4, len)) } else { None });
            }
        }
        // Bit by bit through the canonical code (as in zlib's puff.c).
        let mut code: i32 = 0;
        let mut first: i32 = 0;
        let mut index: i32 = 0;
        for len in 1..=MAX_CODE_BITS as u32 {
            if len > nbits {
                return Ok(None);
            }
            code |= ((bits >> (len - 1)) & 1) as i32;
            let count = i32::from(self.counts[len as usize]);
            if code - first < count {
                let i = (index + code - first) as usize;
                return match self.symbols.get(i) {
                    Some(&s) => Ok(Some((s, len))),
                    None => Err(InflateError::InvalidSymbol),
                };
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(InflateError::InvalidSymbol)
    }
}

/// [`Huffman::build`] for every alphabet: one copy of the code rather than
/// one per table size. Its loops run over code lengths, which index
/// `counts`.
#[inline(never)]
#[allow(clippy::needless_range_loop)]
fn build_code(
    counts: &mut [u16; MAX_CODE_BITS + 1],
    symbols: &mut [u16],
    fast: &mut [u16],
    lengths: &[u8],
) -> Result<(), InflateError> {
    *counts = [0; MAX_CODE_BITS + 1];
    for &len in lengths {
        if let Some(c) = counts.get_mut(usize::from(len)) {
            *c += 1;
        }
    }
    counts[0] = 0;
    // §3.2.2: over-subscribed or incomplete sets are not prefix codes.
    let mut left: i32 = 1;
    let mut max_len = 0;
    for len in 1..=MAX_CODE_BITS {
        left = (left << 1) - i32::from(counts[len]);
        if left < 0 {
            return Err(InflateError::CodeLengths);
        }
        if counts[len] != 0 {
            max_len = len;
        }
    }
    let used: u16 = counts.iter().sum();
    if left > 0 && used != 0 && !(used == 1 && max_len == 1) {
        return Err(InflateError::CodeLengths);
    }
    // Symbols sorted by code length, then by value (canonical order).
    let mut offsets = [0u16; MAX_CODE_BITS + 2];
    for len in 1..=MAX_CODE_BITS {
        offsets[len + 1] = offsets[len] + counts[len];
    }
    for (symbol, &len) in lengths.iter().enumerate() {
        if len == 0 {
            continue;
        }
        if let Some(off) = offsets.get_mut(usize::from(len)) {
            if let Some(slot) = symbols.get_mut(usize::from(*off)) {
                *slot = symbol as u16;
            }
            *off += 1;
        }
    }
    // The fast table: each short code, bit-reversed (codes are sent
    // first bit highest, §3.1.1), fills every entry it prefixes.
    fast.fill(0);
    let mut code: u32 = 0;
    let mut index = 0usize;
    for len in 1..=MAX_CODE_BITS as u32 {
        for _ in 0..counts[len as usize] {
            if len <= FAST_BITS && fast.len() > 1 {
                let symbol = symbols.get(index).copied().unwrap_or(0);
                let reversed = (code.reverse_bits() >> (32 - len)) as usize;
                let mut i = reversed;
                while i < fast.len() {
                    if let Some(e) = fast.get_mut(i) {
                        *e = symbol << 4 | len as u16;
                    }
                    i += 1 << len;
                }
            }
            code += 1;
            index += 1;
        }
        code <<= 1;
    }
    Ok(())
}

/// Where the decoder stands in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between blocks: the next 3 bits are BFINAL and BTYPE.
    BlockHeader,
    /// Stored block: LEN and NLEN next (after the byte boundary).
    StoredLength,
    /// Stored block: this many bytes still to copy.
    Stored(u16),
    /// Dynamic block header: HLIT, HDIST, HCLEN.
    DynamicCounts,
    /// Reading code length code lengths: this many read so far.
    CodeLengthCode(u8),
    /// Reading literal/length and distance code lengths: so many so far.
    CodeLengths(u16),
    /// Inside a Huffman-coded block.
    Huffman,
    /// A block with BFINAL ended.
    Done,
}

/// The decoder's state, apart from the window (see the module comment).
#[derive(Debug, Clone)]
pub struct InflateState {
    mode: Mode,
    final_block: bool,
    /// Unused input bits, first bit lowest, and how many there are.
    bits: u64,
    nbits: u32,
    window_bits: u8,
    /// Where the next byte goes in the window (mod its size), and how many
    /// bytes of history the window holds (at most its size).
    pos: u32,
    history: u32,
    /// A match being copied out: bytes left, and its distance.
    copy_len: u16,
    copy_dist: u16,
    /// Whether the tables hold the fixed code (§3.2.6), so that a stream of
    /// fixed blocks builds them once.
    tables_fixed: bool,
    /// Dynamic header fields: HLIT + 257, HDIST + 1, HCLEN + 4.
    hlit: u16,
    hdist: u8,
    hclen: u8,
    /// Code lengths being read for a dynamic block (literal/length, then
    /// distance, §3.2.7), and the code length code's own lengths.
    lengths: [u8; LITLEN_SYMBOLS + DIST_SYMBOLS],
    litlen: Huffman<LITLEN_SYMBOLS, { 1 << FAST_BITS }>,
    /// The distance code, and while a dynamic header is read the code
    /// length code (19 symbols).
    dist: Huffman<DIST_SYMBOLS, 1>,
}

impl InflateState {
    /// A decoder for a window of `window_bits` (8–15; clamped).
    pub const fn new(window_bits: u8) -> Self {
        let window_bits = if window_bits < 9 {
            9
        } else if window_bits > MAX_WINDOW_BITS {
            MAX_WINDOW_BITS
        } else {
            window_bits
        };
        InflateState {
            mode: Mode::BlockHeader,
            final_block: false,
            bits: 0,
            nbits: 0,
            window_bits,
            pos: 0,
            history: 0,
            copy_len: 0,
            copy_dist: 0,
            tables_fixed: false,
            hlit: 0,
            hdist: 0,
            hclen: 0,
            lengths: [0; LITLEN_SYMBOLS + DIST_SYMBOLS],
            litlen: Huffman::new(),
            dist: Huffman::new(),
        }
    }

    /// The window bytes this state needs on each call.
    pub const fn window_len(&self) -> usize {
        1 << self.window_bits
    }

    /// Forget the history (no context takeover, RFC 7692 §7.1.1): the next
    /// message may not refer to this one. The window's bytes need not be
    /// kept, nor even the same memory.
    pub fn reset_history(&mut self) {
        self.pos = 0;
        self.history = 0;
    }

    /// Whether the stream stands between blocks with nothing pending: where
    /// a message must end once its tail is decoded (RFC 7692 §7.2.2), or
    /// after a final block.
    pub fn at_message_boundary(&self) -> bool {
        match self.mode {
            Mode::Done => true,
            Mode::BlockHeader => self.nbits == 0 && self.copy_len == 0,
            _ => false,
        }
    }

    /// End a message (after its tail went through): checks that it ended
    /// between blocks, then readies the state for the next message
    /// (keeping the history, or not: `keep_history`).
    pub fn end_message(&mut self, keep_history: bool) -> Result<(), InflateError> {
        let ok = self.at_message_boundary();
        self.mode = Mode::BlockHeader;
        self.bits = 0;
        self.nbits = 0;
        self.copy_len = 0;
        self.final_block = false;
        if !keep_history {
            self.reset_history();
        }
        if ok {
            Ok(())
        } else {
            Err(InflateError::Truncated)
        }
    }

    /// Decode from `input` into `out`, as far as either goes; `window` is
    /// the host's [`window_len`](Self::window_len) bytes, the same ones
    /// (or, after [`reset_history`](Self::reset_history), any) on every
    /// call. After an error the state is unusable until [`InflateState::new`].
    pub fn inflate(&mut self, window: &mut [u8], input: &[u8], out: &mut [u8]) -> Result<Progress, InflateError> {
        let window = window.get_mut(..self.window_len()).ok_or(InflateError::Window)?;
        let mut run = Run { input, consumed: 0, out, produced: 0 };
        let status = self.run(window, &mut run)?;
        Ok(Progress { consumed: run.consumed, produced: run.produced, status })
    }

    fn refill(&mut self, run: &mut Run<'_, '_>) {
        while self.nbits <= 56 {
            let Some(&b) = run.input.get(run.consumed) else {
                break;
            };
            self.bits |= u64::from(b) << self.nbits;
            self.nbits += 8;
            run.consumed += 1;
        }
    }

    fn take(&mut self, n: u32) {
        self.bits = self.bits.checked_shr(n).unwrap_or(0);
        self.nbits = self.nbits.saturating_sub(n);
    }

    fn run(&mut self, window: &mut [u8], run: &mut Run<'_, '_>) -> Result<Status, InflateError> {
        loop {
            match self.mode {
                Mode::Done => {
                    run.consumed = run.input.len();
                    return Ok(Status::Done);
                }
                Mode::BlockHeader => {
                    self.refill(run);
                    if self.nbits < 3 {
                        return Ok(Status::NeedInput);
                    }
                    self.final_block = self.bits & 1 != 0;
                    let btype = (self.bits >> 1) & 3;
                    self.take(3);
                    self.mode = match btype {
                        0 => {
                            // §3.2.4: skip to the byte boundary.
                            self.take(self.nbits & 7);
                            Mode::StoredLength
                        }
                        1 => {
                            if !self.tables_fixed {
                                self.build_fixed()?;
                            }
                            Mode::Huffman
                        }
                        2 => Mode::DynamicCounts,
                        _ => return Err(InflateError::ReservedBlockType),
                    };
                }
                Mode::StoredLength => {
                    self.refill(run);
                    if self.nbits < 32 {
                        return Ok(Status::NeedInput);
                    }
                    let len = self.bits as u16;
                    let nlen = (self.bits >> 16) as u16;
                    self.take(32);
                    if len != !nlen {
                        return Err(InflateError::StoredLength);
                    }
                    self.mode = Mode::Stored(len);
                }
                Mode::Stored(0) => self.end_block(),
                Mode::Stored(left) => {
                    if run.produced >= run.out.len() {
                        return Ok(Status::OutputFull);
                    }
                    // Whole bytes already in the bit buffer come first.
                    let mut left = left;
                    while left > 0 && self.nbits >= 8 && run.produced < run.out.len() {
                        let b = self.bits as u8;
                        self.take(8);
                        self.put(window, run, b);
                        left -= 1;
                    }
                    let from = run.input.get(run.consumed..).unwrap_or(&[]);
                    let space = run.out.len().saturating_sub(run.produced);
                    let n = usize::from(left).min(from.len()).min(space);
                    for &b in from.get(..n).unwrap_or(&[]) {
                        self.put(window, run, b);
                    }
                    run.consumed += n;
                    left -= n as u16;
                    self.mode = Mode::Stored(left);
                    if left > 0 && run.produced < run.out.len() {
                        return Ok(Status::NeedInput);
                    }
                }
                Mode::DynamicCounts => {
                    self.refill(run);
                    if self.nbits < 14 {
                        return Ok(Status::NeedInput);
                    }
                    self.hlit = (self.bits & 31) as u16 + 257;
                    self.hdist = ((self.bits >> 5) & 31) as u8 + 1;
                    self.hclen = ((self.bits >> 10) & 15) as u8 + 4;
                    self.take(14);
                    // §3.2.7: HLIT of 286–287 and HDIST of 31–32 name
                    // symbols that never occur (zlib refuses them too).
                    if self.hlit > 286 || self.hdist > 30 {
                        return Err(InflateError::CodeLengths);
                    }
                    self.lengths = [0; LITLEN_SYMBOLS + DIST_SYMBOLS];
                    self.tables_fixed = false;
                    self.mode = Mode::CodeLengthCode(0);
                }
                Mode::CodeLengthCode(read) => {
                    if read >= self.hclen {
                        let mut clens = [0u8; 19];
                        for (i, &symbol) in CLEN_ORDER.iter().enumerate() {
                            if let (Some(dst), Some(&len)) = (clens.get_mut(usize::from(symbol)), self.lengths.get(i)) {
                                *dst = len;
                            }
                        }
                        self.dist.build(&clens)?;
                        // The code length code must be complete (zlib).
                        if self.dist.counts.iter().sum::<u16>() == 1 && self.dist.counts[1] == 1 {
                            return Err(InflateError::CodeLengths);
                        }
                        self.lengths = [0; LITLEN_SYMBOLS + DIST_SYMBOLS];
                        self.mode = Mode::CodeLengths(0);
                        continue;
                    }
                    self.refill(run);
                    if self.nbits < 3 {
                        return Ok(Status::NeedInput);
                    }
                    if let Some(slot) = self.lengths.get_mut(usize::from(read)) {
                        *slot = (self.bits & 7) as u8;
                    }
                    self.take(3);
                    self.mode = Mode::CodeLengthCode(read + 1);
                }
                Mode::CodeLengths(read) => {
                    let total = self.hlit + u16::from(self.hdist);
                    if read >= total {
                        self.build_dynamic()?;
                        self.mode = Mode::Huffman;
                        continue;
                    }
                    self.refill(run);
                    let Some((symbol, len)) = self.dist.decode(self.bits, self.nbits)? else {
                        return Ok(Status::NeedInput);
                    };
                    let (extra, base) = match symbol {
                        0..=15 => (0, 1),
                        16 => (2, 3),
                        17 => (3, 3),
                        _ => (7, 11),
                    };
                    if len + extra > self.nbits {
                        return Ok(Status::NeedInput);
                    }
                    let repeat = base + ((self.bits >> len) & ((1 << extra) - 1)) as u16;
                    let value = match symbol {
                        0..=15 => symbol as u8,
                        // §3.2.7: 16 repeats the previous length; there must be one.
                        16 => match read.checked_sub(1).and_then(|i| self.lengths.get(usize::from(i))) {
                            Some(&prev) => prev,
                            None => return Err(InflateError::CodeLengths),
                        },
                        _ => 0,
                    };
                    if read + repeat > total {
                        return Err(InflateError::CodeLengths);
                    }
                    for slot in self.lengths.get_mut(usize::from(read)..usize::from(read + repeat)).unwrap_or(&mut []) {
                        *slot = value;
                    }
                    self.take(len + extra);
                    self.mode = Mode::CodeLengths(read + repeat);
                }
                Mode::Huffman => match self.huffman(window, run)? {
                    Some(status) => return Ok(status),
                    None => self.end_block(),
                },
            }
        }
    }

    fn end_block(&mut self) {
        self.mode = if self.final_block { Mode::Done } else { Mode::BlockHeader };
    }

    fn build_fixed(&mut self) -> Result<(), InflateError> {
        // §3.2.6.
        let mut lengths = [0u8; LITLEN_SYMBOLS];
        for (i, l) in lengths.iter_mut().enumerate() {
            *l = match i {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        self.litlen.build(&lengths)?;
        // Distance codes 30-31 take part in the code but never occur (§3.2.6).
        self.dist.build(&[5; 32])?;
        self.tables_fixed = true;
        Ok(())
    }

    fn build_dynamic(&mut self) -> Result<(), InflateError> {
        let hlit = usize::from(self.hlit);
        let total = hlit + usize::from(self.hdist);
        let (lit, dist) = self.lengths.split_at(hlit.min(LITLEN_SYMBOLS));
        // §3.2.5: a block without an end-of-block code could never end.
        if lit.get(256).copied().unwrap_or(0) == 0 {
            return Err(InflateError::CodeLengths);
        }
        self.litlen.build(lit)?;
        self.dist.build(dist.get(..total - hlit).unwrap_or(&[]))?;
        Ok(())
    }

    #[inline]
    fn put(&mut self, window: &mut [u8], run: &mut Run<'_, '_>, b: u8) {
        let mask = window.len().wrapping_sub(1);
        if let Some(w) = window.get_mut(self.pos as usize & mask) {
            *w = b;
        }
        if let Some(o) = run.out.get_mut(run.produced) {
            *o = b;
        }
        run.produced += 1;
        self.pos = self.pos.wrapping_add(1);
        if (self.history as usize) < window.len() {
            self.history += 1;
        }
    }

    /// Copy as much of the pending match as fits.
    fn copy_match(&mut self, window: &mut [u8], run: &mut Run<'_, '_>) {
        let space = run.out.len().saturating_sub(run.produced);
        let n = usize::from(self.copy_len).min(space);
        let mask = window.len().wrapping_sub(1);
        let dist = usize::from(self.copy_dist);
        let out = run.out.get_mut(run.produced..run.produced + n).unwrap_or(&mut []);
        let mut pos = self.pos as usize;
        for o in out.iter_mut() {
            let b = window.get(pos.wrapping_sub(dist) & mask).copied().unwrap_or(0);
            if let Some(w) = window.get_mut(pos & mask) {
                *w = b;
            }
            *o = b;
            pos = pos.wrapping_add(1);
        }
        self.pos = pos as u32;
        self.history = (self.history as usize + n).min(window.len()) as u32;
        run.produced += n;
        self.copy_len -= n as u16;
    }

    /// Decode a Huffman block until it ends (`None`) or input or output runs
    /// out.
    fn huffman(&mut self, window: &mut [u8], run: &mut Run<'_, '_>) -> Result<Option<Status>, InflateError> {
        loop {
            if self.copy_len > 0 {
                self.copy_match(window, run);
                if self.copy_len > 0 {
                    return Ok(Some(Status::OutputFull));
                }
            }
            if self.nbits < 48 {
                self.refill(run);
            }
            let (bits, nbits) = (self.bits, self.nbits);
            let Some((symbol, len)) = self.litlen.decode(bits, nbits)? else {
                return Ok(Some(Status::NeedInput));
            };
            if symbol < 256 {
                // Full only when a byte is due: an end-of-block still goes
                // through, so that a message that exactly fills the output
                // can end.
                if run.produced >= run.out.len() {
                    return Ok(Some(Status::OutputFull));
                }
                self.take(len);
                self.put(window, run, symbol as u8);
                continue;
            }
            if symbol == 256 {
                self.take(len);
                return Ok(None);
            }
            // A length, its extra bits, a distance and its extra bits: taken
            // together or not at all.
            let i = usize::from(symbol - 257);
            let (Some(&base), Some(&extra)) = (LENGTH_BASE.get(i), LENGTH_EXTRA.get(i)) else {
                return Err(InflateError::InvalidSymbol);
            };
            let extra = u32::from(extra);
            let mut used = len + extra;
            if used > nbits {
                return Ok(Some(Status::NeedInput));
            }
            let length = base + ((bits >> len) & ((1 << extra) - 1)) as u16;
            let Some((dsym, dlen)) = self.dist.decode(bits >> used, nbits - used)? else {
                return Ok(Some(Status::NeedInput));
            };
            let d = usize::from(dsym);
            let (Some(&dbase), Some(&dextra)) = (DIST_BASE.get(d), DIST_EXTRA.get(d)) else {
                return Err(InflateError::InvalidSymbol);
            };
            let dextra = u32::from(dextra);
            if used + dlen + dextra > nbits {
                return Ok(Some(Status::NeedInput));
            }
            let distance = u32::from(dbase) + ((bits >> (used + dlen)) & ((1 << dextra) - 1)) as u32;
            used += dlen + dextra;
            if distance > self.history {
                return Err(InflateError::DistanceTooFar);
            }
            self.take(used);
            self.copy_len = length;
            self.copy_dist = distance as u16;
        }
    }
}

/// The buffers of one call.
struct Run<'i, 'o> {
    input: &'i [u8],
    consumed: usize,
    out: &'o mut [u8],
    produced: usize,
}

#[cfg(test)]
pub(crate) mod tests;
