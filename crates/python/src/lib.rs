//! A learner's Python socket programs, unmodified, on packetlab's own stack in virtual time.
//!
//! Each program is a `python3` process started under a shim (`python/packetlab_shim.py`) that
//! replaces `socket.socket`, `time.sleep` and the clocks: every call goes over a Unix socket
//! to this crate, which makes it on the host's engine when it can complete and holds it
//! while it would block. Only one Python thread runs at a time, between two of its calls,
//! while every other waits for its reply: so runs are deterministic, and virtual time moves
//! only when every program waits. Each call is traced with the program's own line.

mod errno;
mod observe;
pub mod protocol;
mod run_as;
pub mod sockets;
mod spin;

pub use observe::{OBSERVER, Observed, ObservedConnection, read_record};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use program::{AppOutcome, Application, Batch, Env, ProgramEnd};
use serde_json::Value;
use stack::Engine;
use trace::{Event, EventKind, Note, ProgramNote, Stream, Time};

use protocol::Request;
use run_as::RunAs;
use sockets::{Served, Sockets, expiry};

/// The shim's files, by name, written to a folder of their own next to the bridge's socket
/// for each run; the first is the one started.
const SHIM: [(&str, &str); 6] = [
    (
        "packetlab_shim.py",
        include_str!("../python/packetlab_shim.py"),
    ),
    (
        "packetlab_bridge.py",
        include_str!("../python/packetlab_bridge.py"),
    ),
    (
        "packetlab_sockets.py",
        include_str!("../python/packetlab_sockets.py"),
    ),
    (
        "packetlab_clock.py",
        include_str!("../python/packetlab_clock.py"),
    ),
    (
        "packetlab_threads.py",
        include_str!("../python/packetlab_threads.py"),
    ),
    (
        "packetlab_tls.py",
        include_str!("../python/packetlab_tls.py"),
    ),
];

/// How long a Python thread may run between two calls, in wall-clock time, before the run
/// is stopped: a program that computes for ever would otherwise hang the simulator.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// One program to run.
#[derive(Debug, Clone)]
pub struct PythonProgram {
    /// The program file.
    pub path: PathBuf,
    /// Its command-line arguments (`sys.argv[1:]`).
    pub args: Vec<String>,
    /// What `input()` reads; at its end `input()` raises `EOFError`.
    pub stdin: Vec<u8>,
    /// When, in virtual time, it starts.
    pub start_at: Time,
    /// How its output is labelled in the trace, if not by its file name (a scenario names
    /// the host too: `client/echo_client.py`).
    pub label: Option<String>,
}

/// Stops a run's programs from outside the simulation (Ctrl-C): each is sent SIGTERM, as a
/// terminal's `kill` would, so that a program stuck computing lets the run end.
#[derive(Clone, Debug)]
pub struct Stopper {
    pids: Vec<u32>,
}

impl Stopper {
    /// Ask every program to stop.
    pub fn stop(&self) {
        for pid in &self.pids {
            if let Ok(pid) = i32::try_from(*pid) {
                let pid = nix::unistd::Pid::from_raw(pid);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            }
        }
    }
}

/// Why the programs could not be started.
#[derive(Debug)]
pub struct LaunchError(pub String);

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LaunchError {}

/// What serving one thread did.
enum Step {
    /// Its call completed; it has made its next.
    Served,
    /// Its call must wait.
    Blocked,
    /// Frames went through the loopback interface: let the driver deliver them first.
    Yield,
}

/// A Python thread's connection: where its requests come from and its replies go.
#[derive(Debug)]
struct Thread {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// The request it waits on, with the time it was first tried.
    pending: Option<(Request, Time)>,
    /// It has ended (its last words were said).
    done: bool,
    /// Its polls that found nothing.
    spin: spin::Spin,
}

