//! The queue's counts at their edges, and any sequence of appends and
//! partial writes against a plain byte deque.

use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::vec::Vec;

/// A queue and its buffer, grown as a host grows it.
struct Host {
    q: TxQueue,
    buf: Vec<u8>,
}

impl Host {
    fn new() -> Self {
        Host { q: TxQueue::default(), buf: Vec::new() }
    }

    fn queue(&mut self, data: &[u8]) {
        if let Some(cap) = self.q.grow_to(data.len()) {
            self.buf.resize(cap, 0);
            self.q.resized(cap);
        }
        assert!(self.q.append(&mut self.buf, data));
    }
}

#[test]
fn an_empty_queue_grows_to_what_is_needed() {
    let q = TxQueue::default();
    assert!(q.is_empty());
    assert_eq!(q.grow_to(0), None);
    assert_eq!(q.grow_to(1), Some(1));
    assert_eq!(q.grow_to(usize::MAX), Some(usize::MAX));
}

#[test]
fn growth_doubles_what_waits_or_takes_what_is_needed() {
    let mut h = Host::new();
    h.queue(&[1; 100]);
    assert_eq!(h.q.capacity(), 100);
    // 100 waiting, 1 more: twice what waits.
    assert_eq!(h.q.grow_to(1), Some(200));
    // 100 waiting, 150 more: what is needed is more.
    assert_eq!(h.q.grow_to(150), Some(250));
    h.queue(&[2; 1]);
    assert_eq!((h.q.len(), h.q.capacity()), (101, 200));
    // Room left: no growth.
    assert_eq!(h.q.grow_to(99), None);
    assert_eq!(h.q.grow_to(100), Some(202));
    // Without the doubling: what is needed only, or nothing when it fits.
    assert_eq!(h.q.need(99), None);
    assert_eq!(h.q.need(100), Some(201));
    assert_eq!(h.q.need(usize::MAX), Some(usize::MAX));
}

#[test]
fn sizes_that_overflow_saturate() {
    let q = TxQueue { start: 0, len: usize::MAX / 2 + 1, capacity: usize::MAX / 2 + 1 };
    // Twice what waits overflows: no buffer could be that big.
    assert_eq!(q.grow_to(1), Some(usize::MAX));
    let q = TxQueue { start: 0, len: usize::MAX / 2, capacity: usize::MAX / 2 };
    assert_eq!(q.grow_to(1), Some(usize::MAX - 1));
    let q = TxQueue { start: 0, len: usize::MAX, capacity: usize::MAX };
    assert_eq!(q.grow_to(0), None);
    assert_eq!(q.grow_to(1), Some(usize::MAX));
    // 32-bit sizes, as on a microcontroller.
    let q = TxQueue { start: 0, len: u32::MAX as usize - 10, capacity: u32::MAX as usize - 10 };
    assert_eq!(q.grow_to(11), Some(2 * (u32::MAX as usize - 10)));
}

#[test]
fn append_refuses_what_does_not_fit_and_changes_nothing() {
    let mut q = TxQueue::with_capacity(4);
    let mut buf = [0u8; 4];
    assert!(q.append(&mut buf, b"ab"));
    assert!(!q.append(&mut buf, b"cde"));
    assert_eq!(q.pending(&buf), b"ab");
    assert!(q.append(&mut buf, b""));
    assert!(q.append(&mut buf, b"cd"));
    assert_eq!(q.pending(&buf), b"abcd");
    assert!(!q.append(&mut buf, b"e"));
    // A buffer shorter than the capacity recorded: refused, not a panic.
    let mut q = TxQueue::with_capacity(8);
    assert!(!q.append(&mut buf, b"abcdef"));
    assert!(q.is_empty());
    // A length that would overflow.
    let mut q = TxQueue { start: 0, len: usize::MAX, capacity: usize::MAX };
    assert!(!q.append(&mut buf, b"a"));
}

#[test]
fn consume_skips_what_went_out() {
    let mut q = TxQueue::with_capacity(8);
    let mut buf = [0u8; 8];
    assert!(q.append(&mut buf, b"abcdef"));
    assert_eq!(q.consume(0), 6);
    assert_eq!(q.consume(1), 5);
    assert_eq!(q.pending(&buf), b"bcdef");
    assert_eq!(q.consume(4), 1);
    assert_eq!(q.pending(&buf), b"f");
    // More than waits: all of it, no more.
    assert_eq!(q.consume(usize::MAX), 0);
    assert!(q.is_empty());
    assert_eq!(q.pending(&buf), b"");
    assert_eq!(q.consume(1), 0);
}

