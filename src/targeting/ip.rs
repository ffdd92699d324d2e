//! ipcidr targets: Python's `ipaddress` as Salt's ipcidr matcher uses it (Python 3.11).

use super::Abort;
use serde_json::{Map, Value};

/// An ipcidr target: an address (compared as Python's `str()` of it) or a network.
#[derive(Clone, Debug)]
pub(super) enum Target {
    Address { v6: bool, text: String },
    Network { v6: bool, network: u128, mask: u128 },
}

impl Target {
    /// `ip_address(text)`, else `ip_network(text)` (strict: no host bits), else `None`.
    pub(super) fn parse(text: &str) -> Option<Target> {
        if let Some(address) = Address::parse(text) {
            return Some(Target::Address {
                v6: address.v6,
                text: address.to_string(),
            });
        }
        network(text)
    }

    /// Salt's ipcidr matcher on one minion's grains.
    pub(super) fn matches(&self, grains: &Map<String, Value>) -> Result<bool, Abort> {
        let v6 = match self {
            Target::Address { v6, .. } | Target::Network { v6, .. } => *v6,
        };
        let Some(grain) = grains.get(if v6 { "ipv6" } else { "ipv4" }) else {
            return Ok(false);
        };
        match self {
            // `str(tgt) in grains[proto]`: list membership, but a substring test on a
            // string and a key test on a map; anything else raises TypeError.
            Target::Address { text, .. } => match grain {
                Value::Array(items) => Ok(items.iter().any(|i| i.as_str() == Some(text))),
                Value::String(s) => Ok(s.contains(text.as_str())),
                Value::Object(m) => Ok(m.contains_key(text.as_str())),
                _ => Err(Abort),
            },
            // `in_subnet`: every entry parsed with `ip_address` until one is inside; an
            // entry that does not parse raises.
            Target::Network { v6, network, mask } => {
                let items = match grain {
                    Value::Array(items) => items.as_slice(),
                    // Salt's `in_subnet(net, None)` checks the host's own addresses; a
                    // minion's grains are those, so brine reads null as none known.
                    Value::Null => &[],
                    single => std::slice::from_ref(single),
                };
                for item in items {
                    let (item_v6, int) = from_value(item).ok_or(Abort)?;
                    if item_v6 == *v6 && int & mask == *network {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// `ipaddress.ip_address(value)` for a grain entry: strings, and ints as Python takes them.
fn from_value(value: &Value) -> Option<(bool, u128)> {
    match value {
        Value::String(s) => Address::parse(s).map(|a| (a.v6, a.int)),
        Value::Bool(b) => Some((false, u128::from(*b))),
        Value::Number(n) => n.as_u64().map(|n| (n > u64::from(u32::MAX), u128::from(n))),
        _ => None,
    }
}

/// A parsed address.
pub(super) struct Address {
    v6: bool,
    int: u128,
    scope: Option<String>,
}

impl Address {
    /// `ipaddress.ip_address(text)`: IPv4 first, then IPv6 (with an optional `%scope`).
    pub(super) fn parse(text: &str) -> Option<Address> {
        if let Some(int) = v4(text) {
            return Some(Address {
                v6: false,
                int: u128::from(int),
                scope: None,
            });
        }
        let (int, scope) = v6_with_scope(text)?;
        Some(Address {
            v6: true,
            int,
            scope,
        })
    }
}

impl std::fmt::Display for Address {
    /// Python's `str()`: dotted quad, or RFC 5952 with the longest zero run (the first of
    /// equals, and only runs of two or more) as `::`. IPv4-mapped stays hex, as in 3.11.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.v6 {
            let b = (self.int as u32).to_be_bytes();
            return write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
        }
        let hextets: Vec<u16> = (0..8)
            .map(|i| (self.int >> (112 - 16 * i)) as u16)
            .collect();
        let (mut best_start, mut best_len, mut start, mut len) = (0, 0, 0, 0);
        for (i, &h) in hextets.iter().enumerate() {
            if h == 0 {
                if len == 0 {
                    start = i;
                }
                len += 1;
                if len > best_len {
                    (best_start, best_len) = (start, len);
                }
            } else {
                len = 0;
            }
        }
        let hex = |hs: &[u16]| {
            hs.iter()
                .map(|h| format!("{h:x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        if best_len > 1 {
            let (head, tail) = (&hextets[..best_start], &hextets[best_start + best_len..]);
            write!(f, "{}::{}", hex(head), hex(tail))?;
        } else {
            f.write_str(&hex(&hextets))?;
        }
        match &self.scope {
            Some(scope) => write!(f, "%{scope}"),
            None => Ok(()),
        }
    }
}

/// `IPv4Address(text)`: four decimal octets, no leading zeros, ASCII digits only.
fn v4(text: &str) -> Option<u32> {
    let mut parts = text.split('.');
    let mut int = 0u32;
    for _ in 0..4 {
        let octet = parts.next()?;
        if octet.is_empty()
            || octet.len() > 3
            || !octet.bytes().all(|b| b.is_ascii_digit())
            || (octet.len() > 1 && octet.starts_with('0'))
        {
            return None;
        }
        let value: u32 = octet.parse().ok()?;
        if value > 255 {
            return None;
        }
        int = int << 8 | value;
    }
    parts.next().is_none().then_some(int)
}

/// `IPv6Address(text)`: no `/`, an optional non-empty `%scope` without another `%`.
fn v6_with_scope(text: &str) -> Option<(u128, Option<String>)> {
    if text.contains('/') {
        return None;
    }
    let (address, scope) = match text.split_once('%') {
        None => (text, None),
        Some((_, scope)) if scope.is_empty() || scope.contains('%') => return None,
        Some((address, scope)) => (address, Some(scope.to_string())),
    };
    Some((v6(address)?, scope))
}

/// `IPv6Address._ip_int_from_string`, step for step.
fn v6(text: &str) -> Option<u128> {
    const HEXTETS: usize = 8;
    if text.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = text.split(':').map(str::to_string).collect();
    if parts.len() < 3 {
        return None;
    }
    // An IPv4 tail becomes two hextets.
    if parts.last().is_some_and(|p| p.contains('.')) {
        let tail = v4(&parts.pop()?)?;
        parts.push(format!("{:x}", tail >> 16));
        parts.push(format!("{:x}", tail & 0xffff));
    }
    if parts.len() > HEXTETS + 1 {
        return None;
    }
    // The one `::` (an empty part not at either end).
    let mut skip = None;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip.is_some() {
                return None;
            }
            skip = Some(i);
        }
    }
    let (hi, lo, skipped) = match skip {
        Some(at) => {
            let mut hi = at;
            let mut lo = parts.len() - at - 1;
            if parts[0].is_empty() {
                hi -= 1;
                if hi > 0 {
                    return None;
                }
            }
            if parts[parts.len() - 1].is_empty() {
                lo -= 1;
                if lo > 0 {
                    return None;
                }
            }
            let skipped = HEXTETS.checked_sub(hi + lo).filter(|&s| s >= 1)?;
            (hi, lo, skipped)
        }
        None => {
            if parts.len() != HEXTETS || parts[0].is_empty() || parts[HEXTETS - 1].is_empty() {
                return None;
            }
            (parts.len(), 0, 0)
        }
    };
    let hextet = |s: &str| -> Option<u128> {
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(s, 16).ok()
    };
    let mut int: u128 = 0;
    for part in &parts[..hi] {
        int = int << 16 | hextet(part)?;
    }
    for _ in 0..skipped {
        int <<= 16;
    }
    for part in &parts[parts.len() - lo..] {
        int = int << 16 | hextet(part)?;
    }
    Some(int)
}

/// `ip_network(text)` (strict): IPv4 with a prefix length, netmask or hostmask, else IPv6
/// with a prefix length; host bits set is an error.
fn network(text: &str) -> Option<Target> {
    let (address, mask) = match text.split_once('/') {
        Some((_, mask)) if mask.contains('/') => return None,
        Some((address, mask)) => (address, Some(mask)),
        None => (text, None),
    };
    if let Some(network) = v4(address) {
        if let Some(prefix) = mask.map_or(Some(32), v4_prefix) {
            let mask = prefix_mask(prefix, 32);
            return (u128::from(network) & !mask == 0).then_some(Target::Network {
                v6: false,
                network: u128::from(network),
                mask,
            });
        }
    }
    let (network, _scope) = v6_with_scope(address)?;
    let prefix = mask.map_or(Some(128), |m| prefix_length(m, 128))?;
    let mask = prefix_mask(prefix, 128);
    (network & !mask == 0).then_some(Target::Network {
        v6: true,
        network,
        mask,
    })
}

/// `_prefix_from_prefix_string`: ASCII digits only, at most `max`.
fn prefix_length(text: &str, max: u32) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = text.trim_start_matches('0');
    if trimmed.len() > 3 {
        return None;
    }
    let n: u32 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().ok()?
    };
    (n <= max).then_some(n)
}

/// An IPv4 mask: a prefix length, else a dotted netmask, else a dotted hostmask.
fn v4_prefix(text: &str) -> Option<u32> {
    if let Some(n) = prefix_length(text, 32) {
        return Some(n);
    }
    let int = v4(text)?;
    contiguous_prefix(int).or_else(|| contiguous_prefix(!int))
}

/// `_prefix_from_ip_int`: the prefix length of ones-then-zeros, or `None` if mixed.
fn contiguous_prefix(int: u32) -> Option<u32> {
    let zeros = int.trailing_zeros();
    let prefix = 32 - zeros;
    let ones = if zeros == 32 { 0 } else { int >> zeros };
    let all_ones = if prefix == 32 {
        u32::MAX
    } else {
        (1u32 << prefix) - 1
    };
    (ones == all_ones).then_some(prefix)
}

/// The network mask of a prefix, in the low `bits` bits of a u128.
fn prefix_mask(prefix: u32, bits: u32) -> u128 {
    let all: u128 = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if prefix == 0 {
        0
    } else {
        all & !((1u128 << (bits - prefix)) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_print_as_python_prints_them() {
        let cases = [
            ("::ffff:1.2.3.4", "::ffff:102:304"),
            ("FE80::1%eth0", "fe80::1%eth0"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("1::", "1::"),
            ("::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
            ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
            ("10.0.0.5", "10.0.0.5"),
        ];
        for (text, shown) in cases {
            let address = Address::parse(text).expect(text);
            assert_eq!(address.to_string(), shown, "{text}");
        }
        for bad in [
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1::",
            "::1:",
            "12345::",
            "1.2.3",
            "1.2.3.256",
            "01.2.3.4",
            "::%",
            "fe80::1%a%b",
            "1.2.3.4/32",
            "",
        ] {
            assert!(Address::parse(bad).is_none(), "{bad}");
        }
    }
}