/// One running program.
#[derive(Debug)]
struct Process {
    /// Its file name, as the trace names it (`server.py`).
    name: String,
    child: Child,
    threads: Vec<Thread>,
    start_at: Time,
    /// Its exit status, once it has ended.
    exit: Option<i32>,
    /// Output not yet ended by a newline.
    partial: String,
    /// How its output is labelled in the trace.
    label: String,
    /// Everything it printed.
    output: String,
    /// The exception that ended it.
    exception: Option<String>,
    /// How many times each lock that a thread waited for has been released.
    locks: BTreeMap<u64, u64>,
    /// What it asked for that packetlab does not simulate, with the line.
    not_simulated: Vec<String>,
    /// One of those refusals ended it (it did not catch it).
    refused: bool,
    stderr_path: PathBuf,
}

/// The learner's programs on one host, as a packetlab application.
#[derive(Debug)]
pub struct PythonApp {
    /// Holds the bridge's socket and the shim (and the programs' own folder, when they run
    /// as another user).
    _dir: tempfile::TempDir,
    /// Who the programs run as.
    run_as: RunAs,
    /// The working folder the caller named.
    workdir: PathBuf,
    /// Where new threads connect.
    listener: UnixListener,
    processes: Vec<Process>,
    sockets: Sockets,
    /// The thread whose call returned last: it runs on until it waits.
    running: Option<(usize, usize)>,
}

