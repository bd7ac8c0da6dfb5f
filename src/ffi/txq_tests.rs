//! The send queue's calls as the shim makes them: a block that grows as
//! the core asks (at any alignment), partial writes, the high-water mark.

use super::*;
use std::vec;
use std::vec::Vec;

/// A host heap of one block at a time, `skew` bytes off alignment.
struct Heap {
    mem: Vec<u8>,
    skew: usize,
}

impl Heap {
    fn block(&mut self) -> *mut TxQueue {
        unsafe { self.mem.as_mut_ptr().add(self.skew) as *mut TxQueue }
    }

    /// realloc: the block moves (to a new allocation), its bytes along.
    fn grow(&mut self, q: *mut TxQueue, size: usize) -> *mut TxQueue {
        let old = unsafe { uws_txq_size(q) };
        let mut mem = vec![0xAAu8; self.skew + size];
        if !q.is_null() {
            mem[self.skew..self.skew + old].copy_from_slice(&self.mem[self.skew..self.skew + old]);
        }
        self.mem = mem;
        self.block()
    }
}

/// Queue `data` as uws_frame_queue does.
fn queue(heap: &mut Heap, q: *mut TxQueue, data: &[u8]) -> *mut TxQueue {
    let size = unsafe { uws_txq_grow(q, data.len(), false) };
    let mut q = q;
    if size > 0 {
        let moved = heap.grow(q, size);
        unsafe { uws_txq_resized(moved, size, q.is_null()) };
        q = moved;
    }
    assert!(unsafe { uws_txq_push(q, data.as_ptr(), data.len()) });
    q
}

fn pending(q: *mut TxQueue) -> Vec<u8> {
    let mut len = 0;
    let p = unsafe { uws_txq_pending(q, &mut len) };
    unsafe { bytes(p, len) }.to_vec()
}

#[test]
fn queue_write_in_parts_and_drain_at_any_alignment() {
    for skew in 0..8 {
        let mut heap = Heap { mem: Vec::new(), skew };
        let mut q: *mut TxQueue = core::ptr::null_mut();
        assert_eq!(unsafe { uws_txq_size(q) }, 0);
        q = queue(&mut heap, q, b"hello");
        assert_eq!(unsafe { uws_txq_size(q) }, TXQ_HEAD + 5);
        q = queue(&mut heap, q, b", world");
        // Twice what waited (10) is less than needed (12).
        assert_eq!(unsafe { uws_txq_size(q) }, TXQ_HEAD + 12);
        assert_eq!(pending(q), b"hello, world");
        assert_eq!(unsafe { uws_txq_consume(q, 7) }, 5);
        assert_eq!(pending(q), b"world");
        // Room left: no growth.
        assert_eq!(unsafe { uws_txq_grow(q, 7, false) }, 0);
        q = queue(&mut heap, q, b"!");
        assert_eq!(unsafe { uws_txq_size(q) }, TXQ_HEAD + 12);
        assert_eq!(unsafe { uws_txq_grow(q, 7, false) }, TXQ_HEAD + 13);
        assert_eq!(unsafe { uws_txq_grow(q, 7, true) }, TXQ_HEAD + 13);
        assert_eq!(unsafe { uws_txq_grow(q, 8, false) }, TXQ_HEAD + 14);
        assert_eq!(unsafe { uws_txq_grow(q, 6, true) }, 0);
        q = queue(&mut heap, q, b"1234567");
        assert_eq!(pending(q), b"world!1234567");
        assert_eq!(unsafe { uws_txq_consume(q, usize::MAX) }, 0);
        assert_eq!(pending(q), b"");
    }
}

#[test]
fn null_and_impossible_sizes() {
    let null: *mut TxQueue = core::ptr::null_mut();
    assert_eq!(unsafe { uws_txq_grow(null, 0, false) }, TXQ_HEAD);
    assert_eq!(unsafe { uws_txq_grow(null, 1, false) }, TXQ_HEAD + 1);
    // No block can hold it: more than any heap has, and no overflow when
    // the heap rounds it up to its block size.
    assert_eq!(unsafe { uws_txq_grow(null, usize::MAX, false) }, TXQ_IMPOSSIBLE);
    assert_eq!(unsafe { uws_txq_grow(null, usize::MAX - TXQ_HEAD, false) }, TXQ_IMPOSSIBLE);
    assert!(TXQ_IMPOSSIBLE.checked_add(4096).is_some());
    assert!(!unsafe { uws_txq_push(null, b"a".as_ptr(), 1) });
    assert_eq!(unsafe { uws_txq_consume(null, 5) }, 0);
    let mut len = 9;
    assert!(unsafe { uws_txq_pending(null, &mut len) }.is_null());
    assert_eq!(len, 0);
    unsafe { uws_txq_resized(null, 100, true) };
    // A block the host could not grow keeps its bytes and refuses more.
    let mut heap = Heap { mem: Vec::new(), skew: 0 };
    let q = queue(&mut heap, null, b"abc");
    assert!(!unsafe { uws_txq_push(q, b"d".as_ptr(), 1) });
    assert_eq!(pending(q), b"abc");
    // A size under the head: no room at all.
    unsafe { uws_txq_resized(q, 1, false) };
    assert_eq!(unsafe { uws_txq_size(q) }, TXQ_HEAD);
    assert_eq!(pending(q), b"");
}

