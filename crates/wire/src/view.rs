//! Zero-copy views of packet headers over any byte buffer, in the manner of smoltcp's `wire`.
//!
//! The contract: `new_checked` checks once that the whole fixed header is there and that the
//! header's own length fields fit inside the buffer; after that no accessor can panic, whatever
//! the bytes say. A payload may be shorter than its header claims (a capture cut by a snaplen):
//! `payload()` gives the octets that are there, and the length fields tell what was sent.
//! Views over `&mut [u8]` also write (the router lowers a TTL and fixes the checksum in place).

use std::net::Ipv4Addr;

use crate::{MacAddr, TcpFlags};

/// A header that is not all there, or whose length fields contradict the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// Fewer octets than the header needs.
    #[error("{layer} cut short: {have} of at least {need} octets")]
    Truncated {
        /// The layer being read.
        layer: &'static str,
        /// Octets its header needs.
        need: usize,
        /// Octets there are.
        have: usize,
    },
    /// A field that makes the header unreadable (a header length below the minimum, another
    /// IP version, a hardware type ARP over Ethernet does not use).
    #[error("{layer}: {what}")]
    Malformed {
        /// The layer being read.
        layer: &'static str,
        /// What is wrong.
        what: &'static str,
    },
}

fn need(layer: &'static str, need: usize, have: usize) -> Result<(), ViewError> {
    if have < need {
        Err(ViewError::Truncated { layer, need, have })
    } else {
        Ok(())
    }
}

// The accessors below index only below the length checked in `new_checked`.
#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn mac(b: &[u8], at: usize) -> MacAddr {
    MacAddr([b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5]])
}

fn ip(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// The Internet checksum (RFC 1071) of `data`, starting from `sum`; summed four octets at a
/// time and folded at the end (RFC 1071 §2(B)).
pub fn internet_checksum(mut sum: u64, data: &[u8]) -> u16 {
    let mut words = data.chunks_exact(4);
    for word in &mut words {
        sum += u64::from(u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum += u64::from(u32::from_be_bytes(tail));
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The checksum of `body` under an IPv4 pseudo-header (RFC 9293 §3.1, RFC 768).
pub fn pseudo_header_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, body: &[u8]) -> u16 {
    let sum = u64::from(u32::from(src))
        + u64::from(u32::from(dst))
        + u64::from(protocol)
        + body.len() as u64;
    internet_checksum(sum, body)
}

/// EtherTypes packetlab reads.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// An IEEE 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
}

/// IP protocol numbers packetlab reads.
pub mod protocol {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

/// An Ethernet II frame.
#[derive(Debug, Clone, Copy)]
pub struct EthernetView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetView<T> {
    /// The header's length.
    pub const HEADER_LEN: usize = 14;

    /// A view, once the 14-octet header is known to be there.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, ViewError> {
        need("Ethernet", Self::HEADER_LEN, buffer.as_ref().len())?;
        Ok(EthernetView { buffer })
    }

    /// Destination MAC.
    #[inline]
    pub fn dst(&self) -> MacAddr {
        mac(self.buffer.as_ref(), 0)
    }

    /// Source MAC.
    #[inline]
    pub fn src(&self) -> MacAddr {
        mac(self.buffer.as_ref(), 6)
    }

    /// The EtherType.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 12)
    }

    /// What follows the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::HEADER_LEN..]
    }
}

/// An ARP packet for IPv4 over Ethernet (RFC 826).
#[derive(Debug, Clone, Copy)]
pub struct ArpView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpView<T> {
    /// Its length.
    pub const LEN: usize = 28;

    /// A view, once all 28 octets are there and the packet maps IPv4 to Ethernet.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, ViewError> {
        let b = buffer.as_ref();
        need("ARP", Self::LEN, b.len())?;
        if be16(b, 0) != 1 || be16(b, 2) != ethertype::IPV4 || b[4] != 6 || b[5] != 4 {
            return Err(ViewError::Malformed {
                layer: "ARP",
                what: "not IPv4 over Ethernet",
            });
        }
        Ok(ArpView { buffer })
    }

    /// The operation: 1 request, 2 reply.
    #[inline]
    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_mac(&self) -> MacAddr {
        mac(self.buffer.as_ref(), 8)
    }

    /// Sender protocol address.
    #[inline]
    pub fn sender_ip(&self) -> Ipv4Addr {
        ip(self.buffer.as_ref(), 14)
    }

    /// Target hardware address.
    #[inline]
    pub fn target_mac(&self) -> MacAddr {
        mac(self.buffer.as_ref(), 18)
    }

    /// Target protocol address.
    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        ip(self.buffer.as_ref(), 24)
    }
}

