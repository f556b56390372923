//! The simulated network: hosts running programs, learning switches and links with delay,
//! moved forward by a virtual clock one event at a time ([`World::step`]).
//!
//! Determinism: all randomness comes from the world's seed; the event queue breaks ties by
//! insertion order; no map is iterated in hash order. The same world and seed always give the
//! same trace and the same capture, byte for byte.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use capture::{Interface, Record};
use stack::{Engine, Host, HostConfig, SocketId};
use trace::{Event, EventKind, TcpState, Time};

use link::{CommentAt, Direction, Fate, LinkConfig, Settling, transition_comments};
use program::{Application, Batch, Line, ProgramRun};
use stack::derive_seed;

mod switch;

pub use switch::{DEFAULT_AGING, SwitchNode};

/// Index of a node in the world.
pub type NodeId = usize;
/// Index of a link in the world (and of its capture interface).
pub type LinkId = usize;

/// A host (our stack or another engine) with the program it runs.
#[derive(Debug)]
pub struct HostNode {
    /// The engine.
    pub host: Box<dyn Engine>,
    /// What runs on it: a scenario program, or Python programs.
    pub program: Box<dyn Application>,
    /// The states each socket has entered, in order (for `wait` and expectations).
    pub history: BTreeMap<SocketId, Vec<TcpState>>,
    link: Option<LinkId>,
    /// The loopback interface, once the host has sent through it.
    lo: Option<LinkId>,
    wake_scheduled: Option<Time>,
}

/// The port of a host that its loopback interface delivers to.
const LOOPBACK_PORT: usize = 1;

/// A router with its ports' links.
#[derive(Debug)]
pub struct RouterNode {
    router: stack::Router,
    /// The link on each port, once connected.
    ports: Vec<Option<LinkId>>,
    wake_scheduled: Option<Time>,
}

/// A node of the network.
#[derive(Debug)]
pub enum Node {
    /// An end host.
    Host(Box<HostNode>),
    /// A switch.
    Switch(SwitchNode),
    /// A router.
    Router(Box<RouterNode>),
}

impl Node {
    fn name(&self) -> &str {
        match self {
            Node::Host(h) => h.host.name(),
            Node::Switch(s) => &s.name,
            Node::Router(r) => r.router.name(),
        }
    }
}

/// A point-to-point link (a cable) between two nodes.
#[derive(Debug)]
pub struct Link {
    /// Name, also the capture interface's name.
    pub name: Arc<str>,
    /// The two ends: node and that node's port index.
    pub ends: [(NodeId, usize); 2],
    /// Delay and faults, per direction.
    pub config: LinkConfig,
    /// The state of each direction: 0 is from `ends[0]` to `ends[1]`.
    directions: [Direction; 2],
    /// A host's loopback interface rather than a cable.
    loopback: bool,
}

#[derive(Debug)]
enum SimEvent {
    Deliver {
        node: NodeId,
        port: usize,
        frame: Vec<u8>,
        number: u64,
    },
    Wake {
        node: NodeId,
    },
}

/// The event queue: a heap of (time, order of scheduling, slot) over the events kept in
/// slots, so that the heap moves 24 octets per sift, not the events with their frames.
#[derive(Debug, Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(Time, u64, u32)>>,
    slots: Vec<Option<SimEvent>>,
    free: Vec<u32>,
    next_order: u64,
}

impl Queue {
    fn push(&mut self, at: Time, event: SimEvent) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((at, self.next_order, slot)));
        self.next_order += 1;
    }

    fn pop(&mut self) -> Option<(Time, SimEvent)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        let event = self.slots[slot as usize].take()?;
        self.free.push(slot);
        Some((at, event))
    }

    fn peek(&self) -> Option<(Time, &SimEvent)> {
        let Reverse((at, _, slot)) = self.heap.peek()?;
        Some((*at, self.slots[*slot as usize].as_ref()?))
    }
}

/// The simulated network.
#[derive(Debug)]
pub struct World {
    seed: u64,
    now: Time,
    nodes: Vec<Node>,
    /// Each node's name, shared by every frame event that names it.
    names: Vec<Arc<str>>,
    links: Vec<Link>,
    queue: Queue,
    events: Vec<Event>,
    /// Captured frames not yet handed out (see [`Settling`]).
    records: Settling,
    /// How many links have been handed out as capture interfaces.
    interfaces_told: usize,
    /// Frames a host sent itself, delivered before it goes on: on Linux the loopback
    /// interface delivers inside the sending call.
    looped: std::collections::VecDeque<(NodeId, Vec<u8>, u64)>,
    capture_enabled: bool,
    snaplen: Option<usize>,
    frames_sent: u64,
}

