//! Lessons against the Linux kernel: our host on a TAP device in a namespace made for the
//! run, the kernel-side Python program started in it first, wall-clock time instead of the
//! virtual clock, and the same trace, capture and expectations as on the simulator.

use std::io::Read;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sim::{ProgramRun, derive_seed};
use tap::{Driver, DriverConfig, Lab, LabError, ProgramApp, Tap};
use trace::{Event, EventKind};

use crate::{Evidence, Report, Scenario, conclude, host_config};

/// How long the kernel-side program gets to start listening before our host starts (a
/// kernel-side client never listens, and then our host starts after this).
const KERNEL_HEAD_START: Duration = Duration::from_secs(3);
/// How long the kernel-side program may take to finish after our host is done.
const KERNEL_GRACE: Duration = Duration::from_secs(10);

/// Run a lesson whose host is on a TAP device with the kernel at the other end. Needs root
/// and /dev/net/tun; the namespace and everything in it are deleted at the end.
pub fn run_kernel(scenario: &Scenario) -> Result<Report, LabError> {
    let kernel = scenario
        .kernel
        .as_ref()
        .expect("run_kernel is for lessons with a [kernel] table");
    let host = &scenario.hosts[0];
    let dev = host.tap.clone().unwrap_or_else(|| "tap0".to_string());
    let kernel_cidr = format!("{}/{}", kernel.ip, kernel.prefix);
    let lab = Lab::up(&Lab::unique_name("packetlab"), &dev, &kernel_cidr)?;
    let mut child = lab
        .command("python3")
        .args(["-c", &kernel.python])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command {
            command: "python3 (the kernel side's program)".to_string(),
            message: e.to_string(),
        })?;
    lab.wait_for_listener(KERNEL_HEAD_START);
    let device = Tap::open(lab.name(), &dev).map_err(|e| LabError::Command {
        command: format!("open TAP device {dev}"),
        message: e.to_string(),
    })?;
    let mut config = host_config(host);
    config.seed = derive_seed(scenario.seed, &host.name);
    let engine = host.engine.build(config);
    let driver_config = DriverConfig {
        netns: lab.name().to_string(),
        seed: scenario.seed,
        snaplen: scenario.snaplen,
        ..DriverConfig::default()
    };
    let mut driver = Driver::new(engine, device, driver_config).map_err(|e| LabError::Command {
        command: "watch the TAP device".to_string(),
        message: e.to_string(),
    })?;
    let program_seed = derive_seed(scenario.seed, &format!("{}/program", host.name));
    let mut app = ProgramApp::new(ProgramRun::new(host.program.clone(), program_seed));
    // The scenario's duration bounds the run in wall-clock time here.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let waker = driver.waker();
        let limit = Duration::from_nanos(scenario.duration.as_nanos());
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            stop.store(true, Ordering::SeqCst);
            let _ = waker.wake();
        });
    }
    let result = driver.run(&mut app, &stop);
    let end = driver.now();
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
    let (outcome, _) = driver.finish();
    let mut events = outcome.events;
    for line in output.lines().chain(errors.lines()) {
        events.push(Event {
            t: end,
            kind: EventKind::Note {
                node: "kernel".to_string(),
                text: format!("the kernel side's program printed: {line}"),
            },
        });
    }
    if let Err(e) = result {
        events.push(Event {
            t: end,
            kind: EventKind::Note {
                node: host.name.clone(),
                text: format!("the TAP device failed: {e}"),
            },
        });
    }
    drop(lab);
    let program = app.into_program();
    Ok(conclude(
        scenario,
        end,
        Evidence {
            events,
            interfaces: outcome.interfaces,
            records: outcome.records,
            kernel_output: Some(output),
        },
        std::iter::once((host.name.clone(), &program)),
    ))
}
