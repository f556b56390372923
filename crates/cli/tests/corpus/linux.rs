//! A case on Linux: real CPython on the loopback interface of a network namespace made for
//! the run (and deleted after it, also on failure), each program as `nobody`, started in
//! order as a learner starts terminals: the next once the one before waits.

// Shared by the corpus and the lessons' wire tests, which use different parts of it.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::case::{Case, Ending, Run};

/// What a terminal does with a line that `input()` reads: it shows it. packetlab's `input()`
/// echoes it for the same reason, so both transcripts read as the learner's terminal.
const ECHOING_INPUT: &str = r#"
import builtins, os, runpy, sys
def _input(prompt=""):
    sys.stdout.write(str(prompt))
    line = sys.stdin.readline()
    if not line:
        raise EOFError("EOF when reading a line")
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    return line.rstrip("\n")
builtins.input = _input
program = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
runpy.run_path(program, run_name="__main__")
"#;

/// A capture of `lo`, as `tcpdump -i lo -w FILE` makes it: every frame once (those the
/// kernel sends out and takes back in are the same frame), in a classic pcap, written as it
/// comes; it ends on SIGTERM.
pub const SNIFFER: &str = r#"
import signal, socket, struct, sys, time
out = open(sys.argv[1], 'wb')
out.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, 262144, 1))
out.flush()
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
s.bind(('lo', 0))
while True:
    data, address = s.recvfrom(262144)
    if address[2] == socket.PACKET_OUTGOING:
        continue
    ns = time.time_ns()
    out.write(struct.pack('<IIII', ns // 10**9, ns % 10**9, len(data), len(data)) + data)
    out.flush()
"#;

/// The longest a case may run on Linux.
const CASE_LIMIT: Duration = Duration::from_secs(120);

/// A network namespace made as `packetlab py`'s host is: `lo`, and an interface `eth0` with
/// 10.0.0.1/24 (one end of a veth pair whose other end is in the same namespace, so it has
/// a carrier and nothing answers on it); deleted on drop.
///
/// Its `/etc/hosts` is Debian's, the table `packetlab py` answers names from (`localhost`
/// is ::1 and 127.0.0.1), whatever this machine's says: `ip netns exec` mounts
/// `/etc/netns/NAME/hosts` over it for the namespace's programs.
struct Netns(String);

/// Debian's `/etc/hosts` on a fresh machine, less its own name.
const DEBIAN_HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// Where `ip netns exec` finds the files a namespace sees in place of `/etc`'s.
fn etc_of(name: &str) -> std::path::PathBuf {
    Path::new("/etc/netns").join(name)
}

impl Netns {
    fn new(case: &str) -> Netns {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("plcorpus-{}-{n}", std::process::id());
        let made = Command::new("ip").args(["netns", "add", &name]).status();
        assert!(made.is_ok_and(|s| s.success()), "{case}: ip netns add");
        let ns = Netns(name);
        let etc = etc_of(&ns.0);
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("hosts"), DEBIAN_HOSTS).unwrap();
        let steps: [&[&str]; 5] = [
            &["link", "set", "lo", "up"],
            &[
                "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
            ],
            &["addr", "add", "10.0.0.1/24", "dev", "eth0"],
            &["link", "set", "eth0", "up"],
            &["link", "set", "eth1", "up"],
        ];
        for step in steps {
            let done = Command::new("ip").args(["-n", &ns.0]).args(step).status();
            assert!(done.is_ok_and(|s| s.success()), "{case}: ip {step:?}");
        }
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        let _ = std::fs::remove_dir_all(etc_of(&self.0));
        // The folder goes once no namespace of any run needs it.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// One program's process, its output read on threads of their own.
struct Running {
    program: String,
    child: Child,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

fn drain(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = from.read_to_end(&mut all);
        all
    })
}

/// Run `case` on Linux; every program's output and ending.
pub fn run(case: &Case) -> Vec<Run> {
    run_capturing(case, None)
}

/// Run `case` on Linux, capturing `lo` into `capture` if given.
pub fn run_capturing(case: &Case, capture: Option<&Path>) -> Vec<Run> {
    let ns = Netns::new(&case.name());
    let sniffer = capture.map(|file| sniff(&ns, file));
    let work = tempfile::tempdir().unwrap();
    let wrapper = work.path().join("echoing_input.py");
    std::fs::write(&wrapper, ECHOING_INPUT).unwrap();
    let cwd = work.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let nobody = privilege::Target::choose(Some("nobody")).unwrap();
    nobody.give(&[&cwd]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut running: Vec<Running> = Vec::new();
    for program in &case.programs {
        if let Some(before) = running.last_mut() {
            wait_until_idle(before, Duration::from_millis(100), Duration::from_secs(3));
        }
        let copy = work.path().join(program);
        std::fs::copy(case.dir.join(program), &copy).unwrap();
        running.push(start(&ns, case, program, (&wrapper, &copy), &cwd));
    }
    let runs = finish(case, running);
    if let Some(mut sniffer) = sniffer {
        // Frames still in flight reach the capture, then it ends.
        std::thread::sleep(Duration::from_millis(200));
        let pid = nix::unistd::Pid::from_raw(sniffer.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = sniffer.wait();
    }
    runs
}

/// The sniffer on `lo` of `ns`, as root (it opens a packet socket), started and given time
/// to bind before any program runs.
fn sniff(ns: &Netns, file: &Path) -> Child {
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.0, "python3", "-c", SNIFFER])
        .arg(file)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::metadata(file).map_or(0, |m| m.len()) < 24 && started.elapsed() < CASE_LIMIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    child
}

fn start(
    ns: &Netns,
    case: &Case,
    program: &str,
    (wrapper, copy): (&Path, &Path),
    cwd: &Path,
) -> Running {
    // The user and the python3 packetlab runs programs with, when root runs it.
    let nobody = privilege::Target::choose(Some("nobody")).unwrap();
    let python3 = nobody.python3().unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.0, "setpriv"])
        .args(nobody.setpriv_args())
        .arg(python3)
        .arg(wrapper)
        .arg(copy)
        .args(case.args.get(program).into_iter().flatten())
        .current_dir(cwd)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: cannot start {program}: {e}", case.name()));
    let input = case.stdin.get(program).cloned().unwrap_or_default();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(input.as_bytes());
    });
    Running {
        program: program.to_string(),
        stdout: drain(child.stdout.take().unwrap()),
        stderr: drain(child.stderr.take().unwrap()),
        child,
    }
}