/// Everything a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Every event, in time order.
    pub events: Vec<Event>,
    /// One capture interface per link.
    pub interfaces: Vec<Interface>,
    /// Every frame on every link, in time order, with comments.
    pub records: Vec<Record>,
}

impl World {
    /// An empty world with the given seed.
    pub fn new(seed: u64) -> World {
        World {
            seed,
            now: Time::ZERO,
            nodes: Vec::new(),
            names: Vec::new(),
            links: Vec::new(),
            queue: Queue::default(),
            events: Vec::new(),
            records: Settling::default(),
            interfaces_told: 0,
            looped: std::collections::VecDeque::new(),
            capture_enabled: true,
            snaplen: None,
            frames_sent: 0,
        }
    }

    /// Keep only the first `snaplen` octets of each captured frame (tcpdump's `-s`); the
    /// capture still records each frame's full length.
    pub fn set_snaplen(&mut self, snaplen: Option<usize>) {
        self.snaplen = snaplen;
    }

    /// Skip the SHA-256 of streams (`send … random`, `recvall`): for benchmarks that measure
    /// the network, not the hash. Lengths are still counted.
    pub fn skip_stream_digests(&mut self) {
        for node in &mut self.nodes {
            if let Node::Host(h) = node {
                h.program.skip_digests();
            }
        }
    }

    /// The seed a node with this name gets, derived from the world's.
    pub fn seed_for(&self, name: &str) -> u64 {
        derive_seed(self.seed, name)
    }