/// An IPv4 packet (RFC 791).
#[derive(Debug, Clone, Copy)]
pub struct Ipv4View<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4View<T> {
    /// The shortest header.
    pub const MIN_HEADER_LEN: usize = 20;

    /// A view, once the header (with its options) is there and says IPv4.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, ViewError> {
        let b = buffer.as_ref();
        need("IPv4", Self::MIN_HEADER_LEN, b.len())?;
        if b[0] >> 4 != 4 {
            return Err(ViewError::Malformed {
                layer: "IPv4",
                what: "the version is not 4",
            });
        }
        let header_len = usize::from(b[0] & 0x0f) * 4;
        if header_len < Self::MIN_HEADER_LEN {
            return Err(ViewError::Malformed {
                layer: "IPv4",
                what: "the header length is below 20 octets",
            });
        }
        need("IPv4", header_len, b.len())?;
        Ok(Ipv4View { buffer })
    }

    /// Header length in octets (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f) * 4
    }

    /// The total length field: header and payload as sent.
    #[inline]
    pub fn total_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), 2))
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// The flags (3 bits) and fragment offset (13 bits, in 8-octet units) as one field.
    #[inline]
    pub fn flags_fragment(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// The fragment offset in octets; a later fragment carries no transport header.
    #[inline]
    pub fn fragment_offset(&self) -> usize {
        usize::from(self.flags_fragment() & 0x1fff) * 8
    }

    /// The More Fragments flag: more of this datagram follows in another fragment.
    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.flags_fragment() & 0x2000 != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[8]
    }

    /// The protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[9]
    }

    /// The header checksum field.
    #[inline]
    pub fn header_checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 10)
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        ip(self.buffer.as_ref(), 12)
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        ip(self.buffer.as_ref(), 16)
    }

    /// Whether the header sums to all ones, checksum included.
    #[inline]
    pub fn header_checksum_ok(&self) -> bool {
        internet_checksum(0, &self.buffer.as_ref()[..self.header_len()]) == 0
    }

    /// The payload's length as sent (total length less the header).
    #[inline]
    pub fn payload_len(&self) -> usize {
        self.total_len().saturating_sub(self.header_len())
    }

    /// Whether every octet the total length names is in the buffer.
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.buffer.as_ref().len() >= self.total_len()
    }

    /// The payload octets there are: up to the total length (Ethernet padding after it is
    /// not payload), fewer where the buffer was cut short.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.payload_range()]
    }

    /// Where [`Ipv4View::payload`] lies in the buffer.
    #[inline]
    pub fn payload_range(&self) -> std::ops::Range<usize> {
        let end = self
            .total_len()
            .clamp(self.header_len(), self.buffer.as_ref().len());
        self.header_len()..end
    }

    /// The header and the payload there is, without trailing padding.
    #[inline]
    pub fn packet(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..self.total_len().clamp(self.header_len(), b.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4View<T> {
    /// Set the TTL (the checksum is then stale: see [`Ipv4View::fill_header_checksum`]).
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[8] = ttl;
    }

    /// Recompute the header checksum (RFC 791, RFC 1071).
    #[inline]
    pub fn fill_header_checksum(&mut self) {
        let header_len = self.header_len();
        let b = self.buffer.as_mut();
        b[10..12].copy_from_slice(&[0, 0]);
        let sum = internet_checksum(0, &b[..header_len]);
        b[10..12].copy_from_slice(&sum.to_be_bytes());
    }
}

/// One TCP option as read from a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of the option list.
    End,
    /// Padding.
    Nop,
    /// Maximum segment size (RFC 9293 §3.7.1).
    Mss(u16),
    /// Window scale shift (RFC 7323 §2).
    WindowScale(u8),
    /// SACK permitted (RFC 2018).
    SackPermitted,
    /// SACK blocks (RFC 2018), as left and right edges.
    Sack(&'a [u8]),
    /// Timestamps (RFC 7323 §3): TSval and TSecr.
    Timestamps(u32, u32),
    /// Any other kind, with its length.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Its length field.
        len: u8,
    },
    /// An option whose length runs past the header or is below 2: reading stops here.
    Malformed {
        /// Option kind.
        kind: u8,
    },
}