#[test]
fn the_high_water_mark() {
    assert!(!uws_txq_over_high_water(0));
    assert!(!uws_txq_over_high_water(16 * 1024 - 1));
    assert!(uws_txq_over_high_water(16 * 1024));
    assert!(uws_txq_over_high_water(usize::MAX));
}

#[test]
fn compress_decision_and_inflate_room_through_the_abi() {
    let mut mem = block(uws_conn_size());
    let c = mem.as_mut_ptr() as *mut Connection;
    assert!(unsafe { uws_conn_init(c, true, 0, 0) });
    assert_eq!(unsafe { uws_tx_compress(c, true, true, 100, 32) }, 0);
    let params = DeflateParams::default();
    unsafe { uws_conn_set_deflate(c, &params) };
    assert_eq!(unsafe { uws_tx_compress(c, true, true, 31, 32) }, 0);
    assert_eq!(unsafe { uws_tx_compress(c, true, true, 32, 32) }, 1);
    assert_eq!(unsafe { uws_tx_compress(c, true, false, 0, 32) }, 1);
    let mut header = [0u8; UWS_MAX_HEADER];
    let mut key = [0u8; 4];
    assert!(unsafe { uws_tx_compressed_header(c, true, false, 1, core::ptr::null(), header.as_mut_ptr(), key.as_mut_ptr()) } > 0);
    assert_eq!(unsafe { uws_tx_compress(c, false, true, 100, 32) }, UWS_TX_IN_PROGRESS);
    assert_eq!(unsafe { uws_tx_compress(c, true, true, 0, 32) }, 1);
    // max_size 0 is no limit: the first room is a whole step.
    assert_eq!(unsafe { uws_rx_inflate_room(c, 0, 0) }, 1024);
    assert!(unsafe { uws_conn_init(c, true, 100, 0) });
    assert_eq!(unsafe { uws_rx_inflate_room(c, 0, 0) }, 101);
    assert_eq!(unsafe { uws_rx_inflate_room(c, 100, 101) }, 1);
}

fn block(size: usize) -> Vec<u64> {
    vec![0u64; size.div_ceil(8)]
}

/// The non-blocking send's promise (uws_reserve_tx in the shim): once the
/// block has room for a whole frame (exact growth), pushing that frame in
/// pieces needs no more growth, whatever partial writes came between, and
/// the bytes come out in order. Any sequence of reservations, partial
/// writes and pushes, against a deque.
#[test]
fn a_reserved_frame_is_pushed_without_growth_whatever_goes_out_between() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let ops = proptest::collection::vec((0u8..3, 0usize..300, any::<u8>()), 0..60);
    let mut runner = TestRunner::new(Config { cases: 1000, ..Config::default() });
    runner
        .run(&ops, |ops| {
            let mut heap = Heap { mem: Vec::new(), skew: 3 };
            let mut q: *mut TxQueue = core::ptr::null_mut();
            let mut model: std::collections::VecDeque<u8> = Default::default();
            let mut reserved: Option<usize> = None;
            for (kind, n, byte) in ops {
                match kind {
                    0 => {
                        let size = unsafe { uws_txq_grow(q, n, true) };
                        if size != 0 {
                            let fresh = q.is_null();
                            let moved = heap.grow(q, size);
                            unsafe { uws_txq_resized(moved, size, fresh) };
                            q = moved;
                        }
                        reserved = Some(n);
                    }
                    1 if !q.is_null() => {
                        let left = unsafe { uws_txq_consume(q, n) };
                        model.drain(..n.min(model.len()));
                        prop_assert_eq!(left, model.len());
                    }
                    1 => {}
                    _ => {
                        let data = vec![byte; n];
                        match reserved.take() {
                            Some(room) if !q.is_null() => {
                                let n = n.min(room);
                                let growth = unsafe { uws_txq_grow(q, n, false) };
                                prop_assert_eq!(growth, 0);
                                let pushed = unsafe { uws_txq_push(q, data.as_ptr(), n) };
                                prop_assert!(pushed);
                                model.extend(&data[..n]);
                            }
                            Some(_) => {}
                            None => {
                                q = queue(&mut heap, q, &data);
                                model.extend(&data);
                            }
                        }
                    }
                }
                if !q.is_null() {
                    prop_assert_eq!(pending(q), model.iter().copied().collect::<Vec<u8>>());
                }
            }
            Ok(())
        })
        .unwrap();
}
