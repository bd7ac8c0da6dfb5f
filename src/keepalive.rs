//! Keepalive as timer state (RFC 6455 §5.5.2: a Ping may serve as a
//! keepalive), sans-IO: the host passes the current time in milliseconds
//! (a wrapping 32-bit tick count such as `mp_hal_ticks_ms()`) and acts on
//! the [`Action`] returned. Nothing here reads a clock.

/// The longest interval or timeout: differences of wrapping 32-bit ticks
/// are only meaningful below half the range (about 24.8 days).
pub const MAX_MS: u32 = i32::MAX as u32;

/// What the host does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Keepalive is off.
    Off,
    /// Nothing to do for this many milliseconds (check again by then).
    Wait(u32),
    /// Send a Ping now; the answer is due within the timeout.
    SendPing,
    /// The Ping went unanswered: fail the connection (1011, the close-code
    /// policy's [`crate::connection::KEEPALIVE_CLOSE`]).
    PeerDead,
}

/// Why a setting was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTime;

/// Keepalive state: ping after `interval` ms without bytes from the peer,
/// declare it dead when `timeout` ms pass after a ping without any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Keepalive {
    pub interval: u32,
    pub timeout: u32,
    /// When bytes last arrived, or when the outstanding ping went out.
    pub last: u32,
    pub ping_outstanding: bool,
}

impl Keepalive {
    /// Off.
    pub const fn new() -> Self {
        Keepalive { interval: 0, timeout: 0, last: 0, ping_outstanding: false }
    }

    /// Set the interval and timeout (milliseconds; an interval of 0 turns
    /// keepalive off, a timeout of 0 means the interval) at time `now`.
    /// Negative values and values over [`MAX_MS`] are refused and change
    /// nothing.
    pub fn set(&mut self, interval: i64, timeout: i64, now: u32) -> Result<(), InvalidTime> {
        let valid = |ms: i64| u32::try_from(ms).ok().filter(|&ms| ms <= MAX_MS).ok_or(InvalidTime);
        let interval = valid(interval)?;
        let timeout = valid(timeout)?;
        *self = Keepalive {
            interval,
            timeout: if timeout == 0 { interval } else { timeout },
            last: now,
            ping_outstanding: false,
        };
        Ok(())
    }

    /// Bytes arrived from the peer at `now`: it is alive.
    pub fn received(&mut self, now: u32) {
        self.last = now;
        self.ping_outstanding = false;
    }

    /// What to do at `now`. [`Action::SendPing`] counts the ping as sent.
    pub fn poll(&mut self, now: u32) -> Action {
        if self.interval == 0 {
            return Action::Off;
        }
        let quiet = now.wrapping_sub(self.last);
        if self.ping_outstanding {
            return if quiet >= self.timeout { Action::PeerDead } else { Action::Wait(self.timeout - quiet) };
        }
        if quiet < self.interval {
            return Action::Wait(self.interval - quiet);
        }
        self.ping_outstanding = true;
        self.last = now;
        Action::SendPing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ping_then_dead() {
        let mut k = Keepalive::new();
        assert_eq!(k.poll(5), Action::Off);
        k.set(1000, 300, 10).unwrap();
        assert_eq!(k.poll(10), Action::Wait(1000));
        assert_eq!(k.poll(500), Action::Wait(510));
        k.received(600);
        assert_eq!(k.poll(1599), Action::Wait(1));
        assert_eq!(k.poll(1600), Action::SendPing);
        assert_eq!(k.poll(1700), Action::Wait(200));
        assert_eq!(k.poll(1900), Action::PeerDead);
        // The pong (any bytes) in time clears it.
        k.set(1000, 0, 0).unwrap();
        assert_eq!(k.timeout, 1000);
        assert_eq!(k.poll(1000), Action::SendPing);
        k.received(1500);
        assert_eq!(k.poll(2000), Action::Wait(500));
    }

    #[test]
    fn ticks_wrap() {
        let mut k = Keepalive::new();
        k.set(100, 50, u32::MAX - 10).unwrap();
        assert_eq!(k.poll(20), Action::Wait(69));
        assert_eq!(k.poll(89), Action::SendPing);
        assert_eq!(k.poll(139), Action::PeerDead);
    }

    #[test]
    fn settings_are_validated() {
        let mut k = Keepalive::new();
        k.set(1000, 0, 0).unwrap();
        for (i, t) in [(-1, 0), (0, -1), (i64::from(MAX_MS) + 1, 0), (i64::MIN, 0), (0, i64::MAX)] {
            assert_eq!(k.set(i, t, 5), Err(InvalidTime));
            assert_eq!(k.interval, 1000, "unchanged");
        }
        k.set(0, 0, 0).unwrap();
        assert_eq!(k.poll(1 << 31), Action::Off);
        k.set(i64::from(MAX_MS), i64::from(MAX_MS), 0).unwrap();
    }

    proptest! {
        #[test]
        fn never_dead_before_interval_plus_timeout(interval in 1u32..100_000, timeout in 0u32..100_000, start: u32,
                                                   steps in proptest::collection::vec((0u32..50_000, any::<bool>()), 1..50)) {
            let mut k = Keepalive::new();
            k.set(i64::from(interval), i64::from(timeout), start).unwrap();
            let timeout = if timeout == 0 { interval } else { timeout };
            let (mut now, mut last_rx) = (start, start);
            for (dt, data) in steps {
                now = now.wrapping_add(dt);
                if data {
                    k.received(now);
                    last_rx = now;
                }
                match k.poll(now) {
                    Action::PeerDead => {
                        prop_assert!(now.wrapping_sub(last_rx) >= interval.saturating_add(timeout).min(interval + timeout));
                        break;
                    }
                    Action::Wait(ms) => prop_assert!(ms > 0 && ms <= interval.max(timeout)),
                    Action::SendPing => prop_assert!(now.wrapping_sub(last_rx) >= interval),
                    Action::Off => prop_assert!(false),
                }
            }
        }
    }
}
