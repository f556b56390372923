//! Captures: pcapng (one interface per link, packet comments, nanosecond timestamps) and
//! classic pcap, written with pcap-file. Files are written to a temporary name and renamed,
//! so a failed run never leaves half a capture behind.

use std::borrow::Cow;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::blocks::unknown::UnknownBlock;
use pcap_file::pcapng::{Block, PcapNgWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

/// Capture file formats.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Format {
    /// pcapng: interfaces named after links, packet comments.
    #[default]
    PcapNg,
    /// Classic pcap: one link type, no names, no comments.
    Pcap,
}

impl Format {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::PcapNg => "pcapng",
            Format::Pcap => "pcap",
        }
    }
}

/// A capture interface: in the simulator, one per link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name shown by Wireshark (`if_name`).
    pub name: String,
    /// A longer description (`if_description`).
    pub description: String,
}

/// Direction of a packet relative to its interface (pcapng `epb_flags` bits 0–1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received on the interface.
    Inbound,
    /// Sent from the interface.
    Outbound,
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Index into the interface list.
    pub interface: u32,
    /// Nanoseconds since the capture's epoch.
    pub t_ns: u64,
    /// The frame, possibly cut to the snap length.
    pub data: Vec<u8>,
    /// The frame's length on the wire.
    pub original_len: u32,
    /// Packet comments (`opt_comment`).
    pub comments: Vec<String>,
    /// Direction, where known.
    pub direction: Option<Direction>,
}

/// The largest frame we keep whole: Ethernet frames of our stack never exceed it.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

fn to_io(e: pcap_file::PcapError) -> io::Error {
    io::Error::other(e.to_string())
}

fn section_header() -> SectionHeaderBlock<'static> {
    SectionHeaderBlock {
        endianness: Endianness::Little,
        options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed(
            "packetlab",
        ))],
        ..Default::default()
    }
}

fn interface_block(interface: &Interface, snaplen: u32) -> InterfaceDescriptionBlock<'_> {
    InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen,
        options: vec![
            InterfaceDescriptionOption::IfName(Cow::Borrowed(&interface.name)),
            InterfaceDescriptionOption::IfDescription(Cow::Borrowed(&interface.description)),
            // pcap-file 2.x writes nanoseconds; the default resolution is microseconds, so
            // it must be declared (if_tsresol = 9 means 10^-9 s).
            InterfaceDescriptionOption::IfTsResol(9),
        ],
    }
}

/// Where a capture's time 0 is: 2025-01-01 00:00:00 UTC, the date the clocks of a run's
/// programs start at, so that a frame's time in Wireshark's absolute view is the time the
/// programs saw (a run's records count from 0).
pub const EPOCH: Duration = Duration::from_secs(1_735_689_600);

fn packet_block(record: &Record) -> EnhancedPacketBlock<'_> {
    let mut options: Vec<EnhancedPacketOption> = record
        .comments
        .iter()
        .map(|c| EnhancedPacketOption::Comment(Cow::Borrowed(c.as_str())))
        .collect();
    if let Some(direction) = record.direction {
        options.push(EnhancedPacketOption::Flags(match direction {
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        }));
    }
    EnhancedPacketBlock {
        interface_id: record.interface,
        timestamp: EPOCH + Duration::from_nanos(record.t_ns),
        original_len: record.original_len,
        data: Cow::Borrowed(&record.data),
        options,
    }
}

fn pcap_header(snaplen: u32) -> PcapHeader {
    PcapHeader {
        snaplen,
        datalink: DataLink::ETHERNET,
        ts_resolution: TsResolution::NanoSecond,
        endianness: Endianness::Little,
        ..Default::default()
    }
}

fn pcap_packet(record: &Record) -> PcapPacket<'_> {
    PcapPacket {
        timestamp: EPOCH + Duration::from_nanos(record.t_ns),
        orig_len: record.original_len,
        data: Cow::Borrowed(&record.data),
    }
}

/// Write a pcapng section: one interface block per interface, then the packets in order.
pub fn write_pcapng<W: Write>(
    out: W,
    interfaces: &[Interface],
    records: &[Record],
    snaplen: u32,
) -> io::Result<()> {
    let mut writer = PcapNgWriter::with_section_header(out, section_header()).map_err(to_io)?;
    for interface in interfaces {
        writer
            .write_pcapng_block(interface_block(interface, snaplen))
            .map_err(to_io)?;
    }
    for record in records {
        writer
            .write_pcapng_block(packet_block(record))
            .map_err(to_io)?;
    }
    writer.into_inner().flush()
}

