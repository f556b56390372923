//! IPv4 and IPv6 reassembly (RFC 791 §3.2, RFC 8200 §4.5), so that a segment sent in
//! fragments is read once, whole, when its last piece arrives: where tshark's reassembly shows
//! it too. Memory is bounded: past a few thousand unfinished datagrams the oldest are given up.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};

use wire::{IPV6_HEADER_LEN, Ipv4View, Ipv6View};

/// Unfinished datagrams kept at most.
const MAX_PENDING: usize = 4096;

/// A datagram is known by its source, destination, identification (and, in IPv4, protocol).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4(Ipv4Addr, Ipv4Addr, u16, u8),
    V6(Ipv6Addr, Ipv6Addr, u32),
}

#[derive(Default)]
struct Pending {
    /// The first fragment's header.
    header: Option<Vec<u8>>,
    /// The pieces, by offset.
    pieces: BTreeMap<usize, Vec<u8>>,
    /// The datagram's length, once its last fragment is in.
    total: Option<usize>,
}

impl Pending {
    /// The whole datagram's data, if every octet is in, and the first fragment's header.
    fn whole(&self) -> Option<(&[u8], Vec<u8>)> {
        let (header, total) = (self.header.as_ref()?, self.total?);
        let mut data = Vec::with_capacity(total);
        for (&offset, piece) in &self.pieces {
            if offset > data.len() {
                return None;
            }
            let skip = data.len() - offset;
            data.extend_from_slice(piece.get(skip..).unwrap_or_default());
        }
        if data.len() < total {
            return None;
        }
        data.truncate(total);
        Some((header, data))
    }
}

/// Fragments waiting for the rest of their datagram.
#[derive(Default)]
pub(crate) struct Defrag {
    pending: HashMap<Key, Pending>,
    order: VecDeque<Key>,
}

impl Defrag {
    /// Take an IPv4 fragment; the whole datagram once its last missing piece is in: the
    /// first header with the fragment fields cleared and the total length set, then the
    /// data. A fragment cut short by the capture's snaplen cannot complete its datagram.
    pub fn fragment(&mut self, ip: &[u8]) -> Option<Vec<u8>> {
        let view = Ipv4View::new_checked(ip).ok()?;
        let key = Key::V4(view.src(), view.dst(), view.ident(), view.protocol());
        let header_len = usize::from(ip[0] & 0x0f) * 4;
        let end = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let data = ip.get(header_len..end)?;
        let piece = Piece {
            header: &ip[..header_len],
            offset: view.fragment_offset(),
            more: view.more_fragments(),
            data,
        };
        let (header, data) = self.take(key, piece)?;
        let mut out = header;
        let length = u16::try_from(out.len() + data.len()).ok()?;
        out[2..4].copy_from_slice(&length.to_be_bytes());
        out[6..8].copy_from_slice(&[0, 0]);
        out.extend_from_slice(&data);
        Some(out)
    }

    /// Take an IPv6 fragment; once whole, the datagram as a fixed header whose next header
    /// is the fragmented protocol, then the data (extension headers before the Fragment
    /// header are not kept: nothing after reassembly reads them).
    pub fn fragment_v6(&mut self, ip: &[u8]) -> Option<Vec<u8>> {
        let view = Ipv6View::new_checked(ip).ok()?;
        let transport = view.transport()?;
        let (offset, more, ident) = transport.fragment?;
        let data = transport.payload.get(..transport.wire_len)?;
        let mut header = ip[..IPV6_HEADER_LEN].to_vec();
        header[6] = transport.protocol;
        let key = Key::V6(view.src(), view.dst(), ident);
        let piece = Piece {
            header: &header,
            offset,
            more,
            data,
        };
        let (header, data) = self.take(key, piece)?;
        let mut out = header;
        let length = u16::try_from(data.len()).ok()?;
        out[4..6].copy_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&data);
        Some(out)
    }

    /// File a piece; the first header and the whole data once nothing is missing.
    fn take(&mut self, key: Key, piece: Piece<'_>) -> Option<(Vec<u8>, Vec<u8>)> {
        if !self.pending.contains_key(&key) {
            if self.order.len() >= MAX_PENDING {
                if let Some(oldest) = self.order.pop_front() {
                    self.pending.remove(&oldest);
                }
            }
            self.order.push_back(key);
        }
        let pending = self.pending.entry(key).or_default();
        if piece.offset == 0 {
            pending.header = Some(piece.header.to_vec());
        }
        if !piece.more {
            pending.total = Some(piece.offset + piece.data.len());
        }
        pending.pieces.insert(piece.offset, piece.data.to_vec());
        let (header, data) = pending.whole()?;
        let whole = (header.to_vec(), data);
        self.pending.remove(&key);
        self.order.retain(|k| *k != key);
        Some(whole)
    }
}

/// One fragment: its header, where its data goes, whether more follow.
struct Piece<'a> {
    header: &'a [u8],
    offset: usize,
    more: bool,
    data: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(ident: u16, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let length = (20 + data.len()) as u16;
        ip[2..4].copy_from_slice(&length.to_be_bytes());
        ip[4..6].copy_from_slice(&ident.to_be_bytes());
        let field = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        ip[6..8].copy_from_slice(&field.to_be_bytes());
        ip.extend_from_slice(data);
        ip
    }

    #[test]
    fn pieces_in_any_order_make_the_datagram_once() {
        let mut d = Defrag::default();
        let data: Vec<u8> = (0..40).collect();
        assert_eq!(d.fragment(&fragment(7, 16, true, &data[16..32])), None);
        assert_eq!(d.fragment(&fragment(7, 32, false, &data[32..])), None);
        let whole = d
            .fragment(&fragment(7, 0, true, &data[..16]))
            .expect("complete");
        assert_eq!(&whole[20..], &data[..]);
        assert_eq!(u16::from_be_bytes([whole[2], whole[3]]), 60);
        assert_eq!(&whole[6..8], &[0, 0]);
        assert!(d.pending.is_empty() && d.order.is_empty());
    }

    #[test]
    fn a_cut_fragment_never_completes_and_memory_stays_bounded() {
        let mut d = Defrag::default();
        let cut = fragment(1, 0, true, &[0; 16]);
        assert_eq!(d.fragment(&cut[..30]), None);
        for ident in 0..(MAX_PENDING as u16 + 10) {
            d.fragment(&fragment(ident, 8, true, &[0; 8]));
        }
        assert_eq!(d.pending.len(), MAX_PENDING);
    }
}