impl PythonApp {
    /// Start every program (each waits for its start time before its first line runs), with
    /// `workdir` as their working directory. When root runs this, they run as an ordinary
    /// user in a folder of their own, moved to `workdir` when the run ends.
    pub fn launch(programs: &[PythonProgram], workdir: &Path) -> Result<PythonApp, LaunchError> {
        let dir = tempfile::Builder::new()
            .prefix("packetlab-py")
            .tempdir()
            .map_err(|e| LaunchError(format!("cannot make a temporary folder: {e}")))?;
        let shim_dir = dir.path().join("shim");
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text)
                .map_err(|e| LaunchError(format!("cannot write {}: {e}", path.display())))
        };
        std::fs::create_dir(&shim_dir)
            .map_err(|e| LaunchError(format!("cannot make {}: {e}", shim_dir.display())))?;
        for (name, text) in SHIM {
            write(&shim_dir.join(name), text)?;
        }
        let shim = shim_dir.join(SHIM[0].0);
        let socket = dir.path().join("bridge");
        let listener = UnixListener::bind(&socket)
            .map_err(|e| LaunchError(format!("cannot listen on {}: {e}", socket.display())))?;
        let run_as = RunAs::choose(dir.path())?;
        run_as.open_to_user(dir.path(), &shim_dir, &socket)?;
        let launch = Launch {
            shim: &shim,
            socket: &socket,
            listener: &listener,
            dir: dir.path(),
            workdir,
            run_as: &run_as,
        };
        let mut processes = Vec::new();
        for (i, p) in programs.iter().enumerate() {
            processes.push(launch.start(p, i)?);
        }
        Ok(PythonApp {
            _dir: dir,
            run_as,
            workdir: workdir.to_path_buf(),
            listener,
            processes,
            sockets: Sockets::default(),
            running: None,
        })
    }

    /// What stops this run's programs from outside.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            pids: self.processes.iter().map(|p| p.child.id()).collect(),
        }
    }

    /// Serve one thread's pending request if it can complete now; then wait for its next.
    fn serve_one(&mut self, (p, t): (usize, usize), host: &mut dyn Engine, env: &mut Env) -> Step {
        let Some((request, since)) = self.processes[p].threads[t].pending.clone() else {
            return Step::Blocked;
        };
        let now = env.now;
        let name = self.processes[p].name.clone();
        let mut events = Vec::new();
        let served =
            match self.serve_program((p, t), &request, (now, since), (host.name(), &mut events)) {
                Some(served) => served,
                None => self.sockets.serve(p, &request, host, (now, since)),
            };
        if matches!(request, Request::Exit { .. }) {
            // The kernel closes what a process leaves open as it exits.
            self.sockets.close_process(p, host, now);
        }
        let served = self.unless_spinning((p, t), &request, served, now);
        let Served::Reply(reply, shown) = served else {
            // A call that blocks may still have sent something (connect's SYN).
            let batch = Batch::from_host(host, env.history, events);
            let looped = !batch.loopback.is_empty();
            if !batch.events.is_empty() || !batch.frames.is_empty() || looped {
                env.batches.push(batch);
            }
            return if looped { Step::Yield } else { Step::Blocked };
        };
        if request.traced() {
            let call = call_text(&name, &request);
            events.push(Event {
                t: now,
                kind: EventKind::Return {
                    host: host.name().to_string(),
                    call,
                    result: shown.unwrap_or_else(|| "None".to_string()),
                },
            });
        }
        let batch = Batch::from_host(host, env.history, events);
        let looped = !batch.loopback.is_empty();
        env.batches.push(batch);
        let thread = &mut self.processes[p].threads[t];
        thread.pending = None;
        let last = matches!(request, Request::Exit { .. } | Request::ThreadExit {});
        if send(&mut thread.writer, &reply).is_err() || last {
            return Step::Served;
        }
        if matches!(request, Request::Spawn { .. }) {
            // The new thread connects and waits for its turn before the parent goes on.
            match accept_thread(&self.listener, &mut self.processes[p]) {
                Ok(thread) => self.processes[p].threads.push(thread),
                Err(e) => env.batches.push(Batch {
                    events: vec![note(
                        now,
                        host.name(),
                        ProgramNote::ThreadFailed { error: e.0 },
                    )],
                    ..Batch::default()
                }),
            }
        }
        self.next_request((p, t), now, host, env);
        // What went through lo reaches the other socket before anything else runs.
        if looped { Step::Yield } else { Step::Served }
    }

    /// A poll that found nothing, made again and again at one instant, is held (see
    /// `spin`); anything else goes, and ends the spinning.
    fn unless_spinning(
        &mut self,
        (p, t): (usize, usize),
        request: &Request,
        served: Served,
        now: Time,
    ) -> Served {
        let spin = &mut self.processes[p].threads[t].spin;
        match &served {
            Served::Reply(reply, _) if spin::found_nothing(request, reply) => {
                if spin.holds(now) {
                    return Served::Blocked;
                }
            }
            Served::Reply(..) => spin.reset(),
            Served::Blocked => {}
        }
        served
    }

    /// Serve a request about the program itself (its start, output, threads, locks and end);
    /// none for a socket or clock call.
    fn serve_program(
        &mut self,
        (p, t): (usize, usize),
        request: &Request,
        (now, since): (Time, Time),
        (host, events): (&str, &mut Vec<Event>),
    ) -> Option<Served> {
        let null = || Served::Reply(protocol::ok(Value::Null), None);
        if let Request::Print { stream, text } = request {
            self.output(p, stream, text, now, events);
            return Some(null());
        }
        let process = &mut self.processes[p];
        if let Some(served) = threads_and_locks(process, t, request, (now, since)) {
            return Some(served);
        }
        let served = match request {
            Request::NotSimulated { what, at } => {
                process.not_simulated.push(format!("{what} ({at})"));
                let (at, feature) = (at.clone(), what.clone());
                events.push(note(now, host, ProgramNote::NotSimulated { at, feature }));
                null()
            }
            Request::TlsKeys { lines } => {
                events.push(Event {
                    t: now,
                    kind: EventKind::TlsKeys {
                        host: host.to_string(),
                        program: process.label.clone(),
                        key_log: lines.clone(),
                    },
                });
                null()
            }
            Request::Exit {
                status,
                exception,
                refused,
            } => {
                process.exit = Some(*status);
                process.refused = *refused;
                process.exception.clone_from(exception);
                events.push(Event {
                    t: now,
                    kind: EventKind::Exit {
                        host: host.to_string(),
                        program: process.label.clone(),
                        status: *status,
                        exception: exception.clone(),
                    },
                });
                null()
            }
            _ => return None,
        };
        Some(served)
    }

    /// Wait for a thread's next request (it runs meanwhile), and trace the call.
    fn next_request(
        &mut self,
        (p, t): (usize, usize),
        now: Time,
        host: &mut dyn Engine,
        env: &mut Env,
    ) {
        let process = &mut self.processes[p];
        let thread = &mut process.threads[t];
        let mut line = String::new();
        let read = thread.reader.read_line(&mut line);
        let request = match read {
            Ok(n) if n > 0 => serde_json::from_str::<Request>(&line).ok(),
            _ => None,
        };
        let Some(request) = request else {
            let why = crashed(process);
            let status = *process.exit.get_or_insert(1);
            let exit = EventKind::Exit {
                host: host.name().to_string(),
                program: process.label.clone(),
                status,
                exception: None,
            };
            let events = vec![note(now, host.name(), why), Event { t: now, kind: exit }];
            self.sockets.close_process(p, host, now);
            env.record(host, events);
            return;
        };
        if request.traced() {
            env.batches.push(Batch {
                events: vec![Event {
                    t: now,
                    kind: EventKind::Call {
                        host: host.name().to_string(),
                        call: call_text(&process.name, &request),
                    },
                }],
                ..Batch::default()
            });
        }
        thread.pending = Some((request, now));
    }

    /// Record program output, a line at a time.
    fn output(&mut self, p: usize, stream: &str, text: &str, now: Time, events: &mut Vec<Event>) {
        let process = &mut self.processes[p];
        process.output.push_str(text);
        process.partial.push_str(text);
        while let Some(end) = process.partial.find('\n') {
            let line: String = process.partial.drain(..=end).collect();
            events.push(Event {
                t: now,
                kind: EventKind::Output {
                    program: process.label.clone(),
                    stream: if stream == "stderr" {
                        Stream::Stderr
                    } else {
                        Stream::Stdout
                    },
                    text: line.trim_end_matches('\n').to_string(),
                },
            });
        }
    }

    /// Every thread that waits, by (process, thread).
    fn waiting(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (p, process) in self.processes.iter().enumerate() {
            for (t, thread) in process.threads.iter().enumerate() {
                if thread.pending.is_some() && !thread.done && process.exit.is_none() {
                    out.push((p, t));
                }
            }
        }
        out
    }
}

