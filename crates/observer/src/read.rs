//! Reading pcap and pcapng files packet by packet, in bounded memory, with the byte offset
//! of every problem; and finding the IPv4 packet inside each frame whatever the link type.

use std::io::Read;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, PcapError};

/// A capture that cannot be read, and where.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message} (at byte offset {offset}{})", .file, .block.as_ref().map(|b| format!(", in {b}")).unwrap_or_default())]
pub struct ReadError {
    /// The file.
    pub file: String,
    /// Where in it.
    pub offset: u64,
    /// The block or record being read.
    pub block: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// One captured packet: when, the frame as captured, and its IPv4 packet (if it has one).
#[derive(Debug)]
pub struct Packet<'a> {
    /// Frame number, from 1.
    pub number: u64,
    /// Timestamp, nanoseconds since the epoch.
    pub t_ns: u64,
    /// The link type of the interface it was captured on.
    pub link: DataLink,
    /// The whole frame as captured (maybe cut short by a snaplen).
    pub frame: &'a [u8],
    /// Its length on the wire.
    pub orig_len: u32,
    /// The packet's comment (pcapng `opt_comment`), if it has one.
    pub comment: Option<&'a str>,
    /// The IPv4 header and what follows, as captured (maybe cut short by a snaplen).
    pub ipv4: Option<&'a [u8]>,
}

/// Where the IPv4 packet starts in a frame of this link type, if it is one.
pub fn ipv4_in(link: DataLink, frame: &[u8]) -> Option<&[u8]> {
    let ethertype_at = |offset: usize| -> Option<u16> {
        Some(u16::from_be_bytes([
            *frame.get(offset)?,
            *frame.get(offset + 1)?,
        ]))
    };
    let start = match link {
        DataLink::ETHERNET => {
            let mut offset = 12;
            // 802.1Q and 802.1ad tags push the EtherType back by four octets each.
            while matches!(ethertype_at(offset)?, 0x8100 | 0x88a8) {
                offset += 4;
            }
            (ethertype_at(offset)? == 0x0800).then_some(offset + 2)?
        }
        // Linux cooked capture v1: a 16-octet header ending in the protocol.
        DataLink::LINUX_SLL => (ethertype_at(14)? == 0x0800).then_some(16)?,
        // v2: a 20-octet header starting with it.
        DataLink::LINUX_SLL2 => (ethertype_at(0)? == 0x0800).then_some(20)?,
        DataLink::RAW | DataLink::IPV4 => 0,
        _ => return None,
    };
    let ip = frame.get(start..)?;
    (ip.first()? >> 4 == 4).then_some(ip)
}

const CHUNK: usize = 1 << 20;

