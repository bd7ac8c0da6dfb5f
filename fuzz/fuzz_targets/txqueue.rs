//! The send queue's counts under any sequence of appends and partial
//! writes, against a plain byte deque: the bytes come out in order, the
//! buffer grows only as the growth policy says, never past what is needed
//! and twice what waits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use uwebsocket::txqueue::{self, TxQueue};

fuzz_target!(|data: &[u8]| {
    let mut q = TxQueue::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut model: VecDeque<u8> = VecDeque::new();
    for op in data.chunks(2) {
        let [kind, n] = *op else { break };
        let n = usize::from(n) * (1 + usize::from(kind >> 4));
        if kind & 1 == 0 {
            let piece: Vec<u8> = (0..n).map(|i| (i as u8) ^ kind).collect();
            let (len, cap) = (q.len(), q.capacity());
            match q.grow_to(n) {
                Some(new) => {
                    assert_eq!(new, (len + n).max(2 * len));
                    assert!(new > cap);
                    buf.resize(new, 0);
                    q.resized(new);
                }
                None => assert!(len + n <= cap),
            }
            assert!(q.append(&mut buf, &piece));
            model.extend(piece);
        } else {
            let n = n.min(q.len());
            let left = q.consume(n);
            model.drain(..n);
            assert_eq!(left, model.len());
        }
        assert!(q.len() <= q.capacity());
        assert!(q.pending(&buf).iter().eq(model.iter()));
        assert_eq!(txqueue::over_high_water(q.len()), q.len() >= txqueue::HIGH_WATER);
    }
});
