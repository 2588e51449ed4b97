//! [`ConnectionLimits`]: how many TCP connections are open, in all and per
//! client address, and whether one more may be.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a connection is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Full {
    /// The relay has as many connections open as it may.
    #[error("too many connections to this relay: try again later")]
    Relay,
    /// This client address has as many connections open as one may.
    #[error("too many connections from your address")]
    Address,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Told how many connections are open after each change (for a gauge).
pub(crate) type OnChange = Box<dyn Fn(usize) + Send + Sync>;

/// The open connections, within `max` in all and `per_address` from one
/// address (0: no per-address cap).
pub(crate) struct ConnectionLimits {
    max: usize,
    per_address: usize,
    counts: Mutex<Counts>,
    on_change: OnChange,
}

impl std::fmt::Debug for ConnectionLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionLimits")
            .field("max", &self.max)
            .field("per_address", &self.per_address)
            .field("open", &self.open())
            .finish()
    }
}

impl ConnectionLimits {
    /// Limits of `max` connections, `per_address` from one address;
    /// `on_change` hears the count after every change.
    pub(crate) fn new(max: usize, per_address: usize, on_change: OnChange) -> Self {
        Self {
            max,
            per_address,
            counts: Mutex::default(),
            on_change,
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.counts().total
    }

    /// Counts a connection from `address`, or says which cap is reached.
    /// It counts until the returned place is dropped.
    pub(crate) fn try_open(self: &Arc<Self>, address: IpAddr) -> Result<Place, Full> {
        let mut counts = self.counts();
        if counts.total >= self.max {
            return Err(Full::Relay);
        }
        let from = counts.by_address.entry(address).or_default();
        if self.per_address > 0 && *from >= self.per_address {
            return Err(Full::Address);
        }
        *from += 1;
        counts.total += 1;
        (self.on_change)(counts.total);
        Ok(Place {
            limits: self.clone(),
            address,
        })
    }

    fn release(&self, address: IpAddr) {
        let mut counts = self.counts();
        counts.total -= 1;
        if let Some(from) = counts.by_address.get_mut(&address) {
            *from -= 1;
            if *from == 0 {
                counts.by_address.remove(&address);
            }
        }
        (self.on_change)(counts.total);
    }
}

/// One open connection's place; given back on drop.
#[derive(Debug)]
pub(crate) struct Place {
    limits: Arc<ConnectionLimits>,
    address: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.limits.release(self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};

    fn limits(max: usize, per_address: usize) -> Arc<ConnectionLimits> {
        Arc::new(ConnectionLimits::new(max, per_address, Box::new(|_| {})))
    }

    #[test]
    fn caps_each_address_and_the_total() {
        let limits = limits(3, 2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = limits.try_open(a).unwrap();
        let _second = limits.try_open(a).unwrap();
        assert_eq!(limits.try_open(a).unwrap_err(), Full::Address);
        let _third = limits.try_open(b).unwrap();
        assert_eq!(limits.try_open(b).unwrap_err(), Full::Relay);
        assert_eq!(limits.open(), 3);
        drop(first);
        assert_eq!(limits.open(), 2);
        assert!(
            limits.try_open(a).is_ok(),
            "a place given back is free again"
        );
    }

    #[test]
    fn zero_means_no_cap_per_address() {
        let limits = limits(3, 0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let places: Vec<_> = (0..3).map(|_| limits.try_open(a).unwrap()).collect();
        assert_eq!(limits.try_open(a).unwrap_err(), Full::Relay);
        drop(places);
        assert_eq!(limits.open(), 0);
    }

    #[test]
    fn every_change_is_reported() {
        let seen = Arc::new(AtomicUsize::new(99));
        let gauge = seen.clone();
        let report = Box::new(move |open| gauge.store(open, Ordering::Relaxed));
        let limits = Arc::new(ConnectionLimits::new(3, 0, report));
        let place = limits.try_open("10.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(seen.load(Ordering::Relaxed), 1);
        drop(place);
        assert_eq!(seen.load(Ordering::Relaxed), 0);
    }
}