#[test]
fn what_went_out_is_reclaimed_when_the_end_is_reached() {
    let mut q = TxQueue::with_capacity(8);
    let mut buf = [0u8; 8];
    assert!(q.append(&mut buf, b"abcdef"));
    assert_eq!(q.consume(4), 2);
    // Fits after what waits: nothing moves.
    assert!(q.append(&mut buf, b"gh"));
    assert_eq!(&buf, b"abcdefgh");
    assert_eq!(q.pending(&buf), b"efgh");
    // Fits only once the 4 bytes that went out are reclaimed.
    assert!(q.append(&mut buf, b"ijkl"));
    assert_eq!(q.pending(&buf), b"efghijkl");
    assert_eq!(q.pending(&buf).as_ptr(), buf.as_ptr());
    // Full: refused, what waits unchanged.
    assert!(!q.append(&mut buf, b"m"));
    assert_eq!(q.pending(&buf), b"efghijkl");
    // Drained: the next bytes start at the front.
    assert_eq!(q.consume(8), 0);
    assert!(q.append(&mut buf, b"n"));
    assert_eq!(q.pending(&buf).as_ptr(), buf.as_ptr());
}

#[test]
fn a_transport_taking_a_byte_at_a_time_moves_nothing() {
    // The flush of a stream that takes 1 byte a call: before, every call
    // moved what was left to the front (640 KB took seconds).
    let mut h = Host::new();
    let data: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    h.queue(&data);
    let front = h.q.pending(&h.buf).as_ptr();
    let mut wire = Vec::new();
    while !h.q.is_empty() {
        let out = h.q.pending(&h.buf);
        assert_eq!(out.as_ptr() as usize, front as usize + wire.len());
        wire.push(out[0]);
        h.q.consume(1);
    }
    assert_eq!(wire, data);
}

#[test]
fn resizing_smaller_keeps_what_fits() {
    let mut q = TxQueue::with_capacity(8);
    let mut buf = [0u8; 8];
    assert!(q.append(&mut buf, b"abcdef"));
    assert_eq!(q.consume(2), 4);
    q.resized(5);
    assert_eq!((q.len(), q.capacity()), (3, 5));
    assert_eq!(q.pending(&buf), b"cde");
    q.resized(1);
    assert!(q.is_empty());
    let mut q = TxQueue::with_capacity(8);
    let mut buf = [0u8; 8];
    assert!(q.append(&mut buf, b"abcdef"));
    q.resized(3);
    assert_eq!((q.len(), q.capacity()), (3, 3));
    assert_eq!(q.pending(&buf), b"abc");
    q.resized(0);
    assert!(q.is_empty());
}

#[test]
fn the_high_water_mark() {
    assert!(!over_high_water(0));
    assert!(!over_high_water(1));
    assert!(!over_high_water(HIGH_WATER - 1));
    assert!(over_high_water(HIGH_WATER));
    assert!(over_high_water(usize::MAX));
}

#[derive(Debug, Clone)]
enum Op {
    Queue(Vec<u8>),
    Write(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Queue),
        (0usize..400).prop_map(Op::Write),
    ]
}

proptest! {
    #[test]
    fn any_appends_and_writes_keep_the_bytes_in_order(ops in proptest::collection::vec(op(), 0..40)) {
        let mut h = Host::new();
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut wire = Vec::new();
        let mut sent = Vec::new();
        for op in ops {
            match op {
                Op::Queue(data) => {
                    let before = (h.q.len(), h.q.capacity());
                    let grow = h.q.grow_to(data.len());
                    h.queue(&data);
                    if let Some(cap) = grow {
                        prop_assert_eq!(cap, (before.0 + data.len()).max(2 * before.0));
                        prop_assert!(cap > before.1);
                    } else {
                        prop_assert_eq!(h.q.capacity(), before.1);
                    }
                    model.extend(data.iter().copied());
                    sent.extend_from_slice(&data);
                }
                Op::Write(n) => {
                    let out = h.q.pending(&h.buf);
                    let n = n.min(out.len());
                    wire.extend_from_slice(&out[..n]);
                    let left = h.q.consume(n);
                    model.drain(..n);
                    prop_assert_eq!(left, model.len());
                }
            }
            prop_assert!(h.q.len() <= h.q.capacity());
            let waiting: Vec<u8> = model.iter().copied().collect();
            prop_assert_eq!(h.q.pending(&h.buf), waiting.as_slice());
        }
        wire.extend_from_slice(h.q.pending(&h.buf));
        prop_assert_eq!(wire, sent);
    }
}

#[test]
fn control_frames_over_the_mark() {
    use ControlAdmission::*;
    let (under, over) = (HIGH_WATER - 1, HIGH_WATER);
    for scripted in [false, true] {
        assert_eq!(admit_control(0xA, under, scripted), Send);
        assert_eq!(admit_control(0xA, over, scripted), Skip);
        assert_eq!(admit_control(0x8, over, scripted), Send);
        assert_eq!(admit_control(0x9, under, scripted), Send);
    }
    assert_eq!(admit_control(0x9, over, true), Refuse);
    // Keepalive's Ping, one an interval, still goes.
    assert_eq!(admit_control(0x9, usize::MAX, false), Send);
}
