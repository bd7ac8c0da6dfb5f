//! The send queue of a non-blocking connection, sans-IO: what the transport
//! did not take yet, written before anything else so that frames go out
//! whole and in order (RFC 6455 §5.4: frames of different messages are not
//! interleaved, and a control frame may only come between whole frames).
//!
//! The core keeps the count; the bytes live in a buffer the host allocates
//! at the size [`TxQueue::grow_to`] asks for. The host writes
//! [`TxQueue::pending`] to its transport, reports what went out with
//! [`TxQueue::consume`], and queues what a write did not take with
//! [`TxQueue::append`]. What went out is skipped, not moved: a transport
//! that takes a few bytes a call drains the queue in linear time.

/// A non-blocking sender refuses a new message while this many bytes wait
/// unsent (the caller flushes and tries again), so that a peer that stops
/// reading cannot make it queue without end. A message accepted below the
/// mark is queued whole, whatever its size.
pub const HIGH_WATER: usize = 16 * 1024;

/// Whether `waiting` unsent bytes are at or over [`HIGH_WATER`].
pub const fn over_high_water(waiting: usize) -> bool {
    waiting >= HIGH_WATER
}

/// What becomes of a control frame while bytes wait in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlAdmission {
    /// Queued like any frame.
    Send,
    /// Left out: a Pong, over the mark. §5.5.3 lets an endpoint answer only
    /// the latest of several Pings, and a peer that sends Pings without
    /// reading must not make the queue grow without end.
    Skip,
    /// Refused like a message over the mark (the caller flushes and tries
    /// again): a Ping a script asks for.
    Refuse,
}

/// What becomes of a control frame (`opcode`, RFC 6455 §11.8) while
/// `waiting` bytes are queued; `scripted`: a Ping a script asked for, not
/// keepalive's (one an interval, so bounded). A Close always goes.
pub const fn admit_control(opcode: u8, waiting: usize, scripted: bool) -> ControlAdmission {
    match opcode {
        0xA if over_high_water(waiting) => ControlAdmission::Skip,
        0x9 if scripted && over_high_water(waiting) => ControlAdmission::Refuse,
        _ => ControlAdmission::Send,
    }
}

/// How much of the host's buffer is in use: `buf[start..start + len]`
/// waits to be written, `capacity` is the buffer's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxQueue {
    start: usize,
    len: usize,
    capacity: usize,
}

impl TxQueue {
    /// An empty queue over a buffer of `capacity` bytes.
    pub const fn with_capacity(capacity: usize) -> Self {
        TxQueue { start: 0, len: 0, capacity }
    }

    /// Bytes waiting.
    pub const fn len(&self) -> usize {
        self.len
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The size of the buffer the queue is over.
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// The capacity the buffer must grow to before `more` bytes are
    /// appended, or `None` when they fit. It grows to what is needed, or to
    /// twice what waits if that is more, so that a queue filled a piece at
    /// a time is reallocated a logarithmic number of times. `usize::MAX`
    /// when the total does not fit a `usize` (no buffer can be that big).
    pub const fn grow_to(&self, more: usize) -> Option<usize> {
        let Some(need) = self.len.checked_add(more) else { return Some(usize::MAX) };
        if need <= self.capacity {
            return None;
        }
        let doubled = self.len.saturating_mul(2);
        Some(if need > doubled { need } else { doubled })
    }

    /// The capacity needed before `more` bytes are appended, or `None` when
    /// they fit: [`grow_to`](Self::grow_to) without the doubling, for a
    /// heap that has no block that large.
    pub const fn need(&self, more: usize) -> Option<usize> {
        match self.len.checked_add(more) {
            None => Some(usize::MAX),
            Some(need) if need <= self.capacity => None,
            Some(need) => Some(need),
        }
    }

    /// The host moved the queue to a buffer of `capacity` bytes (its bytes
    /// copied along, at the same places). A smaller buffer keeps only what
    /// fits.
    pub fn resized(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.start = self.start.min(capacity);
        self.len = self.len.min(capacity - self.start);
    }

    /// The bytes waiting, in `buf` (the host's buffer).
    pub fn pending<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        self.start.checked_add(self.len).and_then(|end| buf.get(self.start..end)).unwrap_or(&[])
    }

    /// Queue `data` after what waits, in `buf` (the host's buffer of
    /// `capacity` bytes). False, and nothing queued, when it does not fit.
    pub fn append(&mut self, buf: &mut [u8], data: &[u8]) -> bool {
        let Some(len) = self.len.checked_add(data.len()) else { return false };
        let Some(held_end) = self.start.checked_add(self.len) else { return false };
        if len > self.capacity || held_end > buf.len() {
            return false;
        }
        if self.start.saturating_add(len) > self.capacity {
            // Room only once what went out is reclaimed: what waits moves
            // to the front, at most once per append (a frame queued), never
            // per write as before.
            buf.copy_within(self.start..held_end, 0);
            self.start = 0;
        }
        let Some(dst) = buf.get_mut(self.start + self.len..self.start + len) else { return false };
        dst.copy_from_slice(data);
        self.len = len;
        true
    }

    /// `written` bytes from the front went out (a count over what waits
    /// counts as all of it). Returns how many still wait.
    pub fn consume(&mut self, written: usize) -> usize {
        let written = written.min(self.len);
        self.len -= written;
        self.start = if self.len == 0 { 0 } else { self.start + written };
        self.len
    }
}

#[cfg(test)]
mod tests;