    /// Keep (true, the default) or skip the capture records. Frame numbers are counted
    /// either way, so the trace is the same.
    pub fn set_capture(&mut self, enabled: bool) {
        self.capture_enabled = enabled;
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Add a host of our stack running `program`. Its random seed is derived from the
    /// world's and its name.
    pub fn add_host(&mut self, mut config: HostConfig, program: Vec<Line>) -> NodeId {
        config.seed = derive_seed(self.seed, &config.name);
        self.add_engine(Box::new(Host::new(config)), program)
    }

    /// Add a host of any engine running `program`.
    pub fn add_engine(&mut self, engine: Box<dyn Engine>, program: Vec<Line>) -> NodeId {
        let program_seed = derive_seed(self.seed, &format!("{}/program", engine.name()));
        let program = Box::new(ProgramRun::new(program, program_seed));
        self.add_application(engine, program)
    }

    /// Add a host of any engine running any application.
    pub fn add_application(
        &mut self,
        engine: Box<dyn Engine>,
        program: Box<dyn Application>,
    ) -> NodeId {
        let id = self.add_node(Node::Host(Box::new(HostNode {
            host: engine,
            program,
            history: BTreeMap::new(),
            link: None,
            lo: None,
            wake_scheduled: None,
        })));
        self.schedule(Time::ZERO, SimEvent::Wake { node: id });
        id
    }

    /// Add a learning switch whose entries age out after `aging`.
    pub fn add_switch(&mut self, name: &str, aging: Time) -> NodeId {
        self.add_node(Node::Switch(SwitchNode::new(name, aging)))
    }

    /// Add a router; [`World::connect_ports`] says which of its ports a link plugs into.
    pub fn add_router(&mut self, router: stack::Router) -> NodeId {
        self.add_node(Node::Router(Box::new(RouterNode {
            ports: vec![None; router.port_count()],
            router,
            wake_scheduled: None,
        })))
    }

    fn add_node(&mut self, node: Node) -> NodeId {
        self.names.push(Arc::from(node.name()));
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Join two nodes with a faultless cable of this delay.
    pub fn connect(&mut self, a: NodeId, b: NodeId, name: &str, delay: Time) -> LinkId {
        self.connect_with(a, b, name, LinkConfig::new(delay))
    }

    /// Join two nodes with a cable. A host has one interface, so it takes one link; a switch
    /// gets a new port; a router's next free port is used.
    pub fn connect_with(&mut self, a: NodeId, b: NodeId, name: &str, config: LinkConfig) -> LinkId {
        self.connect_ports((a, None), (b, None), name, config)
    }

    /// Join two nodes with a cable, naming the router port at an end that is a router
    /// (`None`: the next free one).
    pub fn connect_ports(
        &mut self,
        a: (NodeId, Option<usize>),
        b: (NodeId, Option<usize>),
        name: &str,
        config: LinkConfig,
    ) -> LinkId {
        let id = self.links.len();
        let mut ends = [(a.0, 0), (b.0, 0)];
        for ((node, port), wanted) in ends.iter_mut().zip([a.1, b.1]) {
            *port = match &mut self.nodes[*node] {
                Node::Host(h) => {
                    h.link = Some(id);
                    0
                }
                Node::Switch(s) => {
                    s.ports.push(id);
                    s.ports.len() - 1
                }
                Node::Router(r) => {
                    let free = r.ports.iter().position(Option::is_none);
                    let p = wanted.or(free).unwrap_or(r.ports.len());
                    if p >= r.ports.len() {
                        r.ports.resize(p + 1, None);
                    }
                    r.ports[p] = Some(id);
                    p
                }
            };
        }
        let directions =
            [0, 1].map(|d| Direction::new(derive_seed(self.seed, &format!("{name}/{d}"))));
        self.links.push(Link {
            name: Arc::from(name),
            ends,
            config,
            directions,
            loopback: false,
        });
        id
    }

    /// The host node with this id, if it is one.
    pub fn host(&self, id: NodeId) -> Option<&HostNode> {
        match self.nodes.get(id)? {
            Node::Host(h) => Some(h),
            Node::Switch(_) | Node::Router(_) => None,
        }
    }

    fn schedule(&mut self, at: Time, event: SimEvent) {
        self.queue.push(at, event);
    }

    /// The time of the next event, if any.
    pub fn next_event_at(&self) -> Option<Time> {
        self.queue.peek().map(|(at, _)| at)
    }

    /// Process the next event. Returns false when nothing is left to do.
    pub fn step(&mut self) -> bool {
        let Some((at, event)) = self.queue.pop() else {
            return false;
        };
        self.now = at;
        match event {
            SimEvent::Deliver {
                node,
                port,
                frame,
                number,
            } => match &self.nodes[node] {
                Node::Host(_) if port == LOOPBACK_PORT => {
                    self.host_step(node, |host, now| host.receive_loopback(now, &frame, number))
                }
                Node::Host(_) => {
                    self.host_step(node, |host, now| host.receive(now, &frame, number))
                }
                Node::Switch(_) => self.switch_input(node, port, frame),
                Node::Router(_) => self.router_step(node, |router, now| {
                    router.receive(now, port, &frame, number)
                }),
            },
            SimEvent::Wake { node } => match &mut self.nodes[node] {
                Node::Host(h) => {
                    if h.wake_scheduled == Some(at) {
                        h.wake_scheduled = None;
                    }
                    self.host_step(node, |host, now| host.poll_timers(now));
                }
                Node::Router(r) => {
                    if r.wake_scheduled == Some(at) {
                        r.wake_scheduled = None;
                    }
                    self.router_step(node, |router, now| router.poll_timers(now));
                }
                Node::Switch(_) => {}
            },
        }
        true
    }

    /// Run until nothing is left to do or the clock passes `limit`.
    pub fn run(&mut self, limit: Time) {
        while self.next_event_at().is_some_and(|t| t <= limit) {
            self.step();
        }
    }

    /// One step of a host: the input, then its program, then whatever they sent.
    fn host_step(&mut self, node: NodeId, input: impl FnOnce(&mut dyn Engine, Time)) {
        let now = self.now;
        let more = self.more_arrive_now(node);
        let Node::Host(h) = &mut self.nodes[node] else {
            return;
        };
        input(h.host.as_mut(), now);
        let batch = Batch::from_host(h.host.as_mut(), &mut h.history, Vec::new());
        if batch.loopback.is_empty() {
            if more {
                // As a kernel does, take in every frame that has arrived before the program
                // runs: data and the FIN behind it are both seen by the next recv.
                let link = h.link;
                return self.emit_batch(now, link, node, batch);
            }
            return self.advance_program(node, vec![batch]);
        }
        // What the input sent through lo (an ACK completing a handshake) is delivered before
        // the program goes on, as Linux does before the call returns.
        let link = h.link;
        self.emit_batch(now, link, node, batch);
        self.deliver_looped();
        self.advance_program(node, Vec::new());
    }

    /// Whether another frame reaches `node` at this same instant.
    fn more_arrive_now(&self, node: NodeId) -> bool {
        self.queue.peek().is_some_and(|(at, next)| {
            at == self.now
                && matches!(next, SimEvent::Deliver { node: n, port, .. } if *n == node && *port != LOOPBACK_PORT)
        })
    }

    /// Let a host's program make its calls, then send what they produced and set its wake-up.
    fn advance_program(&mut self, node: NodeId, mut batches: Vec<Batch>) {
        let now = self.now;
        let Node::Host(h) = &mut self.nodes[node] else {
            return;
        };
        let name = h.host.name().to_string();
        let mut env = program::Env {
            now,
            host_name: &name,
            history: &mut h.history,
            batches: &mut batches,
        };
        h.program.advance(h.host.as_mut(), &mut env);
        let deadline = [h.host.poll_at(), h.program.wake_at()]
            .into_iter()
            .flatten()
            .min();
        let wake = next_wake(deadline, &mut h.wake_scheduled, now);
        let link = h.link;
        for batch in batches {
            self.emit_batch(now, link, node, batch);
        }
        if let Some(at) = wake {
            self.schedule(at, SimEvent::Wake { node });
        }
        self.deliver_looped();
    }

    /// Deliver what hosts sent themselves through their loopback interfaces, at once.
    fn deliver_looped(&mut self) {
        while let Some((to, frame, number)) = self.looped.pop_front() {
            self.host_step(to, |host, now| host.receive_loopback(now, &frame, number));
        }
    }

    /// One step of a router: the input, then its decisions into the trace and its frames onto
    /// the links of their ports.
    fn router_step(&mut self, node: NodeId, input: impl FnOnce(&mut stack::Router, Time)) {
        let now = self.now;
        let Node::Router(r) = &mut self.nodes[node] else {
            return;
        };
        input(&mut r.router, now);
        let events = r.router.take_events();
        let frames = r.router.take_frames();
        // A port with no cable sends into the void.
        let links: Vec<Option<LinkId>> = frames
            .iter()
            .map(|(port, _)| r.ports.get(*port).copied().flatten())
            .collect();
        let wake = next_wake(r.router.poll_at(), &mut r.wake_scheduled, now);
        self.events.extend(events);
        for (link, (_, frame)) in links.into_iter().zip(frames) {
            if let Some(link) = link {
                self.transmit(node, link, frame);
            }
        }
        if let Some(at) = wake {
            self.schedule(at, SimEvent::Wake { node });
        }
        self.deliver_looped();
    }

    /// Put a batch's events in the trace and its frames on the link; comment the frames with
    /// the transitions they caused or announced.
    fn emit_batch(&mut self, now: Time, link: Option<LinkId>, node: NodeId, batch: Batch) {
        let first_number = self.frames_sent + 1;
        let sent_any = (link.is_some() && !batch.frames.is_empty()) || !batch.loopback.is_empty();
        // Comments for frames of this batch, which get their numbers only when transmitted.
        let mut pending = Vec::new();
        for (at, text) in transition_comments(&batch.events, now, sent_any) {
            match at {
                CommentAt::Frame(n) => self.comment(n, text),
                CommentAt::FirstSent => pending.push((first_number, text)),
                CommentAt::Nearest(t) if self.capture_enabled => {
                    self.records.comment_nearest(t, text)
                }
                CommentAt::Nearest(_) => {}
            }
        }
        self.events.extend(batch.events);
        if let Some(link) = link {
            for frame in batch.frames {
                self.transmit(node, link, frame);
            }
        }
        if !batch.loopback.is_empty() {
            let lo = self.loopback_link(node);
            for frame in batch.loopback {
                self.transmit(node, lo, frame);
            }
        }
        for (number, text) in pending {
            self.comment(number, text);
        }
    }

    /// The host's loopback interface, made the first time it is used (so that a run with
    /// no loopback traffic captures no `lo`). It is named `lo` in a world of one host, as on
    /// a real machine, and `HOST:lo` beside other hosts.
    fn loopback_link(&mut self, node: NodeId) -> LinkId {
        if let Node::Host(h) = &self.nodes[node]
            && let Some(lo) = h.lo
        {
            return lo;
        }
        let hosts = self
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Host(_)))
            .count();
        let name = if hosts == 1 {
            "lo".to_string()
        } else {
            format!("{}:lo", self.nodes[node].name())
        };
        let id = self.links.len();
        let directions =
            [0, 1].map(|d| Direction::new(derive_seed(self.seed, &format!("{name}/{d}"))));
        self.links.push(Link {
            name: name.into(),
            ends: [(node, LOOPBACK_PORT), (node, LOOPBACK_PORT)],
            config: LinkConfig::new(Time::ZERO),
            directions,
            loopback: true,
        });
        if let Node::Host(h) = &mut self.nodes[node] {
            h.lo = Some(id);
        }
        id
    }