/// Wait until every program has exited, or those left have been idle for the case's settle
/// time (they wait for ever); then stop those.
fn finish(case: &Case, mut running: Vec<Running>) -> Vec<Run> {
    let started = Instant::now();
    let settle = Duration::from_secs_f64(case.settle);
    let mut quiet_since = Instant::now();
    let mut last = activity(&mut running);
    while started.elapsed() < CASE_LIMIT {
        let now = activity(&mut running);
        if now.live == 0 {
            break;
        }
        if now != last {
            quiet_since = Instant::now();
            last = now;
        } else if !now.runnable && quiet_since.elapsed() >= settle {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    running
        .into_iter()
        .map(|mut r| {
            let status = r.child.try_wait().unwrap();
            if status.is_none() {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
            let stdout = String::from_utf8_lossy(&r.stdout.join().unwrap()).into_owned();
            let stderr = String::from_utf8_lossy(&r.stderr.join().unwrap()).into_owned();
            let ending = match status.and_then(|s| s.code()) {
                Some(126 | 127) => panic!("{}: {} did not start: {stderr}", case.name(), r.program),
                None => Ending::Waiting,
                Some(0) => Ending::Exit(0, None),
                Some(n) => Ending::Exit(n, stderr.lines().last().map(str::to_string)),
            };
            Run {
                program: r.program,
                stdout: stdout.lines().map(str::to_string).collect(),
                ending,
            }
        })
        .collect()
}

/// What can be seen of the programs from outside: how many still run, the CPU time they
/// have used, and whether any thread of them is running.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Activity {
    live: usize,
    ticks: u64,
    runnable: bool,
}

fn activity(running: &mut [Running]) -> Activity {
    let mut seen = Activity {
        live: 0,
        ticks: 0,
        runnable: false,
    };
    for r in running.iter_mut() {
        if r.child.try_wait().unwrap().is_some() {
            continue;
        }
        seen.live += 1;
        for pid in process_tree(r.child.id()) {
            let (ticks, runnable) = threads_of(pid);
            seen.ticks += ticks;
            seen.runnable |= runnable;
        }
    }
    seen
}

/// A process and its descendants (`ip netns exec` starts setpriv, which execs python3).
fn process_tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", out[i]))
            .unwrap_or_default();
        out.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
        i += 1;
    }
    out
}

/// The CPU ticks used by a process's threads, and whether one of them is running.
fn threads_of(pid: u32) -> (u64, bool) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, false);
    };
    let mut ticks = 0;
    let mut runnable = false;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // After the command's name in parentheses: state, then 11 fields, then utime, stime.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        runnable |= fields.first() == Some(&"R");
        for i in [11, 12] {
            ticks += fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    (ticks, runnable)
}

/// Wait until a program has exited or waits (no thread running, no CPU used for `quiet`),
/// at most `limit`: then the next program starts, as a learner starts the client once the
/// server is up.
fn wait_until_idle(r: &mut Running, quiet: Duration, limit: Duration) {
    let started = Instant::now();
    let mut last = None;
    let mut quiet_since = Instant::now();
    while started.elapsed() < limit {
        let now = activity(std::slice::from_mut(r));
        if now.live == 0 {
            return;
        }
        if Some(now) != last {
            last = Some(now);
            quiet_since = Instant::now();
        } else if !now.runnable && quiet_since.elapsed() >= quiet {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