/// Read a capture from `input`, calling `each` for every packet. Memory is bounded by the
/// largest block, not by the file.
pub fn for_each_packet(
    file: &str,
    mut input: impl Read,
    mut each: impl FnMut(Packet),
) -> Result<u64, ReadError> {
    let mut buffer: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut consumed: u64 = 0; // bytes of the file before buffer[0]
    let mut eof = false;
    let err = |offset: u64, block: Option<&str>, message: String| ReadError {
        file: file.to_string(),
        offset,
        block: block.map(str::to_string),
        message,
    };
    let mut fill = |buffer: &mut Vec<u8>, eof: &mut bool| -> Result<(), std::io::Error> {
        let mut chunk = vec![0u8; CHUNK];
        let n = input.read(&mut chunk)?;
        if n == 0 {
            *eof = true;
        }
        buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    while buffer.len() < 4 && !eof {
        fill(&mut buffer, &mut eof).map_err(|e| err(0, None, e.to_string()))?;
    }
    if buffer.len() < 4 {
        return Err(err(
            0,
            None,
            "too short to be a capture: expected a pcap or pcapng header".to_string(),
        ));
    }
    let magic = u32::from_le_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]);
    let pcapng = magic == 0x0a0d_0d0a;
    let pcap = matches!(magic, 0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1);
    if !pcap && !pcapng {
        return Err(err(
            0,
            None,
            format!(
                "not a capture: the file starts with {:02x} {:02x} {:02x} {:02x}; expected the \
                 magic number of pcap (a1b2c3d4) or pcapng (0a0d0d0a)",
                buffer[0], buffer[1], buffer[2], buffer[3]
            ),
        ));
    }
    let mut number = 0u64;
    // Parse what the buffer holds; on "need more bytes", read more; at the end, stop.
    macro_rules! more_or_fail {
        ($offset:expr, $what:expr, $e:expr) => {
            match $e {
                PcapError::IncompleteBuffer if !eof => {
                    fill(&mut buffer, &mut eof).map_err(|e| err($offset, None, e.to_string()))?;
                    continue;
                }
                PcapError::IncompleteBuffer => {
                    return Err(err(
                        $offset,
                        Some($what),
                        "the file ends in the middle of it (truncated)".to_string(),
                    ));
                }
                other => return Err(err($offset, Some($what), other.to_string())),
            }
        };
    }
    if pcap {
        let (header_len, parser) = loop {
            match PcapParser::new(&buffer) {
                Ok((rest, parser)) => break (buffer.len() - rest.len(), parser),
                Err(e) => more_or_fail!(0, "the pcap file header", e),
            }
        };
        let link = parser.header().datalink;
        let mut at = header_len;
        loop {
            if at == buffer.len() && eof {
                break;
            }
            if at == buffer.len() {
                fill(&mut buffer, &mut eof)
                    .map_err(|e| err(consumed + at as u64, None, e.to_string()))?;
                continue;
            }
            match parser.next_packet(&buffer[at..]) {
                Ok((rest, packet)) => {
                    number += 1;
                    let t = packet.timestamp;
                    each(Packet {
                        number,
                        t_ns: t.as_nanos() as u64,
                        link,
                        frame: &packet.data,
                        orig_len: packet.orig_len,
                        comment: None,
                        ipv4: ipv4_in(link, &packet.data),
                    });
                    at = buffer.len() - rest.len();
                }
                Err(e) => {
                    let offset = consumed + at as u64;
                    let what = format!("the record of packet {}", number + 1);
                    more_or_fail!(offset, &what, e)
                }
            }
            if at > CHUNK {
                buffer.drain(..at);
                consumed += at as u64;
                at = 0;
            }
        }
        return Ok(number);
    }
    let (mut at, mut parser) = loop {
        match PcapNgParser::new(&buffer) {
            Ok((rest, parser)) => break (buffer.len() - rest.len(), parser),
            Err(e) => more_or_fail!(0, "the section header block", e),
        }
    };
    let mut links: Vec<DataLink> = Vec::new();
    loop {
        if at == buffer.len() && eof {
            break;
        }
        if at == buffer.len() {
            fill(&mut buffer, &mut eof)
                .map_err(|e| err(consumed + at as u64, None, e.to_string()))?;
            continue;
        }
        let offset = consumed + at as u64;
        match parser.next_block(&buffer[at..]) {
            Ok((rest, block)) => {
                match block {
                    Block::InterfaceDescription(idb) => links.push(idb.linktype),
                    Block::EnhancedPacket(epb) => {
                        number += 1;
                        let Some(&link) = links.get(epb.interface_id as usize) else {
                            return Err(err(
                                offset,
                                Some("an enhanced packet block"),
                                format!(
                                    "packet {number} names interface {}, but only {} are \
                                     described before it",
                                    epb.interface_id,
                                    links.len()
                                ),
                            ));
                        };
                        let comment = epb.options.iter().find_map(|o| match o {
                            EnhancedPacketOption::Comment(c) => Some(c.as_ref()),
                            _ => None,
                        });
                        each(Packet {
                            number,
                            t_ns: epb.timestamp.as_nanos() as u64,
                            link,
                            frame: &epb.data,
                            orig_len: epb.original_len,
                            comment,
                            ipv4: ipv4_in(link, &epb.data),
                        });
                    }
                    Block::SimplePacket(spb) => {
                        number += 1;
                        let link = links.first().copied().unwrap_or(DataLink::ETHERNET);
                        each(Packet {
                            number,
                            t_ns: 0,
                            link,
                            frame: &spb.data,
                            orig_len: spb.original_len,
                            comment: None,
                            ipv4: ipv4_in(link, &spb.data),
                        });
                    }
                    Block::SectionHeader(_) => links.clear(),
                    _ => {}
                }
                at = buffer.len() - rest.len();
            }
            Err(e) => more_or_fail!(offset, "a block", e),
        }
        if at > CHUNK {
            buffer.drain(..at);
            consumed += at as u64;
            at = 0;
        }
    }
    Ok(number)
}