/// A call about the program's own threads and locks (none reaches the host): started, ended,
/// joined, a lock waited for or released; none for any other.
fn threads_and_locks(
    process: &mut Process,
    t: usize,
    request: &Request,
    (now, since): (Time, Time),
) -> Option<Served> {
    let null = || Served::Reply(protocol::ok(Value::Null), None);
    let expired = |timeout: &Option<f64>| timeout.is_some_and(|s| now >= expiry(since, s));
    Some(match request {
        Request::Hello { .. } if now < process.start_at => Served::Blocked,
        Request::Hello { .. } => null(),
        Request::ThreadExit {} => {
            process.threads[t].done = true;
            null()
        }
        Request::Spawn { name, .. } => {
            let index = process.threads.len();
            let shown = format!("thread {index} ({name})");
            Served::Reply(protocol::ok(Value::from(index)), Some(shown))
        }
        Request::Join {
            thread, timeout, ..
        } => {
            let ended = process.threads.get(*thread).is_none_or(|t| t.done);
            if ended || expired(timeout) {
                null()
            } else {
                Served::Blocked
            }
        }
        Request::LockWait {
            lock,
            seen,
            timeout,
            ..
        } => match process.locks.get(lock).is_some_and(|n| n > seen) {
            false if !expired(timeout) => Served::Blocked,
            got => Served::Reply(
                protocol::ok(Value::Bool(got)),
                Some(if got { "True" } else { "False" }.to_string()),
            ),
        },
        Request::LockRelease { lock, releases } => {
            process.locks.insert(*lock, *releases);
            null()
        }
        _ => return None,
    })
}

