//! Lessons against the Linux kernel: one host on a TAP device in a namespace made for the
//! run, the kernel side's Python program started in it first, wall-clock time instead of the
//! virtual clock, and the same trace and capture as on the simulator. What the lesson expects
//! is judged by whoever asked for the run (the scenario crate), from the [`LessonRun`].

use std::io::Read;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use capture::{Interface, Record};
use program::ProgramRun;
use stack::Engine;
use trace::{Event, EventKind, Time};

use crate::{Driver, DriverConfig, Lab, LabError, ProgramApp, Tap};

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
    /// The Python program the kernel side runs (`python3 -c`).
    pub python: String,
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
    /// The trace, with the kernel side's output as notes at the end.
    pub events: Vec<Event>,
    /// The capture's interface (the TAP device).
    pub interfaces: Vec<Interface>,
    /// The captured frames.
    pub records: Vec<Record>,
    /// What the kernel side's program printed (standard output only).
    pub kernel_output: String,
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
    let mut child = lab
        .command("python3")
        .args(["-c", &lesson.python])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command {
            command: "python3 (the kernel side's program)".to_string(),
            message: e.to_string(),
        })?;
    lab.wait_for_listener(KERNEL_HEAD_START);
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
    let mut app = ProgramApp::new(lesson.program);
    let stop = stop_after(&driver, lesson.duration);
    let result = driver.run(&mut app, &stop);
    let end = driver.now();
    let (output, errors) = finish_child(&mut child);
    let (outcome, _) = driver.finish();
    let mut events = outcome.events;
    for line in output.lines().chain(errors.lines()) {
        events.push(note(
            end,
            "kernel",
            format!("the kernel side's program printed: {line}"),
        ));
    }
    if let Err(e) = result {
        events.push(note(end, &host, format!("the TAP device failed: {e}")));
    }
    drop(lab);
    Ok(LessonRun {
        end,
        events,
        interfaces: outcome.interfaces,
        records: outcome.records,
        kernel_output: output,
        program: app.into_program(),
    })
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

/// Give the kernel side's program its grace time to finish, end it, and read what it printed
/// (standard output, standard error).
fn finish_child(child: &mut Child) -> (String, String) {
    let started = Instant::now();
    while child.try_wait().ok().flatten().is_none() && started.elapsed() < KERNEL_GRACE {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut output = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut output);
    }
    let mut errors = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut errors);
    }
    (output, errors)
}

fn note(t: Time, node: &str, text: String) -> Event {
    Event {
        t,
        kind: EventKind::Note {
            node: node.to_string(),
            text,
        },
    }
}
