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

/// A capture file read a chunk at a time: the bytes not yet parsed, and where they start.
struct Reader<'f, R: Read> {
    file: &'f str,
    input: R,
    buffer: Vec<u8>,
    /// Bytes of the file before `buffer[0]`.
    consumed: u64,
    eof: bool,
    /// Packets handed out so far.
    number: u64,
}

impl<R: Read> Reader<'_, R> {
    fn err(&self, offset: u64, block: Option<&str>, message: String) -> ReadError {
        ReadError {
            file: self.file.to_string(),
            offset,
            block: block.map(str::to_string),
            message,
        }
    }

    /// Read the next chunk onto the end of the buffer.
    fn fill(&mut self, offset: u64) -> Result<(), ReadError> {
        let mut chunk = vec![0u8; CHUNK];
        let n = self
            .input
            .read(&mut chunk)
            .map_err(|e| self.err(offset, None, e.to_string()))?;
        self.eof = n == 0;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// A parser stopped at `offset` in `what`: read more and try again (Ok), or say why the
    /// file cannot be read.
    fn more_or_fail(&mut self, offset: u64, what: &str, e: PcapError) -> Result<(), ReadError> {
        match e {
            PcapError::IncompleteBuffer if !self.eof => self.fill(offset),
            PcapError::IncompleteBuffer => Err(self.err(
                offset,
                Some(what),
                "the file ends in the middle of it (truncated)".to_string(),
            )),
            other => Err(self.err(offset, Some(what), other.to_string())),
        }
    }

    /// True at the end of the file; reads more when the buffer is used up.
    fn at_end(&mut self, at: usize) -> Result<bool, ReadError> {
        while at == self.buffer.len() {
            if self.eof {
                return Ok(true);
            }
            self.fill(self.consumed + at as u64)?;
        }
        Ok(false)
    }

    /// Forget what has been parsed once it is more than a chunk, so memory stays bounded.
    fn compact(&mut self, at: usize) -> usize {
        if at <= CHUNK {
            return at;
        }
        self.buffer.drain(..at);
        self.consumed += at as u64;
        0
    }

    /// Which format the file is, from its first four bytes.
    fn format(&mut self) -> Result<Format, ReadError> {
        while self.buffer.len() < 4 && !self.eof {
            self.fill(0)?;
        }
        let Some(&[a, b, c, d]) = self.buffer.first_chunk::<4>() else {
            return Err(self.err(
                0,
                None,
                "too short to be a capture: expected a pcap or pcapng header".to_string(),
            ));
        };
        match u32::from_le_bytes([a, b, c, d]) {
            0x0a0d_0d0a => Ok(Format::Pcapng),
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => Ok(Format::Pcap),
            _ => Err(self.err(
                0,
                None,
                format!(
                    "not a capture: the file starts with {a:02x} {b:02x} {c:02x} {d:02x}; \
                     expected the magic number of pcap (a1b2c3d4) or pcapng (0a0d0d0a)"
                ),
            )),
        }
    }

    fn pcap(&mut self, each: &mut impl FnMut(Packet)) -> Result<(), ReadError> {
        let (mut at, parser) = loop {
            match PcapParser::new(&self.buffer) {
                Ok((rest, parser)) => break (self.buffer.len() - rest.len(), parser),
                Err(e) => self.more_or_fail(0, "the pcap file header", e)?,
            }
        };
        let link = parser.header().datalink;
        while !self.at_end(at)? {
            match parser.next_packet(&self.buffer[at..]) {
                Ok((rest, packet)) => {
                    self.number += 1;
                    each(Packet {
                        number: self.number,
                        t_ns: packet.timestamp.as_nanos() as u64,
                        link,
                        frame: &packet.data,
                        orig_len: packet.orig_len,
                        comment: None,
                        ipv4: ipv4_in(link, &packet.data),
                    });
                    at = self.buffer.len() - rest.len();
                }
                Err(e) => {
                    let what = format!("the record of packet {}", self.number + 1);
                    self.more_or_fail(self.consumed + at as u64, &what, e)?;
                }
            }
            at = self.compact(at);
        }
        Ok(())
    }

    fn pcapng(&mut self, each: &mut impl FnMut(Packet)) -> Result<(), ReadError> {
        let (mut at, mut parser) = loop {
            match PcapNgParser::new(&self.buffer) {
                Ok((rest, parser)) => break (self.buffer.len() - rest.len(), parser),
                Err(e) => self.more_or_fail(0, "the section header block", e)?,
            }
        };
        let mut links: Vec<DataLink> = Vec::new();
        while !self.at_end(at)? {
            let offset = self.consumed + at as u64;
            match parser.next_block(&self.buffer[at..]) {
                Ok((rest, block)) => {
                    let rest = rest.len();
                    let packet =
                        block_packet(&block, &mut links, self.number + 1).map_err(|message| {
                            self.err(offset, Some("an enhanced packet block"), message)
                        })?;
                    if let Some(packet) = packet {
                        self.number += 1;
                        each(packet);
                    }
                    at = self.buffer.len() - rest;
                }
                Err(e) => self.more_or_fail(offset, "a block", e)?,
            }
            at = self.compact(at);
        }
        Ok(())
    }
}

/// The two capture formats.
enum Format {
    Pcap,
    Pcapng,
}

/// The packet a pcapng block carries, if it is a packet block (`number` is its number); an
/// interface or section block updates the link types.
fn block_packet<'b>(
    block: &'b Block<'b>,
    links: &mut Vec<DataLink>,
    number: u64,
) -> Result<Option<Packet<'b>>, String> {
    match block {
        Block::InterfaceDescription(idb) => links.push(idb.linktype),
        Block::EnhancedPacket(epb) => {
            let Some(&link) = links.get(epb.interface_id as usize) else {
                return Err(format!(
                    "packet {number} names interface {}, but only {} are described before it",
                    epb.interface_id,
                    links.len()
                ));
            };
            let comment = epb.options.iter().find_map(|o| match o {
                EnhancedPacketOption::Comment(c) => Some(c.as_ref()),
                _ => None,
            });
            return Ok(Some(Packet {
                number,
                t_ns: epb.timestamp.as_nanos() as u64,
                link,
                frame: &epb.data,
                orig_len: epb.original_len,
                comment,
                ipv4: ipv4_in(link, &epb.data),
            }));
        }
        Block::SimplePacket(spb) => {
            let link = links.first().copied().unwrap_or(DataLink::ETHERNET);
            return Ok(Some(Packet {
                number,
                t_ns: 0,
                link,
                frame: &spb.data,
                orig_len: spb.original_len,
                comment: None,
                ipv4: ipv4_in(link, &spb.data),
            }));
        }
        Block::SectionHeader(_) => links.clear(),
        _ => {}
    }
    Ok(None)
}

/// Read a capture from `input`, calling `each` for every packet. Memory is bounded by the
/// largest block, not by the file.
pub fn for_each_packet(
    file: &str,
    input: impl Read,
    mut each: impl FnMut(Packet),
) -> Result<u64, ReadError> {
    let mut reader = Reader {
        file,
        input,
        buffer: Vec::with_capacity(CHUNK),
        consumed: 0,
        eof: false,
        number: 0,
    };
    match reader.format()? {
        Format::Pcap => reader.pcap(&mut each)?,
        Format::Pcapng => reader.pcapng(&mut each)?,
    }
    Ok(reader.number)
}