/// The options of a TCP header, in order.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    /// The options in these octets (a header's bytes after its first 20).
    pub fn new(bytes: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions { rest: bytes }
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            0 => {
                self.rest = &[];
                return Some(TcpOption::End);
            }
            1 => {
                self.rest = after;
                return Some(TcpOption::Nop);
            }
            _ => {}
        }
        let len = after.first().copied().unwrap_or(0);
        let Some(body) = self.rest.get(2..usize::from(len)).filter(|_| len >= 2) else {
            self.rest = &[];
            return Some(TcpOption::Malformed { kind });
        };
        self.rest = &self.rest[usize::from(len)..];
        Some(match (kind, body.len()) {
            (2, 2) => TcpOption::Mss(be16(body, 0)),
            (3, 1) => TcpOption::WindowScale(body[0]),
            (4, 0) => TcpOption::SackPermitted,
            (5, n) if n % 8 == 0 => TcpOption::Sack(body),
            (8, 8) => TcpOption::Timestamps(be32(body, 0), be32(body, 4)),
            _ => TcpOption::Unknown { kind, len },
        })
    }
}

/// A TCP segment (RFC 9293 §3.1).
#[derive(Debug, Clone, Copy)]
pub struct TcpView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpView<T> {
    /// The shortest header.
    pub const MIN_HEADER_LEN: usize = 20;

    /// A view, once the fixed 20-octet header is there with a data offset of at least five
    /// words. The options may be cut short (a capture with a small snaplen): they and the
    /// payload give what there is; [`TcpView::header_complete`] says whether all is there.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, ViewError> {
        let b = buffer.as_ref();
        need("TCP", Self::MIN_HEADER_LEN, b.len())?;
        if usize::from(b[12] >> 4) * 4 < Self::MIN_HEADER_LEN {
            return Err(ViewError::Malformed {
                layer: "TCP",
                what: "the data offset is below 5 words",
            });
        }
        Ok(TcpView { buffer })
    }

    /// Whether the whole header, options included, is in the buffer.
    #[inline]
    pub fn header_complete(&self) -> bool {
        self.buffer.as_ref().len() >= self.header_len()
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Sequence number.
    #[inline]
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), 8)
    }

    /// Header length in octets (data offset × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }

    /// The control bits as one octet (CWR … FIN).
    #[inline]
    pub fn flag_bits(&self) -> u8 {
        self.buffer.as_ref()[13]
    }

    /// The control bits packetlab uses.
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits(self.flag_bits())
    }

    /// The window, unscaled.
    #[inline]
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), 14)
    }

    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 16)
    }

    /// The urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        be16(self.buffer.as_ref(), 18)
    }

    /// The option octets there are.
    #[inline]
    pub fn option_bytes(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[Self::MIN_HEADER_LEN..self.header_len().min(b.len())]
    }

    /// The options, in order.
    #[inline]
    pub fn options(&self) -> TcpOptions<'_> {
        TcpOptions {
            rest: self.option_bytes(),
        }
    }

    /// The payload octets there are.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }

    /// Whether the segment (the whole buffer) sums to all ones under the pseudo-header.
    #[inline]
    pub fn checksum_ok(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        pseudo_header_checksum(src, dst, protocol::TCP, self.buffer.as_ref()) == 0
    }
}

/// A UDP datagram (RFC 768).
#[derive(Debug, Clone, Copy)]
pub struct UdpView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpView<T> {
    /// The header's length.
    pub const HEADER_LEN: usize = 8;

    /// A view, once the 8-octet header is there.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, ViewError> {
        need("UDP", Self::HEADER_LEN, buffer.as_ref().len())?;
        Ok(UdpView { buffer })
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// The length field: header and data as sent.
    #[inline]
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// The checksum field (0: the sender computed none).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// The data there is, up to the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.payload_range()]
    }

    /// Where [`UdpView::payload`] lies in the buffer.
    #[inline]
    pub fn payload_range(&self) -> std::ops::Range<usize> {
        let end = usize::from(self.length()).clamp(Self::HEADER_LEN, self.buffer.as_ref().len());
        Self::HEADER_LEN..end
    }

    /// Whether the checksum is right, or absent (allowed over IPv4, RFC 768).
    #[inline]
    pub fn checksum_ok(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let b = self.buffer.as_ref();
        let end = usize::from(self.length()).clamp(Self::HEADER_LEN, b.len());
        self.checksum() == 0 || pseudo_header_checksum(src, dst, protocol::UDP, &b[..end]) == 0
    }
}

/// An ICMP message (RFC 792): every kind packetlab reads has an 8-octet header.
#[derive(Debug, Clone, Copy)]
pub struct IcmpView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpView<T> {
    /// The header's length.
    pub const HEADER_LEN: usize = 8;

