//! Listener addresses and sizes as flags accept them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A listener flag: `IP:PORT`, a bare `PORT` (loopback), or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<SocketAddr>);

impl std::str::FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if matches!(s.to_ascii_lowercase().as_str(), "off" | "none" | "disabled") {
            return Ok(Self(None));
        }
        if let Ok(port) = s.parse::<u16>() {
            return Ok(Self(Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                port,
            ))));
        }
        s.parse::<SocketAddr>()
            .map(|addr| Self(Some(addr)))
            .map_err(|_| {
                format!("{s:?} is not IP:PORT, PORT or off (e.g. 127.0.0.1:4317, 0.0.0.0:4317)")
            })
    }
}

/// A byte size: `4194304`, `4MiB`, `512KiB`, `20MB`.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let number: usize = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 4194304, 4MiB, 512KiB)"))?;
    let multiplier: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_addresses_ports_and_off() {
        assert_eq!("off".parse::<Listen>(), Ok(Listen(None)));
        assert_eq!(
            "4317".parse::<Listen>().map(|l| l.0.map(|a| a.to_string())),
            Ok(Some("127.0.0.1:4317".to_owned()))
        );
        assert_eq!(
            "0.0.0.0:9411"
                .parse::<Listen>()
                .map(|l| l.0.map(|a| a.port())),
            Ok(Some(9411))
        );
        assert!("localhost:x".parse::<Listen>().is_err());
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("20MB"), Ok(20_000_000));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("").is_err());
    }
}