    fn comment(&mut self, number: u64, text: String) {
        self.records.comment(number, text);
    }

    /// The events so far, handed out (a caller that streams them takes them now and then).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The capture interfaces made since the last call (links, loopback interfaces).
    pub fn take_new_interfaces(&mut self) -> Vec<Interface> {
        let new = self.interfaces_from(self.interfaces_told);
        self.interfaces_told = self.links.len();
        new
    }

    /// The captured frames that can no longer change, in order: delivered (or lost) before
    /// now, and not of the latest instant.
    pub fn take_settled_frames(&mut self) -> Vec<Record> {
        self.records.take_settled(self.now)
    }

    fn interfaces_from(&self, first: usize) -> Vec<Interface> {
        self.links[first..]
            .iter()
            .map(|l| {
                let names: Vec<&str> = l.ends.iter().map(|(n, _)| self.nodes[*n].name()).collect();
                let description = if l.loopback {
                    format!("loopback interface of {}", names[0])
                } else {
                    format!("simulated link {} ↔ {}", names[0], names[1])
                };
                Interface {
                    name: l.name.to_string(),
                    description,
                }
            })
            .collect()
    }

    /// Put a frame on a link from `from`'s side: capture it there, let the link's faults
    /// decide its fate, and deliver what survives at the far end.
    fn transmit(&mut self, from: NodeId, link: LinkId, frame: Vec<u8>) {
        let summary = wire::summary_of(&frame);
        self.transmit_described(from, link, frame, summary);
    }