    /// A view, once the 8-octet header is there.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, ViewError> {
        need("ICMP", Self::HEADER_LEN, buffer.as_ref().len())?;
        Ok(IcmpView { buffer })
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// An echo's identifier (the header's fifth and sixth octets).
    #[inline]
    pub fn echo_id(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// An echo's sequence number.
    #[inline]
    pub fn echo_seq(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// What follows the header: an echo's data, or the quoted datagram of an error.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame with every layer: Ethernet, IPv4 with an option, TCP with options and data.
    fn sample() -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&[
            0x46, 0, 0, 56, 0, 7, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 1,
        ]);
        f.extend_from_slice(&[
            0xc0, 0x00, 0x23, 0x28, 0, 0, 0, 1, 0, 0, 0, 0, 0x70, 0x12, 0xff, 0xff, 0, 0, 0, 0, 2,
            4, 5, 0xb4, 1, 3, 3, 7,
        ]);
        f.extend_from_slice(b"data");
        let mut ip = Ipv4View::new_checked(&mut f[14..]).unwrap();
        ip.fill_header_checksum();
        f
    }

    #[test]
    fn every_prefix_of_a_frame_is_refused_or_read_without_panic() {
        let frame = sample();
        for end in 0..=frame.len() {
            let bytes = &frame[..end];
            let Ok(eth) = EthernetView::new_checked(bytes) else {
                assert!(end < 14);
                continue;
            };
            let _ = (
                eth.src(),
                eth.dst(),
                eth.ethertype(),
                ArpView::new_checked(eth.payload()),
            );
            let Ok(ip) = Ipv4View::new_checked(eth.payload()) else {
                continue;
            };
            let _ = (
                ip.header_checksum_ok(),
                ip.payload_len(),
                ip.packet(),
                ip.is_complete(),
            );
            if let Ok(icmp) = IcmpView::new_checked(ip.payload()) {
                let _ = (icmp.echo_id(), icmp.echo_seq(), icmp.data().len());
            }
            if let Ok(udp) = UdpView::new_checked(ip.payload()) {
                let _ = (udp.payload(), udp.checksum_ok(ip.src(), ip.dst()));
            }
            if let Ok(tcp) = TcpView::new_checked(ip.payload()) {
                let options: Vec<TcpOption> = tcp.options().collect();
                if tcp.header_complete() {
                    assert_eq!(options[0], TcpOption::Mss(1460));
                }
                let _ = (
                    tcp.flags(),
                    tcp.payload(),
                    tcp.checksum_ok(ip.src(), ip.dst()),
                );
            }
        }
    }

    #[test]
    fn every_byte_value_in_every_position_reads_without_panic() {
        let frame = sample();
        for at in 0..frame.len() {
            for value in [0u8, 1, 2, 0x0f, 0x45, 0x4f, 0x50, 0xf0, 0xff] {
                let mut bytes = frame.clone();
                bytes[at] = value;
                let Ok(ip) = Ipv4View::new_checked(&bytes[14..]) else {
                    continue;
                };
                if let Ok(tcp) = TcpView::new_checked(ip.payload()) {
                    let _ = tcp.options().count();
                    let _ = tcp.payload().len();
                }
            }
        }
    }

    #[test]
    fn the_router_rewrite_keeps_the_header_checksum_right() {
        let mut frame = sample();
        let mut ip = Ipv4View::new_checked(&mut frame[14..]).unwrap();
        assert!(ip.header_checksum_ok());
        ip.set_ttl(63);
        assert!(!ip.header_checksum_ok());
        ip.fill_header_checksum();
        assert!(ip.header_checksum_ok());
        assert_eq!(ip.ttl(), 63);
    }

    #[test]
    fn malformed_length_fields_are_refused() {
        let mut frame = sample();
        frame[14] = 0x44; // IHL 4: 16 octets
        assert!(matches!(
            Ipv4View::new_checked(&frame[14..]),
            Err(ViewError::Malformed { .. })
        ));
        let mut frame = sample();
        frame[14 + 24 + 12] = 0xf0; // data offset 60 octets, beyond the buffer
        let ip = Ipv4View::new_checked(&frame[14..]).unwrap();
        let tcp = TcpView::new_checked(ip.payload()).unwrap();
        assert!(!tcp.header_complete());
        assert_eq!(tcp.option_bytes().len(), 12);
        assert!(tcp.payload().is_empty());
        frame[14 + 24 + 12] = 0x40; // data offset 16 octets, below the fixed header
        let ip = Ipv4View::new_checked(&frame[14..]).unwrap();
        assert!(matches!(
            TcpView::new_checked(ip.payload()),
            Err(ViewError::Malformed { .. })
        ));
    }
}
