//! Lessons against the Linux kernel: one host on a TAP device in a namespace made for the
//! run, the kernel side's Python program started in it first (under packetlab's observer,
//! which records what went through each of its connections), wall-clock time instead of the
//! virtual clock, and the same trace and capture as on the simulator. What the lesson expects
//! is judged by whoever asked for the run (the scenario crate), from the [`LessonRun`].

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capture::{Interface, Record};
use program::ProgramRun;
use python::{Observed, PythonProgram};
use stack::Engine;
use trace::{Event, EventKind, Note, ProgramNote, Stream, Time};

use privilege::{PrivilegeError, Target};

use crate::{Driver, DriverConfig, Lab, LabError, Tap};

/// How long the kernel-side program gets to start listening before our host starts (a
/// kernel-side client never listens, and then our host starts after this).
const KERNEL_HEAD_START: Duration = Duration::from_secs(3);
/// How long the kernel-side program may take to finish after our host is done.
const KERNEL_GRACE: Duration = Duration::from_secs(10);

/// Everything a lesson against the kernel needs, already built from its scenario.
pub struct KernelLesson {
    /// Our host's engine (our stack or smoltcp), configured and seeded.
    pub engine: Box<dyn Engine>,
    /// The program our host runs.
    pub program: ProgramRun,
    /// The TAP device's name inside the namespace.
    pub dev: String,
    /// The kernel side's address with its prefix, e.g. `10.77.0.1/24`.
    pub kernel_cidr: String,
    /// Its IPv6 address with its prefix, if the lesson gives one (`2001:db8:77::1/64`).
    pub kernel_cidr6: Option<String>,
    /// The Python program the kernel side runs, with its arguments and standard input.
    pub kernel_program: PythonProgram,
    /// The kernel program's working folder (made empty first).
    pub workdir: PathBuf,
    /// The run's seed (the driver's fault model draws from it).
    pub seed: u64,
    /// Keep only this many octets of each captured frame.
    pub snaplen: Option<usize>,
    /// The longest the run may take, in wall-clock time.
    pub duration: Time,
}

/// What a lesson against the kernel left behind.
pub struct LessonRun {
    /// When our host's run ended (time since it started).
    pub end: Time,
    /// The trace, the kernel side's output in it at the times it was printed.
    pub events: Vec<Event>,
    /// The capture's interface (the TAP device).
    pub interfaces: Vec<Interface>,
    /// The captured frames.
    pub records: Vec<Record>,
    /// What the kernel side's program did: its output, its end, its connections' streams.
    pub kernel: Observed,
    /// Our host's program, as it ended.
    pub program: ProgramRun,
}

/// Run a lesson whose host is on a TAP device with the kernel at the other end. Needs root
/// and /dev/net/tun; the namespace and everything in it are deleted at the end.
pub fn run_lesson(lesson: KernelLesson) -> Result<LessonRun, LabError> {
    let lab = Lab::up(
        &Lab::unique_name("packetlab"),
        &lesson.dev,
        &lesson.kernel_cidr,
    )?;
    if let Some(cidr) = &lesson.kernel_cidr6 {
        lab.enable_ipv6(cidr)?;
    }
    let kernel = KernelSide::start(&lab, &lesson.kernel_program, &lesson.workdir)?;
    let died_early = kernel.wait_for_listener(&lab, KERNEL_HEAD_START);
    let device = Tap::open(lab.name(), &lesson.dev).map_err(|e| LabError::Command {
        command: format!("open TAP device {}", lesson.dev),
        message: e.to_string(),
    })?;
    let driver_config = DriverConfig {
        netns: lab.name().to_string(),
        seed: lesson.seed,
        snaplen: lesson.snaplen,
        ..DriverConfig::default()
    };
    let host = lesson.engine.name().to_string();
    let mut driver =
        Driver::new(lesson.engine, device, driver_config).map_err(|e| LabError::Command {
            command: "watch the TAP device".to_string(),
            message: e.to_string(),
        })?;
    let mut app = lesson.program;
    let stop = stop_after(&driver, lesson.duration);
    kernel.stop_on_failure(&driver, &stop);
    // A kernel program that has already failed leaves nothing to talk to: say so at once.
    let result = if died_early {
        Ok(())
    } else {
        driver.run(&mut app, &stop)
    };
    let end = driver.now();
    let (events, observed) = kernel.finish(&driver);
    let (outcome, _) = driver.finish();
    let mut events = merge(outcome.events, events);
    if let Err(e) = result {
        let error = e.to_string();
        events.push(note(end, &host, ProgramNote::TapFailed { error }));
    }
    drop(lab);
    Ok(LessonRun {
        end,
        events,
        interfaces: outcome.interfaces,
        records: outcome.records,
        kernel: observed,
        program: app,
    })
}

