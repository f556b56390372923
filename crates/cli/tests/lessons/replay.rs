//! A lesson's programs run on Linux (see the test's note): the namespaces, the programs, what
//! they kept, the capture and the kernel's counters, and the lesson's expectations judged
//! on them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use program::Stmt;
use scenario::{Check, HostDef, Scenario, SocketRef, StreamRef};
use tap::Lab;
use trace::TcpState;

use super::hub;
use super::{linux, python, segments};

/// The longest a lesson's programs may take on Linux.
const LIMIT: Duration = Duration::from_secs(60);

/// What one program printed: the sockets it named, what it kept, how it ended.
#[derive(Default)]
struct Printed {
    /// Variable → its local address, `10.0.0.1:40000`.
    sockets: BTreeMap<String, String>,
    /// Its last line, `{"done": …, "error": …}`, once its statements are over.
    done: Option<serde_json::Value>,
}

/// A lesson run on Linux.
pub struct Replayed {
    /// Host → what its program printed.
    printed: BTreeMap<String, Printed>,
    /// Host → its kernel's TcpExt counters at the end.
    counters: BTreeMap<String, BTreeMap<String, u64>>,
    /// The capture: the relay's, or `lo`'s for a lesson of one host.
    pub capture: PathBuf,
    _dir: tempfile::TempDir,
}

/// One host's namespace and its program.
struct Host {
    def: HostDef,
    lab: Lab,
    child: Option<Child>,
    printed: Arc<Mutex<Printed>>,
    /// Whether its program ends (one that serves never does).
    ends: bool,
}

