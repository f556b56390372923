//! Reading pcap and pcapng files packet by packet, in bounded memory, with the byte offset
//! of every problem; what each frame holds comes from [`crate::link`].

use std::io::Read;

use pcap_file::pcap::{PcapHeader, PcapParser};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

/// A capture that cannot be read, and where.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message} (at byte offset {offset}{})", .file, .block.as_ref().map(|b| format!(", in {b}")).unwrap_or_default())]
pub struct ReadError {
    /// Broken, or only cut short (the packets before the cut were read).
    pub kind: ReadErrorKind,
    /// The file.
    pub file: String,
    /// Where in it.
    pub offset: u64,
    /// The block or record being read.
    pub block: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// What kind of unreadable a capture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadErrorKind {
    /// Not a capture, or broken: nothing after this point can be trusted.
    Broken,
    /// The file ends inside a packet's record or block, after its headers, as a capture does
    /// when its writer was killed: every packet before the cut was read whole.
    CutShort,
}

use crate::link::{self, Inner};

/// One captured packet: when, the frame as captured, and what it holds.
#[derive(Debug)]
pub struct Packet<'a> {
    /// Frame number, from 1.
    pub number: u64,
    /// Timestamp, nanoseconds since the epoch.
    pub t_ns: u64,
    /// The interface it was captured on (pcapng's interface number; 0 in a pcap file).
    pub interface: u32,
    /// The link type of the interface it was captured on.
    pub link: DataLink,
    /// The whole frame as captured (maybe cut short by a snaplen).
    pub frame: &'a [u8],
    /// Its length on the wire.
    pub orig_len: u32,
    /// The packet's comment (pcapng `opt_comment`), if it has one.
    pub comment: Option<&'a str>,
    /// What the frame holds: the (innermost) IPv4 packet as captured, maybe cut short by a
    /// snaplen, or why it was not read.
    pub inner: Inner<'a>,
}

impl<'a> Packet<'a> {
    /// A frame captured live on a link of this type (the `number`th, from 1).
    pub fn live(number: u64, t_ns: u64, link: DataLink, frame: &'a [u8]) -> Packet<'a> {
        Packet {
            number,
            t_ns,
            interface: 0,
            link,
            frame,
            orig_len: frame.len() as u32,
            comment: None,
            inner: crate::link::inner(link, frame),
        }
    }

    /// The IPv4 packet, if the frame holds one.
    pub fn ipv4(&self) -> Option<&'a [u8]> {
        match self.inner {
            Inner::Ipv4(ip) => Some(ip),
            _ => None,
        }
    }
}

/// The IP packet (IPv4 or IPv6) inside a frame of this link type, through any tunnel, if
/// there is one.
pub fn ip_in(link: DataLink, frame: &[u8]) -> Option<&[u8]> {
    match link::inner(link, frame) {
        Inner::Ipv4(ip) | Inner::Ipv6(ip) => Some(ip),
        _ => None,
    }
}

/// The IPv4 packet inside a frame of this link type (through any tunnel), if there is one.
pub fn ipv4_in(link: DataLink, frame: &[u8]) -> Option<&[u8]> {
    match link::inner(link, frame) {
        Inner::Ipv4(ip) => Some(ip),
        _ => None,
    }
}

const CHUNK: usize = 1 << 20;
/// The largest record a pcap reader accepts whatever the header's snaplen says (libpcap's
/// and Wireshark's MAXIMUM_SNAPLEN): beyond it a record length is garbage, not a packet.
const MAX_RECORD: u32 = 262_144;
/// A classic pcap record header: seconds, fraction, captured and original lengths.
const RECORD_HEADER: usize = 16;

/// One classic pcap record's header, read as libpcap and Wireshark read it: a captured length
/// beyond the header's snaplen, an original length below the captured one, or a fraction of a
/// second of a second or more are all taken as they come (real files have them).
struct RecordHeader {
    t_ns: u64,
    incl_len: u32,
    orig_len: u32,
}

impl RecordHeader {
    fn parse(bytes: &[u8; RECORD_HEADER], header: &PcapHeader) -> RecordHeader {
        let word = |i: usize| {
            let b = [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
            match header.endianness {
                Endianness::Big => u32::from_be_bytes(b),
                Endianness::Little => u32::from_le_bytes(b),
            }
        };
        let frac_ns = match header.ts_resolution {
            TsResolution::MicroSecond => u64::from(word(4)) * 1_000,
            TsResolution::NanoSecond => u64::from(word(4)),
        };
        let incl_len = word(8);
        RecordHeader {
            t_ns: u64::from(word(0)) * 1_000_000_000 + frac_ns,
            incl_len,
            orig_len: word(12).max(incl_len),
        }
    }
}

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
            kind: ReadErrorKind::Broken,
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
            PcapError::IncompleteBuffer => {
                let mut error = self.err(
                    offset,
                    None,
                    format!("the file ends inside {what}: cut short, the rest of it is missing"),
                );
                // After the file's own header, what came before the cut is whole.
                if offset > 0 {
                    error.kind = ReadErrorKind::CutShort;
                }
                Err(error)
            }
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
        let (mut at, header) = loop {
            match PcapParser::new(&self.buffer) {
                Ok((rest, parser)) => break (self.buffer.len() - rest.len(), parser.header()),
                Err(e) => self.more_or_fail(0, "the pcap file header", e)?,
            }
        };
        let link = header.datalink;
        while !self.at_end(at)? {
            let what = format!("the record of packet {}", self.number + 1);
            let offset = self.consumed + at as u64;
            let Some(record) = self.buffer[at..].first_chunk::<RECORD_HEADER>() else {
                self.more_or_fail(offset, &what, PcapError::IncompleteBuffer)?;
                continue;
            };
            let record = RecordHeader::parse(record, &header);
            if record.incl_len > MAX_RECORD.max(header.snaplen) {
                return Err(self.err(
                    offset,
                    Some(&what),
                    format!(
                        "a captured length of {} octets, more than any packet can have ({})",
                        record.incl_len,
                        MAX_RECORD.max(header.snaplen)
                    ),
                ));
            }
            let end = at + RECORD_HEADER + record.incl_len as usize;
            if end > self.buffer.len() {
                self.more_or_fail(offset, &what, PcapError::IncompleteBuffer)?;
                continue;
            }
            let frame = &self.buffer[at + RECORD_HEADER..end];
            self.number += 1;
            each(Packet {
                number: self.number,
                t_ns: record.t_ns,
                interface: 0,
                link,
                frame,
                orig_len: record.orig_len,
                comment: None,
                inner: link::inner(link, frame),
            });
            at = self.compact(end);
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
                interface: epb.interface_id,
                link,
                frame: &epb.data,
                orig_len: epb.original_len,
                comment,
                inner: link::inner(link, &epb.data),
            }));
        }
        Block::SimplePacket(spb) => {
            let link = links.first().copied().unwrap_or(DataLink::ETHERNET);
            return Ok(Some(Packet {
                number,
                t_ns: 0,
                interface: 0,
                link,
                frame: &spb.data,
                orig_len: spb.original_len,
                comment: None,
                inner: link::inner(link, &spb.data),
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
