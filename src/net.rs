//! Client addresses: reading them as logs write them, and the networks of IP conditions.

use std::net::IpAddr;

/// `10.0.0.1`, `10.0.0.1:5678`, `[::1]:443`, `::1`.
pub fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    if let Some(ip) = plain_ipv4(s) {
        return Some(IpAddr::V4(ip));
    }
    parse_ip_text(s)
}

/// A client address written as exactly a dotted quad (`10.0.0.1`), the common case, read
/// without the general parser (which costs far more per call); `None` for anything else, which
/// [`parse_ip_text`] then reads. Accepts only what `Ipv4Addr::from_str` accepts.
fn plain_ipv4(s: &[u8]) -> Option<std::net::Ipv4Addr> {
    if s.len() < 7 || s.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        // 1-3 digits, no leading zero (std rejects them too).
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return None;
        }
        let mut v = 0u16;
        for &d in part {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u16::from(d - b'0');
        }
        *octet = u8::try_from(v).ok()?;
    }
    parts
        .next()
        .is_none()
        .then(|| std::net::Ipv4Addr::from(octets))
}

/// Any address form: surrounding spaces, a list (the first), a port, brackets.
fn parse_ip_text(s: &[u8]) -> Option<IpAddr> {
    if s.is_empty() {
        return None;
    }
    let s = std::str::from_utf8(s).ok()?.trim();
    let s = s.split(',').next()?.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

/// An IP network from an `IpAddress` condition (`10.0.0.0/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.trim().parse().ok()?, Some(p.trim().parse::<u8>().ok()?)),
            None => (s.trim().parse().ok()?, None),
        };
        let max = if matches!(addr, IpAddr::V4(_)) {
            32
        } else {
            128
        };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let mask = |bits: u32, width: u32| -> u128 {
            if bits == 0 {
                0
            } else {
                (!0u128) << (width - bits)
            }
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let m = mask(u32::from(self.prefix), 32) as u32;
                u32::from(net) & m == u32::from(ip) & m
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let m = mask(u32::from(self.prefix), 128);
                u128::from(net) & m == u128::from(ip) & m
            }
            (IpAddr::V6(_), IpAddr::V4(v4)) => self.contains(IpAddr::V6(v4.to_ipv6_mapped())),
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_with_ports_and_lists() {
        assert_eq!(parse_ip(b"10.0.0.1"), "10.0.0.1".parse().ok());
        assert_eq!(parse_ip(b"10.0.0.1:5678"), "10.0.0.1".parse().ok());
        assert_eq!(parse_ip(b"[::1]:443"), "::1".parse().ok());
        assert_eq!(
            parse_ip(b"203.0.113.9, 10.0.0.1"),
            "203.0.113.9".parse().ok()
        );
        assert_eq!(parse_ip(b"-"), None);
        assert_eq!(parse_ip(b""), None);
    }

    #[test]
    fn ip_networks() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.255.0.1".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            IpNet::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8::1".parse().unwrap())
        );
        assert!(IpNet::parse("nope").is_none());
    }

    /// Client address texts: mostly dotted quads (some with odd octets), some with ports,
    /// lists, brackets or noise around them.
    fn address_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let octet = prop::sample::select(vec![
            "0", "1", "9", "10", "01", "00", "099", "255", "256", "999", "1000", "", "a", "+1",
        ]);
        let around =
            prop::sample::select(vec!["", "", "", " ", ":443", ", 10.0.0.1", "[", "]", "."]);
        let quad = (prop::collection::vec(octet, 3..6), around.clone(), around)
            .prop_map(|(octets, before, after)| format!("{before}{}{after}", octets.join(".")));
        let noise = prop::collection::vec(
            prop::sample::select(vec![
                "0", "12", ".", ":", "::", "[", "]", ",", " ", "f", "-",
            ]),
            0..12,
        )
        .prop_map(|parts| parts.concat());
        prop_oneof![3 => quad, 1 => noise]
    }

    proptest::proptest! {
        /// The dotted-quad fast path reads exactly what the general parser reads.
        #[test]
        fn plain_ipv4_agrees_with_the_general_parser(text in address_text()) {
            let fast = plain_ipv4(text.as_bytes()).map(IpAddr::V4);
            if fast.is_some() {
                proptest::prop_assert_eq!(fast, text.parse::<IpAddr>().ok(), "{}", text);
            }
            proptest::prop_assert_eq!(
                parse_ip(text.as_bytes()),
                parse_ip_text(text.as_bytes()),
                "{}",
                text
            );
        }
    }
}