impl Application for PythonApp {
    /// Serve every call that can complete now. The thread whose call just returned keeps
    /// running until it waits, before any thread that has waited is let go on: as on Linux,
    /// where a call returns to a thread on the CPU and a woken thread waits to be scheduled.
    fn advance(&mut self, host: &mut dyn Engine, env: &mut Env) {
        loop {
            let mut order = self.waiting();
            if let Some(i) = self
                .running
                .and_then(|r| order.iter().position(|s| *s == r))
            {
                let running = order.remove(i);
                order.insert(0, running);
            }
            let mut progressed = false;
            for slot in order {
                match self.serve_one(slot, host, env) {
                    Step::Served => {
                        self.running = Some(slot);
                        progressed = true;
                        break;
                    }
                    Step::Blocked => {}
                    // The driver delivers what went through lo, then lets us go on.
                    Step::Yield => {
                        self.running = Some(slot);
                        return;
                    }
                }
            }
            if !progressed {
                self.running = None;
                return;
            }
        }
    }

    fn wake_at(&self) -> Option<Time> {
        self.waiting()
            .into_iter()
            .filter_map(|(p, t)| {
                let process = &self.processes[p];
                let thread = &process.threads[t];
                let (request, since) = thread.pending.as_ref()?;
                let own = match request {
                    Request::Hello { .. } => Some(process.start_at),
                    Request::Sleep { secs, .. } => Some(expiry(*since, *secs)),
                    other => other.timeout().map(|s| expiry(*since, s)),
                };
                // A held poll's own deadline (a zero timeout) has passed: it waits for the hold.
                thread.spin.until().or(own)
            })
            .min()
    }

    fn blocked_on(&self) -> Vec<String> {
        self.waiting()
            .into_iter()
            .filter_map(|(p, t)| {
                let (request, _) = self.processes[p].threads[t].pending.as_ref()?;
                Some(call_text(&self.processes[p].name, request))
            })
            .collect()
    }

    fn finished(&self) -> bool {
        self.processes.iter().all(|p| p.exit.is_some())
    }

    /// Every program still running gets SIGTERM, as a terminal's Ctrl-C would, and its
    /// sockets are closed as the kernel closes a killed process's descriptors; its status
    /// is a shell's for SIGTERM, 143.
    fn interrupt(&mut self, host: &mut dyn Engine, env: &mut Env) {
        self.stopper().stop();
        for p in 0..self.processes.len() {
            if self.processes[p].exit.is_none() {
                self.sockets.close_process(p, host, env.now);
                self.processes[p].exit = Some(143);
            }
        }
        env.record(host, Vec::new());
    }

    fn outcome(&self) -> Option<AppOutcome> {
        let programs = self
            .processes
            .iter()
            .map(|p| ProgramEnd {
                name: p.name.clone(),
                exit: p.exit,
                exception: p.exception.clone(),
                output: p.output.clone(),
                not_simulated: p.not_simulated.clone(),
                refused: p.refused,
            })
            .collect();
        Some(AppOutcome {
            programs,
            streams: self.sockets.streams(),
        })
    }
}

impl Drop for PythonApp {
    /// Programs still waiting when the run ends (a server in `accept` for ever) are stopped.
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        self.run_as.move_back(&self.workdir);
    }
}

/// What every program of a run is started with.
struct Launch<'a> {
    shim: &'a Path,
    socket: &'a Path,
    listener: &'a UnixListener,
    /// The run's own folder: the programs' input and error files, and copies of programs.
    dir: &'a Path,
    workdir: &'a Path,
    run_as: &'a RunAs,
}

