//! Request contexts that the snapshot's time and IP conditions tell apart.

use std::net::IpAddr;

use crate::net::IpNet;

/// Groups requests into classes that every time and IP condition of the snapshot treats
/// alike: the class is the interval of the request time among the conditions' date
/// thresholds, and which of the conditions' networks hold the client IP. With no such
/// conditions every request is class 0.
#[derive(Debug, Clone, Default)]
pub struct ContextClasses {
    /// Sorted, distinct, in microseconds.
    thresholds: Vec<i64>,
    nets: Vec<IpNet>,
}

impl ContextClasses {
    /// At most 16 networks are told apart; more are rare and fold into the same classes
    /// (the caller then evaluates such rows with their earliest request's context).
    pub fn new(mut thresholds: Vec<i64>, mut nets: Vec<IpNet>) -> ContextClasses {
        thresholds.sort_unstable();
        thresholds.dedup();
        nets.dedup();
        nets.truncate(16);
        ContextClasses { thresholds, nets }
    }

    /// True when some condition compares the client IP.
    pub fn needs_ip(&self) -> bool {
        !self.nets.is_empty()
    }

    pub fn is_trivial(&self) -> bool {
        self.thresholds.is_empty() && self.nets.is_empty()
    }

    pub fn class(&self, time: i64, ip: Option<IpAddr>) -> u32 {
        if self.is_trivial() {
            return 0;
        }
        self.class_with(time, self.networks(ip))
    }

    /// [`ContextClasses::class`] with the networks part already known.
    pub fn class_with(&self, time: i64, networks: u32) -> u32 {
        if self.is_trivial() {
            return 0;
        }
        let bucket = match self.thresholds.binary_search(&time) {
            Ok(i) => 2 * i as u32 + 1,
            Err(i) => 2 * i as u32,
        };
        (bucket << 17) | networks
    }

    /// Which of the conditions' networks hold `ip` (one bit each; bit 16: no address).
    pub fn networks(&self, ip: Option<IpAddr>) -> u32 {
        let mut mask = 0u32;
        if let Some(ip) = ip {
            for (i, net) in self.nets.iter().enumerate() {
                if net.contains(ip) {
                    mask |= 1 << i;
                }
            }
        } else if !self.nets.is_empty() {
            mask = 1 << 16;
        }
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_classes_separate_thresholds_and_networks() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        let c = ContextClasses::new(vec![100], vec![net]);
        let inside = Some("10.1.1.1".parse().unwrap());
        let outside = Some("11.1.1.1".parse().unwrap());
        assert_ne!(c.class(50, inside), c.class(150, inside));
        assert_ne!(c.class(100, inside), c.class(150, inside));
        assert_eq!(c.class(120, inside), c.class(150, inside));
        assert_ne!(c.class(50, inside), c.class(50, outside));
        assert_ne!(c.class(50, None), c.class(50, outside));
        assert_eq!(ContextClasses::default().class(5, inside), 0);
    }
}