/// Run `lesson`'s programs on Linux.
pub fn run(stem: &str, lesson: &Scenario) -> Replayed {
    assert!(
        lesson.routers.is_empty(),
        "{stem}: a lesson with routers is not replayed"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut hosts: Vec<Host> = lesson.hosts.iter().map(|def| host(stem, def)).collect();
    let delay = lesson
        .links
        .iter()
        .map(|l| Duration::from_nanos(l.config.delay.as_nanos()))
        .max()
        .unwrap_or_default();
    let lone = hosts.len() == 1;
    let lo_capture = dir.path().join("lo.pcap");
    let sniffer = lone.then(|| sniff(&hosts[0].lab, &lo_capture));
    let relay = hub::start(hosts.iter().map(|h| &h.lab), delay);
    start_programs(stem, &mut hosts, dir.path());
    wait_for_programs(stem, &hosts);
    // Delayed ACKs and the last FINs and ACKs go out after the last call.
    std::thread::sleep(Duration::from_secs(1));
    let frames = relay.stop().expect("the relay ran");
    let capture = if let Some(mut sniffer) = sniffer {
        stop(&mut sniffer);
        lo_capture
    } else {
        let file = dir.path().join("linux.pcap");
        tap::write_relayed(&frames, &file).expect("the capture is written");
        file
    };
    finish(hosts, capture, dir)
}

/// The namespace of `def`, as the lesson makes the host.
fn host(stem: &str, def: &HostDef) -> Host {
    let cidr = format!("{}/{}", def.ip, def.prefix);
    let lab = Lab::up(&Lab::unique_name("pllesson"), "tap0", &cidr).expect("the namespace");
    if !def.ip6.is_empty() {
        // The lab switches IPv6 off; a host of an IPv6 lesson has it on, as packetlab's
        // hosts with IPv6 addresses do: no duplicate address detection, no router
        // solicitations (they have their addresses). The link goes down and up below, so
        // the link-local address is made from the lesson's MAC.
        for setting in [
            "net.ipv6.conf.tap0.disable_ipv6=0",
            "net.ipv6.conf.tap0.accept_dad=0",
            "net.ipv6.conf.tap0.router_solicitations=0",
        ] {
            let set = lab.command("sysctl").args(["-qw", setting]).status();
            assert!(set.is_ok_and(|s| s.success()), "{stem}: sysctl {setting}");
        }
    }
    let mac = def.mac.to_string();
    let mut steps: Vec<Vec<String>> = vec![
        words("link set tap0 down"),
        words(&format!("link set tap0 address {mac}")),
    ];
    if let Some(mtu) = def.mtu {
        steps.push(words(&format!("link set tap0 mtu {mtu}")));
    }
    steps.push(words("link set tap0 up"));
    if let Some(gw) = def.gateway {
        steps.push(words(&format!("route add default via {gw}")));
    }
    // `nodad`: packetlab's hosts use their addresses at once, without the second of
    // duplicate address detection Linux waits otherwise.
    for (addr, len) in &def.ip6 {
        steps.push(words(&format!("-6 addr add {addr}/{len} dev tap0 nodad")));
    }
    if let Some(gw) = def.gateway6 {
        steps.push(words(&format!("-6 route add default via {gw}")));
    }
    for step in &steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        lab.ip(&args)
            .unwrap_or_else(|e| panic!("{stem}: {}: ip {step:?}: {e}", def.name));
    }
    for setting in sysctls(def) {
        let set = lab.command("sysctl").args(["-qw", &setting]).status();
        assert!(set.is_ok_and(|s| s.success()), "{stem}: sysctl {setting}");
    }
    let ends = !def
        .program
        .iter()
        .any(|l| matches!(l.stmt, Stmt::Serve { .. }));
    Host {
        def: def.clone(),
        lab,
        child: None,
        printed: Arc::default(),
        ends,
    }
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// The TCP settings of the host that differ from Linux's defaults.
fn sysctls(def: &HostDef) -> Vec<String> {
    let mut out = Vec::new();
    if !def.sack {
        out.push("net.ipv4.tcp_sack=0".to_string());
    }
    if !def.timestamps {
        out.push("net.ipv4.tcp_timestamps=0".to_string());
    }
    if !def.syncookies {
        out.push("net.ipv4.tcp_syncookies=0".to_string());
    }
    if let Some(cc) = def.congestion {
        out.push(format!("net.ipv4.tcp_congestion_control={}", cc.name()));
    }
    out
}

/// A capture of `lo` in the lab's namespace, begun.
fn sniff(lab: &Lab, file: &std::path::Path) -> Child {
    let child = lab
        .command("python3")
        .args(["-c", linux::SNIFFER])
        .arg(file)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::metadata(file).map_or(0, |m| m.len()) < 24 && started.elapsed() < LIMIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    child
}

fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
}