impl Launch<'_> {
    /// Start program `i` and take its main thread's first words.
    fn start(&self, program: &PythonProgram, i: usize) -> Result<Process, LaunchError> {
        let original = std::fs::canonicalize(&program.path)
            .map_err(|e| LaunchError(format!("{}: {e}", program.path.display())))?;
        let name = original.file_name().map_or_else(
            || format!("program{i}"),
            |n| n.to_string_lossy().into_owned(),
        );
        // A copy, where one is needed, goes in a folder of its own: its name stays the
        // program's (the trace names its lines by it), beside nothing else's.
        let place = self.dir.join(format!("program{i}"));
        let io = |e: std::io::Error| LaunchError(format!("cannot prepare {name}: {e}"));
        std::fs::create_dir(&place).map_err(io)?;
        let path = self.run_as.program(&program.path, &place)?;
        let stdin_path = self.dir.join(format!("{i}.stdin"));
        let stderr_path = self.dir.join(format!("{i}.stderr"));
        std::fs::write(&stdin_path, &program.stdin).map_err(io)?;
        let stdin = std::fs::File::open(&stdin_path).map_err(io)?;
        let stderr = std::fs::File::create(&stderr_path).map_err(io)?;
        let child = self
            .run_as
            .python3(self.workdir)
            .arg(self.shim)
            .arg(&path)
            .args(&program.args)
            .env("PACKETLAB_BRIDGE", self.socket)
            .env("PACKETLAB_PROGRAM_SHOWN_AS", &original)
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| LaunchError(format!("cannot start {}: {e}", self.run_as.describe())))?;
        let mut process = Process {
            label: program.label.clone().unwrap_or_else(|| name.clone()),
            output: String::new(),
            exception: None,
            locks: BTreeMap::new(),
            not_simulated: Vec::new(),
            refused: false,
            name,
            child,
            threads: Vec::new(),
            start_at: program.start_at,
            exit: None,
            partial: String::new(),
            stderr_path,
        };
        let thread = accept_thread(self.listener, &mut process)?;
        process.threads.push(thread);
        Ok(process)
    }
}

/// Take a new thread's connection and its hello.
fn accept_thread(listener: &UnixListener, process: &mut Process) -> Result<Thread, LaunchError> {
    listener
        .set_nonblocking(false)
        .map_err(|e| LaunchError(e.to_string()))?;
    let (stream, _) = accept_within(listener, RUN_LIMIT, process)?;
    stream
        .set_read_timeout(Some(RUN_LIMIT))
        .map_err(|e| LaunchError(e.to_string()))?;
    let writer = stream.try_clone().map_err(|e| LaunchError(e.to_string()))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| LaunchError(format!("{} did not start: {e}", process.name)))?;
    let hello: Request =
        serde_json::from_str(&line).map_err(|_| LaunchError(crashed(process).to_string()))?;
    Ok(Thread {
        reader,
        writer,
        pending: Some((hello, Time::ZERO)),
        done: false,
        spin: spin::Spin::default(),
    })
}

/// Accept a connection, giving up if the program dies or takes longer than `limit`.
fn accept_within(
    listener: &UnixListener,
    limit: Duration,
    process: &mut Process,
) -> Result<(UnixStream, std::os::unix::net::SocketAddr), LaunchError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| LaunchError(e.to_string()))?;
    let started = std::time::Instant::now();
    loop {
        match listener.accept() {
            Ok(pair) => {
                pair.0
                    .set_nonblocking(false)
                    .map_err(|e| LaunchError(e.to_string()))?;
                return Ok(pair);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(LaunchError(e.to_string())),
        }
        if process.child.try_wait().ok().flatten().is_some() || started.elapsed() > limit {
            return Err(LaunchError(crashed(process).to_string()));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What a program that stopped talking left on its standard error.
fn crashed(process: &mut Process) -> ProgramNote {
    let _ = process.child.kill();
    let status = process.child.wait().ok().and_then(|s| s.code());
    let stderr = std::fs::read_to_string(&process.stderr_path).unwrap_or_default();
    ProgramNote::Crashed {
        program: process.name.clone(),
        status,
        stderr: stderr.trim().to_string(),
    }
}

fn send(writer: &mut UnixStream, reply: &Value) -> std::io::Result<()> {
    let mut line = reply.to_string();
    line.push('\n');
    writer.write_all(line.as_bytes())
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

/// The call as the trace shows it: the program's line, `server.py:14 conn.close()`.
fn call_text(name: &str, request: &Request) -> String {
    let at = request.at();
    if at.is_empty() {
        name.to_string()
    } else {
        at.to_string()
    }
}
