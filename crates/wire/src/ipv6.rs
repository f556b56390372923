//! IPv6 (RFC 8200) as a reader needs it: the fixed header, and the walk over extension
//! headers to the transport header, noting a fragment on the way.

use std::net::Ipv6Addr;

use crate::view::ViewError;

pub(crate) mod icmpv6;
pub(crate) mod packet;

/// The fixed header's length.
pub const IPV6_HEADER_LEN: usize = 40;

/// An IPv6 packet: its fixed header checked to be there.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6View<'a> {
    buffer: &'a [u8],
}

/// Where an IPv6 packet's transport header is, after the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Transport<'a> {
    /// The transport protocol (6 for TCP).
    pub protocol: u8,
    /// Its header and payload, as captured.
    pub payload: &'a [u8],
    /// The payload's length on the wire, from the Payload Length field less the extension
    /// headers (a snaplen may have cut what was captured).
    pub wire_len: usize,
    /// A Fragment header's (offset in octets, more fragments, identification), if any.
    pub fragment: Option<(usize, bool, u32)>,
}

impl<'a> Ipv6View<'a> {
    /// A view, once the 40-octet header is there and says version 6.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Ipv6View<'a>, ViewError> {
        if buffer.len() < IPV6_HEADER_LEN {
            return Err(ViewError::Truncated {
                layer: "IPv6",
                need: IPV6_HEADER_LEN,
                have: buffer.len(),
            });
        }
        if buffer[0] >> 4 != 6 {
            return Err(ViewError::Malformed {
                layer: "IPv6",
                what: "the version is not 6",
            });
        }
        Ok(Ipv6View { buffer })
    }

    /// Source address.
    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.buffer[8..24]).unwrap_or_default())
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.buffer[24..40]).unwrap_or_default())
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer[7]
    }

    /// The Payload Length field: everything after the fixed header, extension headers included.
    pub fn payload_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.buffer[4], self.buffer[5]]))
    }

    /// The Next Header field.
    pub fn next_header(&self) -> u8 {
        self.buffer[6]
    }

    /// Follow the extension headers (hop-by-hop, routing, destination options, fragment,
    /// authentication) to the transport header; None when one is cut short, or the chain
    /// ends in ESP or No Next Header.
    pub fn transport(&self) -> Option<Ipv6Transport<'a>> {
        let mut protocol = self.next_header();
        let mut at = IPV6_HEADER_LEN;
        let mut fragment = None;
        for _ in 0..8 {
            let header = self.buffer.get(at..)?;
            let len = match protocol {
                0 | 43 | 60 => (usize::from(*header.get(1)?) + 1) * 8,
                44 => {
                    let field = u16::from_be_bytes([*header.get(2)?, *header.get(3)?]);
                    let ident = u32::from_be_bytes(header.get(4..8)?.try_into().ok()?);
                    fragment = Some((usize::from(field & 0xfff8), field & 1 == 1, ident));
                    8
                }
                51 => (usize::from(*header.get(1)?) + 2) * 4,
                50 | 59 => return None,
                _ => {
                    let wire_len = (IPV6_HEADER_LEN + self.payload_len()).saturating_sub(at);
                    return Some(Ipv6Transport {
                        protocol,
                        payload: header,
                        wire_len,
                        fragment,
                    });
                }
            };
            protocol = *header.first()?;
            at += len;
        }
        None
    }
}

/// The TCP/UDP checksum's pseudo-header sum for IPv6 (RFC 8200 §8.1) over `body`.
pub fn pseudo_header_checksum_v6(src: Ipv6Addr, dst: Ipv6Addr, protocol: u8, body: &[u8]) -> u16 {
    let words = |a: Ipv6Addr| -> u64 {
        a.octets()
            .chunks(2)
            .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
            .sum()
    };
    let sum = words(src) + words(dst) + u64::from(protocol) + body.len() as u64;
    crate::view::internet_checksum(sum, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next: u8, extensions: &[u8], transport: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((extensions.len() + transport.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(extensions);
        p.extend_from_slice(transport);
        p
    }

    #[test]
    fn the_walk_reaches_tcp_past_options_and_a_fragment_header() {
        let tcp = [0u8; 20];
        let plain = packet(6, &[], &tcp);
        let t = Ipv6View::new_checked(&plain).unwrap().transport().unwrap();
        assert_eq!(
            (t.protocol, t.payload.len(), t.wire_len, t.fragment),
            (6, 20, 20, None)
        );
        // Hop-by-hop options (8 octets), then a fragment header: offset 1448, more to come.
        let ext = [44, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0x05, 0xa9, 0, 0, 0, 7];
        let fragmented = packet(0, &ext, &tcp);
        let t = Ipv6View::new_checked(&fragmented)
            .unwrap()
            .transport()
            .unwrap();
        assert_eq!((t.protocol, t.fragment), (6, Some((1448, true, 7))));
        assert_eq!(t.wire_len, 20);
    }

    #[test]
    fn cut_or_encrypted_chains_end_the_walk() {
        let ext = [6, 3, 0, 0];
        let cut = packet(0, &ext, &[]);
        assert_eq!(Ipv6View::new_checked(&cut).unwrap().transport(), None);
        let esp = packet(50, &[0; 8], &[]);
        assert_eq!(Ipv6View::new_checked(&esp).unwrap().transport(), None);
        assert!(Ipv6View::new_checked(&[0x60; 39]).is_err());
        assert!(Ipv6View::new_checked(&[0x45; 40]).is_err());
    }
}