/// Each host's program, translated and started; all begin at one instant.
fn start_programs(stem: &str, hosts: &mut [Host], dir: &std::path::Path) {
    // Long enough for every python3 to start on two cores.
    let lead = 0.5 + 0.05 * hosts.len() as f64;
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + lead;
    for h in hosts.iter_mut() {
        let dual_stack = !h.def.ip6.is_empty() || h.def.slaac;
        let code = python::translate(&h.def.program, dual_stack)
            .unwrap_or_else(|e| panic!("{stem}: {}: `{}` has no Python here", h.def.name, e.0));
        let file = dir.join(format!("{}.py", h.def.name));
        std::fs::write(&file, code).unwrap();
        let mut child = h
            .lab
            .command("python3")
            .arg(&file)
            .arg(format!("{t0:.6}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let printed = h.printed.clone();
        std::thread::spawn(move || read_printed(out, &printed));
        h.child = Some(child);
    }
}

fn read_printed(out: std::process::ChildStdout, printed: &Mutex<Printed>) {
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let mut p = printed.lock().unwrap();
        if let (Some(var), Some(local)) = (v["socket"].as_str(), v["local"].as_str()) {
            p.sockets.insert(var.to_string(), local.to_string());
        } else if v.get("done").is_some() {
            p.done = Some(v);
        }
    }
}

fn wait_for_programs(stem: &str, hosts: &[Host]) {
    let started = Instant::now();
    while hosts
        .iter()
        .any(|h| h.ends && h.printed.lock().unwrap().done.is_none())
    {
        assert!(
            started.elapsed() < LIMIT,
            "{stem}: programs still running after {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The counters, the programs stopped, the namespaces deleted.
fn finish(hosts: Vec<Host>, capture: PathBuf, dir: tempfile::TempDir) -> Replayed {
    let mut printed = BTreeMap::new();
    let mut counters = BTreeMap::new();
    for mut h in hosts {
        counters.insert(h.def.name.clone(), tcp_ext(&h.lab));
        if let Some(child) = &mut h.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let p = std::mem::take(&mut *h.printed.lock().unwrap());
        printed.insert(h.def.name.clone(), p);
    }
    Replayed {
        printed,
        counters,
        capture,
        _dir: dir,
    }
}

/// The namespace's TcpExt counters, from `/proc/net/netstat` (its header line of names, then
/// a line of values).
fn tcp_ext(lab: &Lab) -> BTreeMap<String, u64> {
    let out = lab
        .command("cat")
        .arg("/proc/net/netstat")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    let [names, values] = lines[..] else {
        return BTreeMap::new();
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .skip(1)
        .filter_map(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
        .collect()
}

/// What `command` prints in a fresh namespace, trimmed.
pub fn in_fresh_namespace(command: &str) -> String {
    let lab = Lab::up(&Lab::unique_name("pldefault"), "tap0", "10.99.0.1/24").unwrap();
    let out = lab.command("sh").args(["-c", command]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Replayed {
    /// Whether every client's first SYN to `port` reached the server before any client's
    /// first ACK did: the burst the lesson's counts assume, which a python3 scheduled late
    /// on a loaded machine does not make.
    pub fn syns_came_in_one_burst(&self, port: u16) -> bool {
        let bytes = std::fs::read(&self.capture).unwrap();
        let mut segs = Vec::new();
        observer::for_each_packet("capture", &bytes[..], |p| {
            let Ok(d) = wire::decode(p.frame) else { return };
            let wire::EthPayload::Ipv4(ip) = d.payload else {
                return;
            };
            if let wire::Ipv4Payload::Tcp(t) = &ip.payload {
                if t.dst_port == port {
                    segs.push((t.src_port, t.flags.syn));
                }
            }
        })
        .unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut acked = false;
        for (client, syn) in segs {
            match (syn, seen.insert((client, syn))) {
                (true, true) if acked => return false,
                (false, true) => acked = true,
                _ => {}
            }
        }
        true
    }

    /// A TcpExt counter of `host`'s kernel.
    pub fn counter(&self, host: &str, name: &str) -> u64 {
        self.counters
            .get(host)
            .and_then(|c| c.get(name))
            .copied()
            .unwrap_or(0)
    }

    /// Whether `check` holds on this run; None for what the wire does not show (the trace's
    /// words, states at a time, a program's printing).
    pub fn verdict(&self, check: &Check) -> Option<Result<(), String>> {
        match check {
            Check::Data { host, var, data } => Some(self.data(host, var, data)),
            Check::Error { host, var, errno } => Some(self.error(host, var, errno)),
            Check::WireFlags(expected) => Some(self.flags(expected)),
            Check::Passes {
                host,
                socket: SocketRef::Var(var),
                states,
            } => Some(self.passes(host, var, states)),
            Check::SameStream {
                a: (ha, StreamRef::Var(va)),
                b: (hb, StreamRef::Var(vb)),
            } => Some(self.same_stream((ha, va), (hb, vb))),
            _ => None,
        }
    }

    fn kept(&self, host: &str, var: &str) -> Option<&serde_json::Value> {
        let done = self.printed.get(host)?.done.as_ref()?;
        done["done"].get(var)
    }

    fn data(&self, host: &str, var: &str, data: &[u8]) -> Result<(), String> {
        let want: String = data.iter().map(|b| format!("{b:02x}")).collect();
        match self.kept(host, var).and_then(|v| v["hex"].as_str()) {
            Some(got) if got == want => Ok(()),
            Some(got) => Err(format!("{host}.{var} is {}", unhex(got))),
            None => Err(format!("{host}.{var} was not received")),
        }
    }

    fn error(&self, host: &str, var: &str, errno: &str) -> Result<(), String> {
        let done = self.printed.get(host).and_then(|p| p.done.as_ref());
        let error = done.map(|d| &d["error"]);
        match error {
            Some(e) if e["var"] == var && e["errno"] == errno => Ok(()),
            Some(e) => Err(format!("{host}'s program ended with {e}")),
            None => Err(format!("{host}'s program did not end")),
        }
    }

    fn same_stream(&self, a: (&str, &str), b: (&str, &str)) -> Result<(), String> {
        let (x, y) = (self.kept(a.0, a.1), self.kept(b.0, b.1));
        match (x, y) {
            (Some(x), Some(y)) if x == y => Ok(()),
            _ => Err(format!("{}.{}: {x:?}; {}.{}: {y:?}", a.0, a.1, b.0, b.1)),
        }
    }

    /// The flags of every TCP segment of the capture, as tcpdump writes them.
    fn tcp_flags(&self) -> Vec<String> {
        let bytes = std::fs::read(&self.capture).unwrap();
        let mut flags = Vec::new();
        observer::for_each_packet("capture", &bytes[..], |p| {
            if let Ok(wire::Frame {
                payload: wire::EthPayload::Ipv4(ip),
                ..
            }) = wire::decode(p.frame)
                && let wire::Ipv4Payload::Tcp(t) = &ip.payload
            {
                flags.push(t.flags.tcpdump());
            }
        })
        .unwrap();
        flags
    }

    fn flags(&self, expected: &[String]) -> Result<(), String> {
        let got = self.tcp_flags();
        if got == expected {
            Ok(())
        } else {
            Err(format!("flags {}", got.join(", ")))
        }
    }

    /// The states `host`'s socket `var` entered, inferred from the capture. TIME-WAIT's end is
    /// not on the wire, so a CLOSED after it is not asked for.
    fn passes(&self, host: &str, var: &str, states: &[TcpState]) -> Result<(), String> {
        let Some(local) = self.printed.get(host).and_then(|p| p.sockets.get(var)) else {
            return Err(format!("{host}.{var} was never a connection"));
        };
        let mut want = states.to_vec();
        if want.ends_with(&[TcpState::TimeWait, TcpState::Closed]) {
            want.pop();
        }
        let bytes = std::fs::read(&self.capture).unwrap();
        let explained = observer::explain("capture", &bytes[..]).unwrap();
        let got: Vec<TcpState> = explained
            .connections
            .iter()
            .flat_map(|c| &c.transitions)
            .filter(|t| t.endpoint.to_string() == *local)
            .map(|t| t.to)
            .collect();
        if got == want {
            Ok(())
        } else {
            let names: Vec<&str> = got.iter().map(|s| s.name()).collect();
            Err(format!("{host}.{var} ({local}) passes {}", names.join(" ")))
        }
    }

    /// What each program kept, for a failure's message.
    pub fn shown(&self) -> String {
        let mut out = String::from("  on Linux:\n");
        for (host, p) in &self.printed {
            let done = p
                .done
                .as_ref()
                .map_or("(no end)".to_string(), |d| d.to_string());
            out.push_str(&format!("    {host}: {done}\n"));
        }
        out.push_str(&format!("    flags {}\n", self.tcp_flags().join(", ")));
        out.push_str(&segments::shown(&segments::conversations(&self.capture)));
        out
    }
}

fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    format!("{:?}", String::from_utf8_lossy(&bytes))
}