    /// [`World::transmit`] with the frame's summary already made.
    fn transmit_described(&mut self, from: NodeId, link: LinkId, frame: Vec<u8>, summary: String) {
        self.frames_sent += 1;
        let number = self.frames_sent;
        let l = &self.links[link];
        let dir = usize::from(l.ends[0].0 != from);
        let (to, to_port) = l.ends[1 - dir];
        let link_name = Arc::clone(&l.name);
        let from_name = Arc::clone(&self.names[from]);
        let to_name = Arc::clone(&self.names[to]);
        self.events.push(Event {
            t: self.now,
            kind: EventKind::Frame {
                number,
                link: link_name.clone(),
                from: from_name.clone(),
                to: to_name.clone(),
                len: frame.len(),
                summary,
            },
        });
        if self.capture_enabled {
            let kept = self.snaplen.map_or(frame.len(), |s| s.min(frame.len()));
            self.records.capture(
                self.now,
                Record {
                    interface: link as u32,
                    t_ns: self.now.as_nanos(),
                    original_len: frame.len() as u32,
                    data: frame[..kept].to_vec(),
                    comments: Vec::new(),
                    direction: None,
                },
            );
        }
        if self.links[link].loopback {
            self.looped.push_back((to, frame, number));
            return;
        }
        let l = &mut self.links[link];
        let fate = l.directions[dir].decide(self.now, &l.config, dir, frame);
        for fault in &fate.faults {
            self.events.push(Event {
                t: self.now,
                kind: EventKind::LinkFault {
                    link: link_name.to_string(),
                    from: from_name.to_string(),
                    to: to_name.to_string(),
                    frame: number,
                    fault: *fault,
                },
            });
            self.comment(number, format!("link {link_name}: {fault}"));
        }
        let Fate { deliveries, .. } = fate;
        let last_delivery = deliveries.iter().map(|(at, _)| *at).max();
        if let (true, Some(at)) = (self.capture_enabled, last_delivery) {
            self.records.delivered_at(at);
        }
        for (at, frame) in deliveries {
            self.schedule(
                at,
                SimEvent::Deliver {
                    node: to,
                    port: to_port,
                    frame,
                    number,
                },
            );
        }
    }

    /// End the run: place the comments still waiting on the latest frame and hand over what
    /// has not been taken yet of the trace, the capture and its interfaces (all of them).
    pub fn finish(self) -> (Outcome, Vec<Node>) {
        let interfaces = self.interfaces_from(0);
        (
            Outcome {
                events: self.events,
                interfaces,
                records: self.records.finish(),
            },
            self.nodes,
        )
    }
}

/// When to wake a node whose next deadline is `deadline`, given the wake already scheduled:
/// none if that one comes first. A deadline already past (a thread waiting for its turn)
/// wakes now and is recorded as now, since only the wake recorded is cleared when it fires:
/// recording the past one would keep every later deadline from being scheduled.
fn next_wake(deadline: Option<Time>, scheduled: &mut Option<Time>, now: Time) -> Option<Time> {
    let at = deadline?.max(now);
    if scheduled.is_some_and(|s| at >= s) {
        return None;
    }
    *scheduled = Some(at);
    Some(at)
}
