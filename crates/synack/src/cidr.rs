//! An interface address with its prefix length: `10.7.0.2/24`, `fd00:7::2/64`.

use core::fmt;
use core::str::FromStr;
use std::net::IpAddr;

/// An address and prefix length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IpCidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (0-32 for IPv4, 0-128 for IPv6).
    pub prefix: u8,
}

/// Why an `ADDR/PREFIX` string did not parse.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CidrParseError(String);

impl fmt::Display for CidrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CidrParseError {}

impl FromStr for IpCidr {
    type Err = CidrParseError;

    fn from_str(s: &str) -> Result<IpCidr, CidrParseError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            CidrParseError(format!(
                "{s:?} is not an address: write ADDR/PREFIX, e.g. 10.7.0.2/24 or fd00:7::2/64"
            ))
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| {
                CidrParseError(format!("{s:?}: the prefix length must be 0 to {max}"))
            })?,
        };
        if addr.is_unspecified() || addr.is_multicast() {
            return Err(CidrParseError(format!(
                "{s:?}: the stack's address must be a unicast address"
            )));
        }
        Ok(IpCidr { addr, prefix })
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6_with_and_without_prefix() {
        let a: IpCidr = "10.7.0.2/24".parse().unwrap();
        assert_eq!((a.addr, a.prefix), ("10.7.0.2".parse().unwrap(), 24));
        let b: IpCidr = "fd00:7::2/64".parse().unwrap();
        assert_eq!((b.addr, b.prefix), ("fd00:7::2".parse().unwrap(), 64));
        let c: IpCidr = "10.7.0.2".parse().unwrap();
        assert_eq!(c.prefix, 32);
        assert_eq!(b.to_string(), "fd00:7::2/64");
    }

    #[test]
    fn rejects_bad_input_with_a_hint() {
        for bad in [
            "",
            "10.7.0.2/33",
            "fd00::1/129",
            "x/24",
            "0.0.0.0/0",
            "224.0.0.1/4",
            "10.7.0.2/-1",
        ] {
            let e = bad.parse::<IpCidr>().unwrap_err();
            assert!(!e.to_string().is_empty(), "{bad}");
        }
        assert!("nonsense"
            .parse::<IpCidr>()
            .unwrap_err()
            .to_string()
            .contains("10.7.0.2/24"));
    }
}
