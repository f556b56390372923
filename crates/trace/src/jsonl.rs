//! Traces as JSON Lines: a header line naming the format and its version, then one event a
//! line. The fields of each event are documented in `crates/trace/SCHEMA.md`; a change to
//! them raises [`FORMAT_VERSION`].

use std::fmt;
use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::Event;

/// The version of the trace format this crate writes and reads. Version 2: a congestion
/// event's `reason` is a value with its numbers, no longer text. Version 3: so are a drop
/// event's `reason` and a route event's `decision`. Version 4: a note event's `note` is a
/// value, in place of its `text`.
pub const FORMAT_VERSION: u32 = 4;

const FORMAT_NAME: &str = "packetlab-trace";

/// The first line of every trace.
#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// Writes a trace as it goes: the header first, then each event as it is handed over.
pub struct TraceWriter<W: Write> {
    out: W,
    /// Events are encoded here first: serde_json makes many tiny writes per event, which
    /// cost far less into a `Vec` than through a `Write` object.
    encoded: Vec<u8>,
}

/// How much encoded trace is gathered before it is handed to the output.
const CHUNK: usize = 1 << 16;

impl<W: Write> TraceWriter<W> {
    /// Start a trace on `out` (buffer it: each event is one small write).
    pub fn new(mut out: W) -> io::Result<TraceWriter<W>> {
        let header = Header {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        Ok(TraceWriter {
            out,
            encoded: Vec::with_capacity(CHUNK + 4096),
        })
    }

    /// Append one event.
    pub fn write(&mut self, event: &Event) -> io::Result<()> {
        serde_json::to_writer(&mut self.encoded, event)?;
        self.encoded.push(b'\n');
        if self.encoded.len() >= CHUNK {
            self.out.write_all(&self.encoded)?;
            self.encoded.clear();
        }
        Ok(())
    }

    /// Hand every event so far to the output, and flush it.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.encoded)?;
        self.encoded.clear();
        self.out.flush()
    }

    /// Flush and hand back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&self.encoded)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Write a whole trace: the header, then one event per line.
pub fn write_jsonl<W: Write>(events: &[Event], out: W) -> io::Result<()> {
    let mut writer = TraceWriter::new(out)?;
    for event in events {
        writer.write(event)?;
    }
    writer.finish().map(drop)
}

/// A line of a JSON Lines trace could not be read.
#[derive(Debug)]
pub struct TraceReadError {
    /// 1-based line number.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for TraceReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TraceReadError {}

/// Read a trace written by [`write_jsonl`] or [`TraceWriter`].
pub fn read_jsonl<R: BufRead>(input: R) -> Result<Vec<Event>, TraceReadError> {
    let mut events = Vec::new();
    let mut header_seen = false;
    for (index, line) in input.lines().enumerate() {
        let error = |message: String| TraceReadError {
            line: index + 1,
            message,
        };
        let line = line.map_err(|e| error(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            check_header(&line).map_err(error)?;
            header_seen = true;
            continue;
        }
        events.push(serde_json::from_str(&line).map_err(|e| error(event_error(&e)))?);
    }
    Ok(events)
}

/// serde_json's words without its own position (each line is one JSON value, so its "line 1"
/// would mislead): the column, then what is wrong.
fn event_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let words = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(words, _)| words);
    let what = if e.is_eof() {
        "the line ends inside an event (the trace was cut short?)".to_string()
    } else {
        words.to_string()
    };
    format!("column {}: {what}", e.column())
}

/// Whether a trace's first line is the header of a trace this crate reads.
pub fn check_header(line: &str) -> Result<(), String> {
    let expected = format!(
        "expected the header {{\"format\":\"{FORMAT_NAME}\",\"version\":{FORMAT_VERSION}}}"
    );
    match serde_json::from_str::<Header>(line) {
        Ok(h) if h.format == FORMAT_NAME && h.version == FORMAT_VERSION => Ok(()),
        Ok(h) if h.format == FORMAT_NAME && h.version > FORMAT_VERSION => Err(format!(
            "this trace is version {}, newer than this packetlab reads ({FORMAT_VERSION})",
            h.version
        )),
        Ok(h) if h.format == FORMAT_NAME => Err(format!(
            "this trace is version {}, written by an older packetlab; this one reads version \
             {FORMAT_VERSION}: run the lesson again to write it anew",
            h.version
        )),
        _ => Err(format!(
            "not a packetlab trace (or one from before version 1): {expected}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_without_the_header_or_from_the_future_is_refused() {
        let err = read_jsonl(&b"{\"t\":0,\"event\":\"note\"}\n"[..]).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("not a packetlab trace"), "{err}");
        let future = b"{\"format\":\"packetlab-trace\",\"version\":99}\n";
        let err = read_jsonl(&future[..]).unwrap_err();
        assert!(err.message.contains("version 99, newer"), "{err}");
        let old = b"{\"format\":\"packetlab-trace\",\"version\":1}\n";
        let err = read_jsonl(&old[..]).unwrap_err();
        assert!(
            err.message.contains("version 1, written by an older"),
            "{err}"
        );
        let empty = format!("{{\"format\":\"packetlab-trace\",\"version\":{FORMAT_VERSION}}}\n");
        assert!(read_jsonl(empty.as_bytes()).unwrap().is_empty());
    }
}