/// Write a classic pcap file with nanosecond timestamps. Interfaces and comments have no
/// place in this format and are left out.
pub fn write_pcap<W: Write>(out: W, records: &[Record], snaplen: u32) -> io::Result<()> {
    let mut writer = PcapWriter::with_header(out, pcap_header(snaplen)).map_err(to_io)?;
    for record in records {
        writer.write_packet(&pcap_packet(record)).map_err(to_io)?;
    }
    writer.into_writer().flush()
}

/// Where a file's bytes go while it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Under a temporary name, renamed into place when done: a run's outputs, whole or none.
    Atomic,
    /// At its place from the start, flushed as it goes: a live capture (the TAP mode), of
    /// which a killed run keeps all but its last moments, as tcpdump's does.
    AsItGoes,
}

/// A file written under a temporary name beside its place and renamed into place only by
/// [`AtomicFile::commit`]; dropped uncommitted, it is deleted, so no half-written output is
/// ever left behind. (With [`Placement::AsItGoes`] it is written in place and kept.)
pub struct AtomicFile {
    out: Option<BufWriter<fs::File>>,
    tmp: PathBuf,
    path: PathBuf,
    placement: Placement,
}

impl AtomicFile {
    /// Start writing `path`, atomically.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        AtomicFile::create_in(path, Placement::Atomic)
    }

    /// Start writing `path`, placed as `placement` says.
    pub fn create_in(path: &Path, placement: Placement) -> io::Result<AtomicFile> {
        if placement == Placement::AsItGoes {
            let file = fs::File::create(path)?;
            return Ok(AtomicFile {
                out: Some(BufWriter::with_capacity(1 << 16, file)),
                tmp: path.to_path_buf(),
                path: path.to_path_buf(),
                placement,
            });
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = fs::File::create(&tmp)?;
        Ok(AtomicFile {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            tmp,
            path: path.to_path_buf(),
            placement,
        })
    }

    /// Flush, sync and rename the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("already committed"))?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        match self.placement {
            Placement::Atomic => fs::rename(&self.tmp, &self.path),
            Placement::AsItGoes => Ok(()),
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.out {
            Some(out) => out.write(buf),
            None => Err(io::Error::other("already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Dropping the writer flushes it; a file in place keeps what it has.
        if self.out.take().is_some() && self.placement == Placement::Atomic {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A capture written as the run goes (interfaces as they appear, frames in order), with the
/// same bytes as [`write_file`] given the same interfaces and frames.
pub struct CaptureWriter {
    inner: Writer,
    snaplen: u32,
}

enum Writer {
    PcapNg(PcapNgWriter<AtomicFile>),
    Pcap(PcapWriter<AtomicFile>),
}

impl CaptureWriter {
    /// Start a capture at `path`.
    pub fn create(path: &Path, format: Format, snaplen: u32) -> io::Result<CaptureWriter> {
        CaptureWriter::create_in(path, format, snaplen, Placement::Atomic)
    }

    /// Start a capture at `path`, placed as `placement` says.
    pub fn create_in(
        path: &Path,
        format: Format,
        snaplen: u32,
        placement: Placement,
    ) -> io::Result<CaptureWriter> {
        if format == Format::Pcap && placement == Placement::AsItGoes {
            // Only pcapng's writer lends its output back for flushing.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a capture written as it goes is pcapng",
            ));
        }
        let file = AtomicFile::create_in(path, placement)?;
        let inner = match format {
            Format::PcapNg => Writer::PcapNg(
                PcapNgWriter::with_section_header(file, section_header()).map_err(to_io)?,
            ),
            Format::Pcap => {
                Writer::Pcap(PcapWriter::with_header(file, pcap_header(snaplen)).map_err(to_io)?)
            }
        };
        let mut writer = CaptureWriter { inner, snaplen };
        if placement == Placement::AsItGoes {
            writer.flush()?;
        }
        Ok(writer)
    }

    /// Declare the next interface (numbered from 0 in the order declared).
    pub fn interface(&mut self, interface: &Interface) -> io::Result<()> {
        match &mut self.inner {
            Writer::PcapNg(w) => w
                .write_pcapng_block(interface_block(interface, self.snaplen))
                .map(drop)
                .map_err(to_io),
            Writer::Pcap(_) => Ok(()),
        }
    }

    /// Append a frame.
    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        match &mut self.inner {
            Writer::PcapNg(w) => w.write_pcapng_block(packet_block(record)).map(drop),
            Writer::Pcap(w) => w.write_packet(&pcap_packet(record)).map(drop),
        }
        .map_err(to_io)
    }

    /// Add TLS session keys (NSS key log lines) in a Decryption Secrets Block, which
    /// Wireshark reads to decrypt the packets after it; a classic pcap has no place for them.
    pub fn secrets(&mut self, key_log: &str) -> io::Result<()> {
        match &mut self.inner {
            Writer::PcapNg(w) => w
                .write_block(&Block::Unknown(UnknownBlock {
                    type_: DECRYPTION_SECRETS_BLOCK,
                    length: 0,
                    value: Cow::Owned(secrets_body(key_log)),
                }))
                .map(drop)
                .map_err(to_io),
            Writer::Pcap(_) => Ok(()),
        }
    }

    /// Hand what is buffered to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Writer::PcapNg(w) => w.get_mut().flush(),
            // Only ever atomic (see `create_in`): written out when finished.
            Writer::Pcap(_) => Ok(()),
        }
    }

    /// Finish the file and put it in place.
    pub fn finish(self) -> io::Result<()> {
        match self.inner {
            Writer::PcapNg(w) => w.into_inner().commit(),
            Writer::Pcap(w) => w.into_writer().commit(),
        }
    }
}