/// Two time-ordered event lists as one, the first's first at equal times.
fn merge(ours: Vec<Event>, kernel: Vec<Event>) -> Vec<Event> {
    let mut out = Vec::with_capacity(ours.len() + kernel.len());
    let mut kernel = kernel.into_iter().peekable();
    for event in ours {
        while let Some(k) = kernel.next_if(|k| k.t < event.t) {
            out.push(k);
        }
        out.push(event);
    }
    out.extend(kernel);
    out
}

/// A flag that turns true (and wakes the driver) once `limit` of wall-clock time has passed.
fn stop_after(driver: &Driver, limit: Time) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let waker = driver.waker();
    let limit = Duration::from_nanos(limit.as_nanos());
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        flag.store(true, Ordering::SeqCst);
        let _ = waker.wake();
    });
    stop
}

/// A line the kernel side's program printed, and when.
type Line = (Instant, Stream, String);

/// Set `path`'s permission bits.
fn open_to(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn io_error(e: PrivilegeError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// The kernel side's program: the process, what it prints, and when it ended.
struct KernelSide {
    child: Arc<Mutex<Child>>,
    lines: Arc<Mutex<Vec<Line>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    ended: Arc<Mutex<Option<(Instant, ExitStatus)>>>,
    label: String,
    name: String,
    record: PathBuf,
    /// Holds the observer while the program runs.
    _dir: tempfile::TempDir,
}

impl KernelSide {
    /// Start `program` in the namespace under the observer, in an emptied `workdir`.
    fn start(lab: &Lab, program: &PythonProgram, workdir: &Path) -> Result<KernelSide, LabError> {
        let failed = |command: &str, e: std::io::Error| LabError::Command {
            command: command.to_string(),
            message: e.to_string(),
        };
        let dir = tempfile::Builder::new()
            .prefix("packetlab-kernel")
            .tempdir()
            .map_err(|e| failed("make a temporary folder", e))?;
        let observer = dir.path().join("packetlab_observe.py");
        std::fs::write(&observer, python::OBSERVER).map_err(|e| failed("write the observer", e))?;
        let _ = std::fs::remove_dir_all(workdir);
        std::fs::create_dir_all(workdir).map_err(|e| failed("make the program's folder", e))?;
        let stdin_path = dir.path().join("stdin");
        std::fs::write(&stdin_path, &program.stdin).map_err(|e| failed("write its stdin", e))?;
        let stdin = std::fs::File::open(&stdin_path).map_err(|e| failed("open its stdin", e))?;
        let user = Target::choose(None).map_err(|e| failed("choose a user", io_error(e)))?;
        // The program runs as the user, not root. It may pass through this folder and read
        // the observer; a copy of it (where needed) sits in a folder of its own; it writes
        // only in its working folder and in `out`, where the observer leaves its record.
        let (place, out) = (dir.path().join("program"), dir.path().join("out"));
        let prepared = std::fs::create_dir(&place)
            .and_then(|()| std::fs::create_dir(&out))
            .and_then(|()| open_to(dir.path(), 0o711))
            .and_then(|()| open_to(&observer, 0o644));
        prepared.map_err(|e| failed("prepare the program's folders", e))?;
        let path = user
            .readable_copy(&program.path, &place)
            .map_err(|e| failed(&program.path.display().to_string(), e))?;
        user.give(&[&out, workdir])
            .map_err(|e| failed("give the program's folders to its user", e))?;
        let record = out.join("record.json");
        let python3 = user.python3().map_err(|e| failed("python3", e))?;
        let mut child = lab
            .command("setpriv")
            .args(user.setpriv_args())
            .arg(python3)
            .arg(&observer)
            .arg(&path)
            .args(&program.args)
            .current_dir(workdir)
            .env("PACKETLAB_OBSERVE", &record)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed("python3 (the kernel side's program)", e))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(read_lines(out, Stream::Stdout, &lines));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(read_lines(err, Stream::Stderr, &lines));
        }
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        Ok(KernelSide {
            child: Arc::new(Mutex::new(child)),
            lines,
            readers,
            ended: Arc::new(Mutex::new(None)),
            label: program.label.clone().unwrap_or_else(|| name.clone()),
            name,
            record,
            _dir: dir,
        })
    }

    /// Whether the program has ended, noting when it did.
    fn poll(&self) -> Option<ExitStatus> {
        poll_child(&self.child, &self.ended)
    }

    /// Wait until something listens in the namespace, at most `limit`; true if the program
    /// failed first.
    fn wait_for_listener(&self, lab: &Lab, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.poll() {
                return !status.success();
            }
            if lab.listening() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Set `stop` (and wake the driver) as soon as the program fails.
    fn stop_on_failure(&self, driver: &Driver, stop: &Arc<AtomicBool>) {
        let (child, ended) = (Arc::clone(&self.child), Arc::clone(&self.ended));
        let (stop, waker) = (Arc::clone(stop), driver.waker());
        std::thread::spawn(move || {
            loop {
                match poll_child(&child, &ended) {
                    Some(status) if !status.success() => break,
                    Some(_) => return,
                    None if stop.load(Ordering::SeqCst) => return,
                    None => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            stop.store(true, Ordering::SeqCst);
            let _ = waker.wake();
        });
    }

    /// Give the program its grace time, end it (asking first, so the observer writes its
    /// record), and turn what it printed and how it ended into events.
    fn finish(mut self, driver: &Driver) -> (Vec<Event>, Observed) {
        let started = Instant::now();
        while self.poll().is_none() && started.elapsed() < KERNEL_GRACE {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.poll().is_none() {
            self.terminate();
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let lines = std::mem::take(&mut *self.lines.lock().unwrap_or_else(|e| e.into_inner()));
        let mut events = Vec::new();
        let mut output = String::new();
        for (at, stream, text) in lines {
            output.push_str(&text);
            output.push('\n');
            events.push(Event {
                t: driver.time_of(at),
                kind: EventKind::Output {
                    program: self.label.clone(),
                    stream,
                    text,
                },
            });
        }
        let ended = *self.ended.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, status)) = ended {
            let kind = match status.code() {
                Some(status) => EventKind::Exit {
                    host: "kernel".to_string(),
                    program: self.label.clone(),
                    status,
                    exception: None,
                },
                None => EventKind::Note {
                    node: "kernel".to_string(),
                    note: Note::Program(ProgramNote::Stopped {
                        program: self.label.clone(),
                    }),
                },
            };
            events.push(Event {
                t: driver.time_of(at),
                kind,
            });
        }
        events.sort_by_key(|e| e.t);
        (
            events,
            python::read_record(&self.record, &self.name, output),
        )
    }

    /// SIGTERM, then SIGKILL if it has not ended a second later.
    fn terminate(&self) {
        let pid = self.child.lock().map(|c| c.id()).unwrap_or(0);
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let asked = Instant::now();
        while self.poll().is_none() && asked.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the child has ended; the first time it is seen ended, note when.
fn poll_child(
    child: &Mutex<Child>,
    ended: &Mutex<Option<(Instant, ExitStatus)>>,
) -> Option<ExitStatus> {
    let mut ended = ended.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, status)) = *ended {
        return Some(status);
    }
    let status = child.lock().ok()?.try_wait().ok().flatten()?;
    *ended = Some((Instant::now(), status));
    Some(status)
}

/// A thread that reads `from` line by line into `lines`, each with the time it came.
fn read_lines(
    from: impl Read + Send + 'static,
    stream: Stream,
    lines: &Arc<Mutex<Vec<Line>>>,
) -> std::thread::JoinHandle<()> {
    let lines = Arc::clone(lines);
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut lines) = lines.lock() {
                lines.push((Instant::now(), stream, line));
            }
        }
    })
}

fn note(t: Time, node: &str, note: ProgramNote) -> Event {
    Event {
        t,
        kind: EventKind::Note {
            node: node.to_string(),
            note: Note::Program(note),
        },
    }
}
