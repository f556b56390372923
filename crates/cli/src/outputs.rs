//! A run's capture and trace, written as the run goes (each to a temporary file put in place
//! only when the run has ended well), and its events printed as they come.

use std::io;
use std::path::{Path, PathBuf};

use capture::{AtomicFile, CaptureWriter, Format, Interface, Record};
use scenario::RunSink;
use trace::{Event, EventKind, TraceWriter};

/// Which events are printed as they come.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Print {
    /// Every event but the verdicts (printed apart, with what was seen).
    Events,
    /// Only what the programs printed.
    ProgramOutput,
    /// Nothing.
    Nothing,
}

/// Where a run's outputs go and what has gone there.
pub struct Outputs {
    capture: Option<(CaptureWriter, PathBuf)>,
    trace: Option<(TraceWriter<AtomicFile>, PathBuf)>,
    print: Print,
    /// Frames written.
    pub frames: u64,
    /// Events written.
    pub events: u64,
    /// A program used something packetlab does not simulate.
    pub unsupported: bool,
}

impl Outputs {
    /// Outputs to these files (none: not written).
    pub fn create(
        capture: Option<(&Path, Format, u32)>,
        trace: Option<&Path>,
        print: Print,
    ) -> io::Result<Outputs> {
        let capture = match capture {
            Some((path, format, snaplen)) => Some((
                CaptureWriter::create(path, format, snaplen)?,
                path.to_path_buf(),
            )),
            None => None,
        };
        let trace = match trace {
            Some(path) => Some((
                TraceWriter::new(AtomicFile::create(path)?)?,
                path.to_path_buf(),
            )),
            None => None,
        };
        Ok(Outputs {
            capture,
            trace,
            print,
            frames: 0,
            events: 0,
            unsupported: false,
        })
    }

    /// Put the files in place; say what was written.
    pub fn finish(self) -> io::Result<String> {
        let mut wrote = Vec::new();
        if let Some((capture, path)) = self.capture {
            capture.finish()?;
            wrote.push(format!("{} ({} frames)", path.display(), self.frames));
        }
        if let Some((trace, path)) = self.trace {
            trace.finish()?.commit()?;
            wrote.push(format!("{} ({} events)", path.display(), self.events));
        }
        Ok(if wrote.is_empty() {
            format!(
                "wrote nothing ({} frames, {} events)",
                self.frames, self.events
            )
        } else {
            format!("wrote {}", wrote.join(" and "))
        })
    }

    fn print(&mut self, event: &Event) {
        let output = matches!(&event.kind, EventKind::Output { .. });
        if let EventKind::Output { text, .. } = &event.kind
            && text.contains("is not simulated by packetlab")
        {
            self.unsupported = true;
        }
        let shown = match self.print {
            Print::Events => !matches!(event.kind, EventKind::Expectation { .. }),
            Print::ProgramOutput => output,
            Print::Nothing => false,
        };
        if shown {
            println!("{}", event.render());
        }
    }
}

impl RunSink for Outputs {
    fn interfaces(&mut self, interfaces: &[Interface]) -> io::Result<()> {
        if let Some((capture, _)) = &mut self.capture {
            for interface in interfaces {
                capture.interface(interface)?;
            }
        }
        Ok(())
    }

    fn events(&mut self, events: &[Event]) -> io::Result<()> {
        for event in events {
            self.print(event);
            if let Some((trace, _)) = &mut self.trace {
                trace.write(event)?;
            }
        }
        self.events += events.len() as u64;
        Ok(())
    }

    fn frames(&mut self, records: &[Record]) -> io::Result<()> {
        if let Some((capture, _)) = &mut self.capture {
            for record in records {
                capture.record(record)?;
            }
        }
        self.frames += records.len() as u64;
        Ok(())
    }
}
