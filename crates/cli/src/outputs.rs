//! A run's capture and trace, written as the run goes (each to a temporary file put in place
//! only when the run has ended well), and its events printed as they come. The writing is
//! done by a thread of its own, so that the simulation goes on while its outputs are encoded.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

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

/// Work for the writing thread.
enum Batch {
    Interfaces(Vec<Interface>),
    Events(Vec<Event>),
    Frames(Vec<Record>),
}

/// How many batches may wait for the writer: enough to keep both threads busy, few enough
/// to bound memory.
const QUEUE: usize = 8;

/// The writing thread's files and what it has written.
struct Writer {
    capture: Option<(CaptureWriter, PathBuf)>,
    trace: Option<(TraceWriter<AtomicFile>, PathBuf)>,
    print: Print,
    frames: u64,
    events: u64,
    unsupported: bool,
}

/// Where a run's outputs go.
pub struct Outputs {
    queue: Option<SyncSender<Batch>>,
    writer: Option<JoinHandle<io::Result<Writer>>>,
}

/// What a finished run wrote.
pub struct Written {
    /// `wrote FILE (N frames) and FILE (M events)`.
    pub summary: String,
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
        let writer = Writer {
            capture,
            trace,
            print,
            frames: 0,
            events: 0,
            unsupported: false,
        };
        let (queue, batches) = sync_channel(QUEUE);
        let writer = std::thread::spawn(move || writer.run(batches));
        Ok(Outputs {
            queue: Some(queue),
            writer: Some(writer),
        })
    }

    /// Wait for the writer and put the files in place.
    pub fn finish(mut self) -> io::Result<Written> {
        let writer = self.join()?;
        let mut wrote = Vec::new();
        if let Some((capture, path)) = writer.capture {
            capture.finish()?;
            wrote.push(format!("{} ({} frames)", path.display(), writer.frames));
        }
        if let Some((trace, path)) = writer.trace {
            trace.finish()?.commit()?;
            wrote.push(format!("{} ({} events)", path.display(), writer.events));
        }
        let summary = if wrote.is_empty() {
            let (frames, events) = (writer.frames, writer.events);
            format!("wrote nothing ({frames} frames, {events} events)")
        } else {
            format!("wrote {}", wrote.join(" and "))
        };
        Ok(Written {
            summary,
            unsupported: writer.unsupported,
        })
    }

    fn join(&mut self) -> io::Result<Writer> {
        self.queue.take();
        let writer = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("finished"))?;
        writer
            .join()
            .map_err(|_| io::Error::other("the writing thread failed"))?
    }

    fn send(&mut self, batch: Batch) -> io::Result<()> {
        let sent = self.queue.as_ref().map(|q| q.send(batch));
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer stopped on an error: that error is the one to tell.
            _ => Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the writer stopped"))),
        }
    }
}

impl Drop for Outputs {
    /// Unfinished outputs are abandoned: the writer ends, its temporary files are deleted.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

impl Writer {
    fn run(mut self, batches: Receiver<Batch>) -> io::Result<Writer> {
        for batch in batches {
            match batch {
                Batch::Interfaces(interfaces) => {
                    if let Some((capture, _)) = &mut self.capture {
                        for interface in &interfaces {
                            capture.interface(interface)?;
                        }
                    }
                }
                Batch::Events(events) => self.events(&events)?,
                Batch::Frames(records) => {
                    if let Some((capture, _)) = &mut self.capture {
                        for record in &records {
                            capture.record(record)?;
                        }
                    }
                    self.frames += records.len() as u64;
                }
            }
        }
        Ok(self)
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
            // A reader that has stopped reading (`| head`) stops the printing, not the run.
            let mut out = io::stdout().lock();
            if writeln!(out, "{}", event.render()).is_err() {
                self.print = Print::Nothing;
            }
        }
    }
}

impl RunSink for Outputs {
    fn interfaces(&mut self, interfaces: Vec<Interface>) -> io::Result<()> {
        self.send(Batch::Interfaces(interfaces))
    }

    fn events(&mut self, events: Vec<Event>) -> io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.send(Batch::Events(events))
    }

    fn frames(&mut self, records: Vec<Record>) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.send(Batch::Frames(records))
    }
}
