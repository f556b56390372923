//! A run's capture and trace, written as the run goes (each to a temporary file put in place
//! only when the run has ended well), and its events printed as they come. The capture and
//! the trace are each encoded by a thread of their own, so that the simulation goes on
//! meanwhile.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use capture::{AtomicFile, CaptureWriter, Format, Interface, Placement, Record};
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

/// How many batches may wait for a writer: enough to keep the threads busy, few enough to
/// bound memory.
const QUEUE: usize = 4;

/// A thread that takes batches of work in order and hands back its state at the end.
struct Worker<T, S> {
    queue: Option<SyncSender<T>>,
    thread: Option<JoinHandle<io::Result<S>>>,
}

impl<T: Send + 'static, S: Send + 'static> Worker<T, S> {
    fn start(state: S, work: fn(&mut S, T) -> io::Result<()>) -> Worker<T, S> {
        let (queue, batches): (SyncSender<T>, Receiver<T>) = sync_channel(QUEUE);
        let thread = std::thread::spawn(move || {
            let mut state = state;
            for batch in batches {
                work(&mut state, batch)?;
            }
            Ok(state)
        });
        Worker {
            queue: Some(queue),
            thread: Some(thread),
        }
    }

    fn send(&mut self, batch: T) -> io::Result<()> {
        match self.queue.as_ref().map(|q| q.send(batch)) {
            Some(Ok(())) => Ok(()),
            // The worker stopped on an error: that error is the one to tell.
            _ => Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the writer stopped"))),
        }
    }

    fn join(&mut self) -> io::Result<S> {
        self.queue.take();
        let thread = self
            .thread
            .take()
            .ok_or_else(|| io::Error::other("finished"))?;
        thread
            .join()
            .map_err(|_| io::Error::other("a writing thread failed"))?
    }
}

impl<T, S> Drop for Worker<T, S> {
    /// An unfinished worker is abandoned: it ends, and its temporary files are deleted.
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The capture's interfaces and frames, and TLS keys for what follows them.
enum Frames {
    Interfaces(Vec<Interface>),
    Records(Vec<Record>),
    Secrets(String),
}

/// The capture thread's file and count.
struct CaptureSide {
    file: Option<(CaptureWriter, PathBuf)>,
    frames: u64,
    /// Flush after every batch (a live capture).
    live: bool,
}

/// The trace thread's file, what it prints, and what it saw.
struct TraceSide {
    file: Option<(TraceWriter<AtomicFile>, PathBuf)>,
    /// Flush after every batch (a live trace).
    live: bool,
    print: Print,
    events: u64,
    /// Frames seen in the trace: the count a run without a capture still reports.
    frames: u64,
}

/// Where a run's outputs go.
pub struct Outputs {
    capture: Worker<Frames, CaptureSide>,
    trace: Worker<Vec<Event>, TraceSide>,
}

/// What a finished run wrote.
pub struct Written {
    /// `wrote FILE (N frames) and FILE (M events)`.
    pub summary: String,
}

impl Outputs {
    /// Outputs to these files (none: not written), each put in place when the run is done.
    pub fn create(
        capture: Option<(&Path, Format, u32)>,
        trace: Option<&Path>,
        print: Print,
    ) -> io::Result<Outputs> {
        Outputs::create_in(capture, trace, print, Placement::Atomic)
    }

    /// Outputs to these files, placed as `placement` says: [`Placement::AsItGoes`] flushes
    /// every batch, so a killed run keeps all but its last moments.
    pub fn create_in(
        capture: Option<(&Path, Format, u32)>,
        trace: Option<&Path>,
        print: Print,
        placement: Placement,
    ) -> io::Result<Outputs> {
        let capture = match capture {
            Some((path, format, snaplen)) => Some((
                CaptureWriter::create_in(path, format, snaplen, placement)?,
                path.to_path_buf(),
            )),
            None => None,
        };
        let trace = match trace {
            Some(path) => Some((
                TraceWriter::new(AtomicFile::create_in(path, placement)?)?,
                path.to_path_buf(),
            )),
            None => None,
        };
        let live = placement == Placement::AsItGoes;
        let capture = CaptureSide {
            file: capture,
            frames: 0,
            live,
        };
        let trace = TraceSide {
            file: trace,
            live,
            print,
            events: 0,
            frames: 0,
        };
        Ok(Outputs {
            capture: Worker::start(capture, CaptureSide::take),
            trace: Worker::start(trace, TraceSide::take),
        })
    }

    /// Wait for the writers and put the files in place.
    pub fn finish(mut self) -> io::Result<Written> {
        let capture = self.capture.join()?;
        let trace = self.trace.join()?;
        let mut wrote = Vec::new();
        if let Some((file, path)) = capture.file {
            file.finish()?;
            wrote.push(format!("{} ({} frames)", path.display(), capture.frames));
        }
        if let Some((file, path)) = trace.file {
            file.finish()?.commit()?;
            wrote.push(format!("{} ({} events)", path.display(), trace.events));
        }
        let summary = if wrote.is_empty() {
            let (frames, events) = (capture.frames.max(trace.frames), trace.events);
            format!("wrote nothing ({frames} frames, {events} events)")
        } else {
            format!("wrote {}", wrote.join(" and "))
        };
        Ok(Written { summary })
    }
}

impl CaptureSide {
    fn take(&mut self, batch: Frames) -> io::Result<()> {
        match batch {
            Frames::Interfaces(interfaces) => {
                if let Some((file, _)) = &mut self.file {
                    for interface in &interfaces {
                        file.interface(interface)?;
                    }
                }
            }
            Frames::Records(records) => {
                if let Some((file, _)) = &mut self.file {
                    for record in &records {
                        file.record(record)?;
                    }
                    if self.live {
                        file.flush()?;
                    }
                }
                self.frames += records.len() as u64;
            }
            Frames::Secrets(key_log) => {
                if let Some((file, _)) = &mut self.file {
                    file.secrets(&key_log)?;
                }
            }
        }
        Ok(())
    }
}

impl TraceSide {
    fn take(&mut self, events: Vec<Event>) -> io::Result<()> {
        for event in &events {
            self.frames += u64::from(matches!(event.kind, EventKind::Frame { .. }));
            self.print(event);
            if let Some((file, _)) = &mut self.file {
                file.write(event)?;
            }
        }
        if self.live
            && let Some((file, _)) = &mut self.file
        {
            file.flush()?;
        }
        self.events += events.len() as u64;
        Ok(())
    }

    fn print(&mut self, event: &Event) {
        let output = matches!(&event.kind, EventKind::Output { .. });
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
        self.capture.send(Frames::Interfaces(interfaces))
    }

    fn events(&mut self, events: Vec<Event>) -> io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        // TLS keys go into the capture ahead of the frames they decrypt: those settle later.
        for event in &events {
            if let EventKind::TlsKeys { key_log, .. } = &event.kind {
                self.capture.send(Frames::Secrets(key_log.clone()))?;
            }
        }
        self.trace.send(events)
    }

    fn frames(&mut self, records: Vec<Record>) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.capture.send(Frames::Records(records))
    }
}
