//! Addresses and ports of this host, as the kernel sees them.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener};

/// Whether `ip` is an address of this host (or the wildcard 0.0.0.0 / ::).
/// Asking the kernel to bind it is the one test that agrees with what Docker
/// will meet when it publishes a port there.
pub fn is_local_address(ip: IpAddr) -> bool {
    if ip.is_unspecified() {
        return true;
    }
    match TcpListener::bind(SocketAddr::new(ip, 0)) {
        Ok(_) => true,
        Err(error) => error.kind() != ErrorKind::AddrNotAvailable,
    }
}

/// Whether a TCP listener could be opened on `ip:port` now.
pub fn port_is_free(ip: IpAddr, port: u16) -> bool {
    TcpListener::bind(SocketAddr::new(ip, port)).is_ok()
}

/// Whether two publish addresses can collide: the same address, or either a wildcard.
pub fn addresses_overlap(a: &str, b: &str) -> bool {
    let wildcard = |text: &str| text.is_empty() || text == "0.0.0.0" || text == "::";
    a == b || wildcard(a) || wildcard(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_overlap_every_address() {
        assert!(addresses_overlap("127.0.0.2", "127.0.0.2"));
        assert!(!addresses_overlap("127.0.0.2", "127.0.0.3"));
        for wildcard in ["", "0.0.0.0", "::"] {
            assert!(addresses_overlap(wildcard, "127.0.0.3"), "{wildcard}");
            assert!(addresses_overlap("127.0.0.3", wildcard), "{wildcard}");
        }
    }

    #[test]
    fn the_wildcard_and_loopback_are_local_and_documentation_addresses_are_not() {
        assert!(is_local_address("0.0.0.0".parse().unwrap()));
        assert!(is_local_address("127.0.0.1".parse().unwrap()));
        assert!(!is_local_address("203.0.113.7".parse().unwrap()));
    }
}
