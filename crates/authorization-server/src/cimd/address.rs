//! Which IP addresses a metadata fetch may connect to (CIMD draft §6.5 "SSRF Attacks",
//! RFC 6890 special-purpose address registries).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP address is, for deciding whether the authorization server may
/// connect to it on a client's say-so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// Globally reachable unicast: the only class fetched by default.
    Global,
    /// `127.0.0.0/8`, `::1` (RFC 6890 §2.2.2, §2.2.3).
    Loopback,
    /// RFC 1918 private ranges, IPv6 unique-local `fc00::/7` (RFC 4193) and the deprecated
    /// site-local `fec0::/10`.
    Private,
    /// `169.254.0.0/16` (cloud metadata endpoints live here), `fe80::/10`.
    LinkLocal,
    /// Carrier-grade NAT shared space `100.64.0.0/10` (RFC 6598).
    SharedAddressSpace,
    /// `0.0.0.0/8`, `::` — on many systems a connection to them reaches the local host.
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Documentation ranges: `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`,
    /// `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Any other special-purpose range: IETF protocol assignments, benchmarking, reserved,
    /// 6to4 and Teredo, NAT64 local use, discard-only.
    Reserved,
}

impl AddressClass {
    /// Whether a fetch may connect to an address of this class. Only global addresses are
    /// allowed, unless `allow_private` (local development and tests) also allows loopback,
    /// private, link-local, shared and documentation addresses; unspecified, multicast,
    /// broadcast and reserved addresses are never connected to.
    pub fn is_allowed(self, allow_private: bool) -> bool {
        match self {
            Self::Global => true,
            Self::Loopback
            | Self::Private
            | Self::LinkLocal
            | Self::SharedAddressSpace
            | Self::Documentation => allow_private,
            Self::Unspecified | Self::Multicast | Self::Broadcast | Self::Reserved => false,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::SharedAddressSpace => "shared (CGNAT)",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies an address. IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`)
/// addresses are classified by the IPv4 address they carry.
pub fn classify_address(address: IpAddr) -> AddressClass {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(address: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = address.octets();
    match (a, b, c) {
        (0, _, _) => AddressClass::Unspecified,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => AddressClass::Private,
        (100, 64..=127, _) => AddressClass::SharedAddressSpace,
        (127, _, _) => AddressClass::Loopback,
        (169, 254, _) => AddressClass::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddressClass::Documentation,
        // IETF protocol assignments, 6to4 relay anycast, benchmarking.
        (192, 0, 0) | (192, 88, 99) | (198, 18..=19, _) => AddressClass::Reserved,
        (224..=239, _, _) => AddressClass::Multicast,
        _ if address == Ipv4Addr::BROADCAST => AddressClass::Broadcast,
        (240..=255, _, _) => AddressClass::Reserved,
        _ => AddressClass::Global,
    }
}

fn classify_v6(address: Ipv6Addr) -> AddressClass {
    if let Some(v4) = address.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if address.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if address.is_loopback() {
        return AddressClass::Loopback;
    }
    let segments = address.segments();
    match segments {
        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the IPv4 address it reaches.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => {
            classify_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)))
        }
        // IPv4-compatible ::/96 (deprecated), NAT64 local use 64:ff9b:1::/48, discard-only 100::/64.
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] | [0x100, 0, 0, 0, ..] => {
            AddressClass::Reserved
        }
        [0x2001, 0xdb8, ..] => AddressClass::Documentation,
        [0x3fff, second, ..] if second < 0x1000 => AddressClass::Documentation,
        // IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID…), 6to4 2002::/16.
        [0x2001, second, ..] if second < 0x200 => AddressClass::Reserved,
        [0x2002, ..] => AddressClass::Reserved,
        [first, ..] if first & 0xfe00 == 0xfc00 => AddressClass::Private,
        [first, ..] if first & 0xffc0 == 0xfec0 => AddressClass::Private,
        [first, ..] if first & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        [first, ..] if first & 0xff00 == 0xff00 => AddressClass::Multicast,
        _ => AddressClass::Global,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_special_purpose_addresses() {
        use AddressClass::*;
        let cases = [
            ("93.184.215.14", Global),
            ("8.8.8.8", Global),
            ("1.1.1.1", Global),
            ("172.15.255.255", Global),
            ("172.32.0.1", Global),
            ("100.63.255.255", Global),
            ("100.128.0.1", Global),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.0.0.1", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("169.254.169.254", LinkLocal),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("192.0.0.8", Reserved),
            ("192.88.99.1", Reserved),
            ("198.18.0.1", Reserved),
            ("198.19.255.255", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Broadcast),
            ("2606:4700::1111", Global),
            ("2001:4860:4860::8888", Global),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:8.8.8.8", Global),
            ("::127.0.0.1", Reserved),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::808:808", Global),
            ("64:ff9b:1::1", Reserved),
            ("100::1", Reserved),
            ("2001::1", Reserved),
            ("2001:2::1", Reserved),
            ("2002:7f00:1::1", Reserved),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("3fff:fff::1", Documentation),
            ("3fff:1000::1", Global),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("ff02::1", Multicast),
        ];
        for (text, expected) in cases {
            let address: IpAddr = text.parse().unwrap();
            assert_eq!(classify_address(address), expected, "{text}");
        }
    }

    #[test]
    fn allows_only_global_addresses_unless_private_ones_are_allowed() {
        for class in [
            AddressClass::Loopback,
            AddressClass::Private,
            AddressClass::LinkLocal,
            AddressClass::SharedAddressSpace,
            AddressClass::Documentation,
        ] {
            assert!(!class.is_allowed(false), "{class}");
            assert!(class.is_allowed(true), "{class}");
        }
        for class in [
            AddressClass::Unspecified,
            AddressClass::Multicast,
            AddressClass::Broadcast,
            AddressClass::Reserved,
        ] {
            assert!(!class.is_allowed(false), "{class}");
            assert!(!class.is_allowed(true), "{class}");
        }
        assert!(AddressClass::Global.is_allowed(false));
    }
}
