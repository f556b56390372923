//! Playing a scenario on the simulator. The run hands its trace and capture to a
//! [`RunSink`] as it goes (a frame once nothing can comment on it any more), so that a long
//! run needs memory for what is in flight, not for what has happened; the expectations are
//! judged at the end from what a [`Watch`] kept of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capture::{Interface, Record};
use python::PythonApp;
use sim::{Node, NodeId, World};
use trace::{Event, Time};

use crate::judge::judge_all;
use crate::{Report, Scenario, Verdict, Watch, host_config};
pub use link::Sink as RunSink;

/// Why a scenario could not be played to its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Its Python programs could not be started.
    #[error("{0}")]
    Launch(String),
    /// Its trace or capture could not be written.
    #[error("cannot write the outputs: {0}")]
    Output(#[from] std::io::Error),
}

/// How far a run has come, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// The virtual time now.
    pub now: Time,
    /// Events so far.
    pub events: u64,
}

/// Everything kept in memory: what [`run`] hands back.
#[derive(Default)]
struct Collect {
    interfaces: Vec<Interface>,
    events: Vec<Event>,
    records: Vec<Record>,
}

impl RunSink for Collect {
    fn interfaces(&mut self, interfaces: Vec<Interface>) -> std::io::Result<()> {
        self.interfaces.extend(interfaces);
        Ok(())
    }
    fn events(&mut self, events: Vec<Event>) -> std::io::Result<()> {
        self.events.extend(events);
        Ok(())
    }
    fn frames(&mut self, records: Vec<Record>) -> std::io::Result<()> {
        self.records.extend(records);
        Ok(())
    }
}

/// Play the scenario on the simulator and check its expectations, keeping its whole trace
/// and capture in memory.
pub fn run(scenario: &Scenario) -> Result<Report, RunError> {
    run_with_progress(scenario, &mut |_| {})
}