/// pcapng's Decryption Secrets Block type.
const DECRYPTION_SECRETS_BLOCK: u32 = 0x0000_000A;
/// Its secrets type for a TLS key log ("TLSK").
const TLS_KEY_LOG: u32 = 0x544c_534b;

/// A Decryption Secrets Block's body before its padding: the secrets type, their length,
/// the key log (little-endian, as the section is).
fn secrets_body(key_log: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + key_log.len());
    body.extend_from_slice(&TLS_KEY_LOG.to_le_bytes());
    body.extend_from_slice(&(key_log.len() as u32).to_le_bytes());
    body.extend_from_slice(key_log.as_bytes());
    body
}

/// Write `path` atomically: the bytes go to a temporary file beside it, which is renamed into
/// place only when `write` succeeded.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut AtomicFile) -> io::Result<()>,
) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(&mut file)?;
    file.commit()
}

/// Write records in the chosen format, atomically.
pub fn write_file(
    path: &Path,
    format: Format,
    interfaces: &[Interface],
    records: &[Record],
    snaplen: u32,
) -> io::Result<()> {
    write_atomically(path, |out| match format {
        Format::PcapNg => write_pcapng(out, interfaces, records, snaplen),
        Format::Pcap => write_pcap(out, records, snaplen),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::{Block, PcapNgReader};

    fn records() -> Vec<Record> {
        vec![Record {
            interface: 1,
            t_ns: 1_500_000_123,
            data: vec![0xaa; 60],
            original_len: 60,
            comments: vec!["server: LISTEN → SYN-RECEIVED".to_string()],
            direction: Some(Direction::Inbound),
        }]
    }

    #[test]
    fn pcapng_keeps_names_comments_and_nanoseconds() {
        let interfaces = vec![
            Interface {
                name: "a-sw".into(),
                description: "link a–sw".into(),
            },
            Interface {
                name: "b-sw".into(),
                description: "link b–sw".into(),
            },
        ];
        let mut bytes = Vec::new();
        write_pcapng(&mut bytes, &interfaces, &records(), DEFAULT_SNAPLEN).unwrap();
        let mut reader = PcapNgReader::new(&bytes[..]).unwrap();
        let mut names = Vec::new();
        let mut packets = Vec::new();
        while let Some(block) = reader.next_block() {
            match block.unwrap() {
                Block::InterfaceDescription(idb) => {
                    assert!(
                        idb.options
                            .contains(&InterfaceDescriptionOption::IfTsResol(9))
                    );
                    for option in idb.options {
                        if let InterfaceDescriptionOption::IfName(name) = option {
                            names.push(name.into_owned());
                        }
                    }
                }
                Block::EnhancedPacket(epb) => packets.push(epb.into_owned()),
                _ => {}
            }
        }
        assert_eq!(names, ["a-sw", "b-sw"]);
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0].interface_id, 1);
        assert_eq!(
            packets[0].timestamp,
            EPOCH + Duration::from_nanos(1_500_000_123)
        );
        assert!(packets[0].options.contains(&EnhancedPacketOption::Comment(
            "server: LISTEN → SYN-RECEIVED".into()
        )));
    }

    #[test]
    fn failed_write_leaves_no_file() {
        let dir = tempfile_dir();
        let path = dir.join("x.pcapng");
        let result = write_atomically(&path, |_| Err(io::Error::other("boom")));
        assert!(result.is_err());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("packetlab-capture-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