/// Like [`run`], telling `progress` how far the run has come now and then.
pub fn run_with_progress(
    scenario: &Scenario,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, RunError> {
    let mut all = Collect::default();
    let verdicts = run_into(scenario, &mut all, progress)?;
    Ok(Report {
        events: all.events,
        interfaces: all.interfaces,
        records: all.records,
        verdicts,
        snaplen: scenario.snaplen,
    })
}

/// How many steps the simulator takes between two hand-overs to the sink.
const STEPS_PER_PASS: u64 = 1024;

/// The longest the sink waits for what has settled, in wall-clock time: a slow run (programs
/// that compute) still prints and writes as it goes.
const PASS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// Play the scenario, handing its trace and capture to `sink` as it goes (the verdicts are
/// the last events), and return the verdicts.
pub fn run_into(
    scenario: &Scenario,
    sink: &mut dyn RunSink,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<Verdict>, RunError> {
    let workdir = Workdir::new(scenario.workdir.as_deref())?;
    let world = build(scenario, &workdir)?;
    let mut watch = Watch::new(scenario);
    let (end, nodes) = drive(
        world,
        scenario.duration,
        (sink, Some(&mut watch)),
        progress,
        None,
    )?;
    let apps = nodes.iter().filter_map(|node| match node {
        Node::Host(h) => Some((h.host.name().to_string(), h.program.as_ref())),
        Node::Switch(_) | Node::Router(_) => None,
    });
    let (last, verdicts) = judge_all(scenario, end, &mut watch, apps, None);
    sink.events(last)?;
    Ok(verdicts)
}

/// Step `world` until nothing is left to do, the virtual clock passes `until` or `stop` is
/// raised (Ctrl-C), handing its trace and capture to `sink` (and `watch`) as they settle;
/// the time it ended and its nodes.
pub fn drive(
    mut world: World,
    until: Time,
    (sink, watch): (&mut dyn RunSink, Option<&mut Watch>),
    progress: &mut dyn FnMut(Progress),
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Result<(Time, Vec<Node>), RunError> {
    let mut scratch = Watch::default();
    let watch = watch.unwrap_or(&mut scratch);
    let mut events = 0u64;
    let mut steps = 0u64;
    let mut last_pass = std::time::Instant::now();
    let stopped = || stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst));
    while world.next_event_at().is_some_and(|t| t <= until) && !stopped() {
        world.step();
        steps += 1;
        // The clock is read every 64 steps only: a fast run takes millions a second.
        let due = steps % 64 == 0 && last_pass.elapsed() >= PASS_INTERVAL;
        if steps % STEPS_PER_PASS == 0 || due {
            last_pass = std::time::Instant::now();
            events += hand_over(&mut world, watch, sink)?;
            progress(Progress {
                now: world.now(),
                events,
            });
        }
    }
    let end = world.now();
    hand_over(&mut world, watch, sink)?;
    let (outcome, nodes) = world.finish();
    watch.events(&outcome.events);
    sink.events(outcome.events)?;
    watch.frames(&outcome.records);
    sink.frames(outcome.records)?;
    Ok((end, nodes))
}

/// Hand what the world has settled to the watch and the sink; the number of events.
fn hand_over(
    world: &mut World,
    watch: &mut Watch,
    sink: &mut dyn RunSink,
) -> Result<u64, RunError> {
    let interfaces = world.take_new_interfaces();
    if !interfaces.is_empty() {
        sink.interfaces(interfaces)?;
    }
    let events = world.take_events();
    let count = events.len() as u64;
    watch.events(&events);
    sink.events(events)?;
    let frames = world.take_settled_frames();
    watch.frames(&frames);
    sink.frames(frames)?;
    Ok(count)
}

/// The scenario's network, its hosts running their programs.
fn build(scenario: &Scenario, workdir: &Workdir) -> Result<World, RunError> {
    let mut world = World::new(scenario.seed);
    world.set_snaplen(scenario.snaplen);
    world.set_capture(scenario.capture);
    let mut ids: BTreeMap<&str, NodeId> = BTreeMap::new();
    for host in &scenario.hosts {
        let mut config = host_config(host);
        config.seed = world.seed_for(&host.name);
        let engine = host.engine.build(config);
        let node = match &host.python {
            Some(program) => {
                let folder = workdir.folder(&host.name)?;
                let app = PythonApp::launch(std::slice::from_ref(program), &folder)
                    .map_err(|e| RunError::Launch(format!("host `{}`: {e}", host.name)))?;
                world.add_application(engine, Box::new(app))
            }
            None => world.add_engine(engine, host.program.clone()),
        };
        ids.insert(&host.name, node);
    }
    for switch in &scenario.switches {
        ids.insert(&switch.name, world.add_switch(&switch.name, switch.aging));
    }
    for router in &scenario.routers {
        // Validated when the file was read.
        if let Ok(r) = stack::Router::new(router.clone()) {
            ids.insert(&router.name, world.add_router(r));
        }
    }
    for link in &scenario.links {
        world.connect_ports(
            (ids[link.a.as_str()], link.ports[0]),
            (ids[link.b.as_str()], link.ports[1]),
            &link.name,
            link.config.clone(),
        );
    }
    Ok(world)
}

/// Where the Python programs of a run work: a folder per host under the one the caller
/// named (emptied first), or under a temporary folder deleted after the run.
struct Workdir {
    root: PathBuf,
    _temporary: Option<tempfile::TempDir>,
}

impl Workdir {
    fn new(named: Option<&Path>) -> Result<Workdir, RunError> {
        match named {
            Some(root) => Ok(Workdir {
                root: root.to_path_buf(),
                _temporary: None,
            }),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("packetlab-run")
                    .tempdir()
                    .map_err(|e| {
                        RunError::Launch(format!("cannot make a temporary folder: {e}"))
                    })?;
                Ok(Workdir {
                    root: dir.path().to_path_buf(),
                    _temporary: Some(dir),
                })
            }
        }
    }

    /// A fresh, empty folder for `host`'s program.
    fn folder(&self, host: &str) -> Result<PathBuf, RunError> {
        let folder = self.root.join(host);
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder)
            .map_err(|e| RunError::Launch(format!("cannot create {}: {e}", folder.display())))?;
        Ok(folder)
    }
}
