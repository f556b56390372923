//! Our stack over a real TAP device with the Linux kernel as the peer, talking to small
//! Python socket programs written the way a textbook writes them. Each test makes its own
//! network namespace (named after this process) and deletes it at the end, also when it
//! fails. Needs root and /dev/net/tun: skipped with a reason otherwise, unless
//! PACKETLAB_REQUIRE_TAP=1.

mod common;
#[path = "corpus/segments.rs"]
mod segments;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{prerequisite, root};
use segments::conversations;
use tap::Lab;

fn have_tap() -> bool {
    let present = tap::check_environment().is_ok()
        && Command::new("python3")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    prerequisite(
        present,
        "PACKETLAB_REQUIRE_TAP",
        "root, /dev/net/tun, iproute2 or python3",
    )
}

const KERNEL: &str = "10.77.0.1";
const OURS: &str = "10.77.0.2";

/// The kernel tests run one at a time: each moves tens of megabytes through the kernel,
/// and on two cores they would otherwise time each other out.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A lab of our own for one test, and the turn to use it.
fn lab() -> (Lab, std::sync::MutexGuard<'static, ()>) {
    let turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab =
        Lab::up(&Lab::unique_name("pltest"), "tap0", "10.77.0.1/24").expect("the lab comes up");
    (lab, turn)
}

/// `packetlab tap` in the background; killed if the test ends early.
struct Ours {
    child: Option<Child>,
}

impl Ours {
    fn start(lab: &Lab, capture: &Path, args: &[&str]) -> Ours {
        let mut command = tap_command(lab, capture, args);
        command.stdin(Stdio::null());
        Ours {
            child: Some(command.spawn().expect("packetlab tap starts")),
        }
    }

    /// Its process id.
    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Ctrl-C, then what it printed.
    fn interrupt(mut self) -> Output {
        let child = self.child.take().unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Wait for it to finish by itself (at most `limit`), then what it printed.
    fn wait(mut self, limit: Duration) -> Output {
        let mut child = self.child.take().unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < limit, "packetlab tap did not finish");
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Run a Python program inside the namespace; its standard output.
fn python(lab: &Lab, program: &str) -> String {
    let out = lab
        .command("python3")
        .args(["-c", program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Python's `socket.create_connection` retried until our host listens.
// The socket timeout only guards against a hang. Through 5 % loss both ways the kernel's
// retransmission and persist timers back off; with 30 s, one run in about ten stopped on a
// stall whose cause is not yet found (recorded for the SACK work, which changes recovery).
const CONNECT: &str = r#"
import socket, time
def connect(addr):
    for _ in range(400):
        try:
            return socket.create_connection(addr, timeout=180)
        except OSError:
            time.sleep(0.05)
    raise SystemExit("could not connect")
"#;

/// tshark's verdict on a capture: every checksum good, nothing malformed.
fn assert_clean_capture(capture: &Path) {
    let have_tshark = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !prerequisite(have_tshark, "PACKETLAB_REQUIRE_TSHARK", "tshark") {
        return;
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.malformed",
            "-e",
            "ip.checksum.status",
            "-e",
            "tcp.checksum.status",
            "-e",
            "frame.interface_name",
            "-e",
            "tcp.checksum",
            "-e",
            "tcp.checksum_calculated",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.is_empty(), "an empty capture");
    for row in text.lines() {
        let fields: Vec<&str> = row.split('\t').collect();
        assert!(fields[1].is_empty(), "malformed: {row}");
        // In ones' complement 0xffff and 0x0000 are both zero: Linux sends 0xffff where the
        // sum comes to zero (one frame in 65,536), and tshark 4.0 calls that bad.
        let zero_as_ffff = fields.get(5..7) == Some(&["0xffff", "0x0000"][..]);
        for status in [fields[2], fields[3]] {
            assert!(
                status.is_empty() || status == "1" || zero_as_ffff,
                "bad checksum: {row}"
            );
        }
        assert_eq!(fields[4], "tap0", "{row}");
    }
}

/// Wait until something in the namespace listens on TCP `port` (a Python server that has
/// just been started may take a moment, more so on a loaded machine).
fn wait_listening(lab: &Lab, port: u16) {
    let started = Instant::now();
    loop {
        let out = lab.command("ss").args(["-ltn"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if text.lines().any(|l| l.contains(&format!(":{port} "))) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing listens on port {port}: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn trace_of(capture: &Path) -> String {
    std::fs::read_to_string(capture.with_extension("trace.jsonl")).unwrap()
}

/// `sent N bytes sha256 H` / `got N bytes sha256 H` from our output.
fn digest(output: &Output, var: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{var} ")))
        .unwrap_or_else(|| {
            panic!(
                "no `{var}` line in {stdout}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .to_string()
}

fn captures() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tap.pcapng");
    (dir, path)
}

#[test]
fn kernel_client_to_our_echo_server_and_the_kernel_keeps_time_wait() {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    let (_dir, capture) = captures();
    let ours = Ours::start(&lab, &capture, &["echo-server", "7"]);
    // A textbook client: send a line, recv(1024), close first.
    let reply = python(
        &lab,
        &format!(
            "{CONNECT}
s = connect(('{OURS}', 7))
for line in [b'hello\\n', b'over a real TAP\\n']:
    s.sendall(line)
    print(s.recv(1024))
s.close()
"
        ),
    );
    assert_eq!(reply, "b'hello\\n'\nb'over a real TAP\\n'\n");
    // The kernel closed first, so the kernel waits in TIME-WAIT.
    let ss = lab.command("ss").args(["-tan"]).output().unwrap();
    let ss = String::from_utf8_lossy(&ss.stdout);
    assert!(
        ss.lines()
            .any(|l| l.starts_with("TIME-WAIT") && l.contains(&format!("{OURS}:7"))),
        "{ss}"
    );
    let out = ours.interrupt();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = trace_of(&capture);
    for transition in [
        r#""from":"LISTEN","to":"SYN-RECEIVED""#,
        r#""from":"ESTABLISHED","to":"CLOSE-WAIT""#,
        r#""from":"LAST-ACK","to":"CLOSED""#,
    ] {
        assert!(trace.contains(transition), "no {transition} in the trace");
    }
    assert_clean_capture(&capture);
}

/// A line of `/proc/PID/status`, such as `CapEff`, without its name.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn tap_gives_up_root_before_the_first_frame_and_a_kill_9_keeps_the_capture() {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    let (_dir, capture) = captures();
    let ours = Ours::start(&lab, &capture, &["echo-server", "7"]);
    let reply = python(
        &lab,
        &format!(
            "{CONNECT}\ns = connect(('{OURS}', 7))\ns.sendall(b'hi')\nprint(s.recv(64))\ns.close()\n"
        ),
    );
    assert_eq!(reply, "b'hi'\n");
    // It answered, so it has handled frames: by now it is nobody, with no capabilities.
    let pid = ours.pid();
    let uids = status_field(pid, "Uid");
    assert!(
        !uids.is_empty() && uids.split_whitespace().all(|u| u != "0"),
        "Uid: {uids}"
    );
    assert_eq!(status_field(pid, "CapEff"), "0000000000000000");
    assert_eq!(status_field(pid, "CapPrm"), "0000000000000000");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    // kill -9: what was captured is on disk (all but the last 200 ms), and reads as the
    // connection it was.
    std::thread::sleep(Duration::from_millis(600));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    drop(ours);
    let out = common::packetlab(&["explain", capture.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let history = value["connections"][0]["history"]
        .as_str()
        .unwrap_or_default();
    assert!(history.starts_with("ShAD"), "{value}");
}

#[test]
fn a_capture_folder_that_does_not_exist_is_not_made() {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("no/such/folder/x.pcapng");
    let out = Ours::start(&lab, &capture, &["echo-server", "7"]).wait(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such folder"));
    assert!(!dir.path().join("no").exists());
}

#[test]
fn device_names_missing_and_busy_devices_are_told_apart() {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    let (_dir, capture) = captures();
    let tap = |dev: &str| common::tap_echo_server(lab.name(), dev, &capture);
    let long = tap("a-name-too-long-for-linux");
    assert_eq!(long.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&long.stderr).contains("IFNAMSIZ"));
    let missing = tap("tap9");
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("no device tap9") && stderr.contains("lab up"),
        "{stderr}"
    );
    // No unconfigured tap9 was made on the way.
    let links = lab.ip(&["-o", "link"]).unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains("tap9"));
    let ours = Ours::start(&lab, &capture, &["echo-server", "7"]);
    wait_until_running(ours.pid());
    let busy = tap(lab.dev());
    assert_eq!(busy.status.code(), Some(3), "{busy:?}");
    assert!(String::from_utf8_lossy(&busy.stderr).contains("in use"));
    drop(ours);
}

/// Wait until a `packetlab tap` has given up root (so its device is open).
fn wait_until_running(pid: u32) {
    let started = Instant::now();
    while status_field(pid, "Uid").starts_with("0") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "tap did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Delete something under a running `tap`: it stops within moments, exit 3, saying `said`,
/// with its capture written.
fn stops_when_deleted(delete: impl FnOnce(&Lab), said: impl FnOnce(&Lab) -> String) {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    let (_dir, capture) = captures();
    let ours = Ours::start(&lab, &capture, &["echo-server", "7"]);
    wait_until_running(ours.pid());
    let expected = said(&lab);
    delete(&lab);
    let out = ours.wait(Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(std::fs::metadata(&capture).is_ok_and(|m| m.len() > 0));
}

#[test]
fn lab_down_under_a_running_tap_stops_it_with_its_capture_written() {
    stops_when_deleted(
        |lab| Lab::delete(lab.name()).unwrap(),
        |lab| format!("network namespace {} was deleted", lab.name()),
    );
}

#[test]
fn a_device_deleted_under_a_running_tap_stops_it_with_its_capture_written() {
    stops_when_deleted(
        |lab| drop(lab.ip(&["link", "del", lab.dev()]).unwrap()),
        |lab| format!("TAP device {} was deleted", lab.dev()),
    );
}

#[test]
fn our_client_closes_first_and_our_time_wait_expires() {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    let (_dir, capture) = captures();
    let server = lab
        .command("python3")
        .args([
            "-c",
            &format!(
                "
import socket, hashlib
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('{KERNEL}', 9000)); l.listen(5)
c, _ = l.accept()
h, n = hashlib.sha256(), 0
while True:
    data = c.recv(65536)
    if not data:
        break
    h.update(data); n += len(data)
c.close()
print(n, h.hexdigest())
"
            ),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(&lab, 9000);
    let ours = Ours::start(
        &lab,
        &capture,
        &[
            "--msl",
            "500ms",
            "source",
            &format!("{KERNEL}:9000"),
            "--bytes",
            "100KiB",
        ],
    );
    let out = ours.wait(Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kernel = server.wait_with_output().unwrap();
    let kernel = String::from_utf8(kernel.stdout).unwrap();
    let sent = digest(&out, "sent");
    assert_eq!(
        kernel.trim(),
        sent.replace(" bytes sha256", ""),
        "the kernel received exactly what we sent"
    );
    let trace = trace_of(&capture);
    assert!(trace.contains(r#""to":"TIME-WAIT""#), "we closed first");
    assert!(
        trace.contains(r#""from":"TIME-WAIT","to":"CLOSED","cause":{"timer":"time_wait"},"rule":"time_wait_timeout""#),
        "and our TIME-WAIT expired"
    );
    assert_clean_capture(&capture);
}

/// 64 MiB each way between our host and the kernel, byte-exact, optionally through our
/// fault model.
fn bulk_both_ways(faults: &[&str]) {
    let (lab, _turn) = lab();
    let size = 64 << 20;
    // Kernel → us.
    let (_dir, capture) = captures();
    let mut args = vec!["--msl", "200ms"];
    args.extend_from_slice(faults);
    args.extend_from_slice(&["sink", "9001"]);
    let ours = Ours::start(&lab, &capture, &args);
    let kernel_sent = python(
        &lab,
        &format!(
            "{CONNECT}
import hashlib, random
random.seed(7)
s = connect(('{OURS}', 9001))
h, left = hashlib.sha256(), {size}
while left:
    chunk = random.randbytes(min(left, 1 << 16))
    s.sendall(chunk); h.update(chunk); left -= len(chunk)
s.close()
print({size}, h.hexdigest())
"
        ),
    );
    let out = ours.wait(Duration::from_secs(600));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        digest(&out, "got").replace(" bytes sha256", ""),
        kernel_sent.trim(),
        "we received exactly what the kernel sent"
    );
    if !faults.is_empty() {
        assert!(trace_of(&capture).contains(r#""event":"link_fault","link":"tap0""#));
    }
    plots_the_kernels_connection(&capture, size, !faults.is_empty());
    // Us → kernel.
    let (_dir2, capture) = captures();
    let server = lab
        .command("python3")
        .args([
            "-c",
            &format!(
                "
import socket, hashlib
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('{KERNEL}', 9002)); l.listen(5)
c, _ = l.accept()
h, n = hashlib.sha256(), 0
while True:
    data = c.recv(1 << 16)
    if not data:
        break
    h.update(data); n += len(data)
c.close()
print(n, h.hexdigest())
"
            ),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(&lab, 9002);
    let mut args = vec!["--msl", "200ms"];
    args.extend_from_slice(faults);
    let remote = format!("{KERNEL}:9002");
    args.extend_from_slice(&["source", &remote, "--bytes", "64MiB"]);
    let ours = Ours::start(&lab, &capture, &args);
    let out = ours.wait(Duration::from_secs(600));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kernel = String::from_utf8(server.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(
        kernel.trim(),
        digest(&out, "sent").replace(" bytes sha256", ""),
        "the kernel received exactly what we sent"
    );
}

/// The kernel's sending, plotted from the capture alone as from any capture: every kind of
/// picture draws, the flow carried every octet, and loss shows as retransmissions.
fn plots_the_kernels_connection(capture: &Path, size: u64, lossy: bool) {
    let rec = plot::load(capture).unwrap();
    assert_eq!(rec.origin, plot::Origin::Capture);
    let conn = rec.conns.iter().max_by_key(|c| c.octets()).unwrap();
    // The kernel connected, so it is the client.
    assert_eq!(conn.flows[0].octets, size, "{}", rec.list());
    let retransmitted = conn.flows[0]
        .segs
        .iter()
        .any(|s| s.kind == plot::SegKind::Retransmission);
    assert_eq!(retransmitted, lossy, "retransmissions in the kernel's flow");
    for kind in [
        plot::Kind::Tcptrace,
        plot::Kind::Stevens,
        plot::Kind::Cwnd,
        plot::Kind::Rtt,
        plot::Kind::Throughput,
        plot::Kind::Window,
    ] {
        let request = plot::Request {
            kind: Some(kind),
            ..plot::Request::default()
        };
        let figure = plot::figure(&rec, &request).unwrap();
        let png = plot::render(figure, plot::Format::Png).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{kind:?}");
    }
}

#[test]
fn sixty_four_mib_each_way_byte_exact() {
    if !have_tap() {
        return;
    }
    bulk_both_ways(&[]);
}

#[test]
fn sixty_four_mib_each_way_through_loss_reordering_and_duplication() {
    if !have_tap() {
        return;
    }
    bulk_both_ways(&[
        "--loss",
        "5%",
        "--reorder",
        "2%",
        "--duplicate",
        "1%",
        "--seed",
        "3",
    ]);
}

#[test]
fn without_root_the_exit_status_is_3_and_says_what_to_do() {
    if !have_tap() {
        return;
    }
    // Drop to an unprivileged user for this one command (util-linux's setpriv).
    for args in [
        vec!["lab", "up", "--name", "never-made"],
        vec!["tap", "--netns", "never-made", "echo-server", "7"],
    ] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_packetlab"))
            .args(&args)
            .output()
            .expect("setpriv runs");
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("needs root"), "{stderr}");
        if args[0] == "tap" {
            // The TAP mode asks for capabilities, and says how to give them to this binary.
            let setcap = format!(
                "setcap cap_net_admin,cap_sys_admin+ep {}",
                env!("CARGO_BIN_EXE_packetlab")
            );
            assert!(stderr.contains(&setcap), "{stderr}");
        }
        assert!(stderr.contains("packetlab run handshake"), "{stderr}");
    }
}

#[test]
fn a_namespace_that_does_not_exist_is_bad_input() {
    if !have_tap() {
        return;
    }
    let out = common::packetlab(&[
        "tap",
        "--netns",
        "no-such-namespace-here",
        "echo-server",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("packetlab lab up --name no-such-namespace-here"),
        "{stderr}"
    );
}

/// Every lesson against the kernel passes its expectations, and its capture is clean.
#[test]
fn kernel_lessons_pass() {
    if !have_tap() {
        return;
    }
    let mut lessons: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios/kernel"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    lessons.sort();
    assert!(lessons.len() >= 2);
    for lesson in lessons {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let out = common::packetlab(&[
            "run",
            lesson.to_str().unwrap(),
            "--quiet",
            "--out",
            dir.path().to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}{}",
            lesson.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stem = lesson.file_stem().unwrap().to_string_lossy().into_owned();
        // Outputs mirror the scenario's folder: scenarios/kernel/X.toml → kernel/X.*.
        let stem = format!("kernel/{stem}");
        assert_clean_capture(&dir.path().join(format!("{stem}.pcapng")));
        // The kernel program printed no traceback, not even from a thread.
        let trace =
            std::fs::read_to_string(dir.path().join(format!("{stem}.trace.jsonl"))).unwrap();
        assert!(
            !trace.contains(r#""stream":"stderr""#),
            "{}: the kernel program wrote to stderr:\n{trace}",
            lesson.display()
        );
    }
}

#[test]
fn kernel_udp_sendto_recvfrom_against_our_udp_echo() {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    let (_dir, capture) = captures();
    let ours = Ours::start(&lab, &capture, &["udp-echo", "9999"]);
    // The textbook UDP client: one sendto, one recvfrom per message; each datagram whole.
    let replies = python(
        &lab,
        &format!(
            "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for message in [b'first datagram', b'second']:
    for attempt in range(20):
        s.sendto(message, ('{OURS}', 9999))
        try:
            data, addr = s.recvfrom(1024)
            print(data, addr[0], addr[1])
            break
        except socket.timeout:
            pass
"
        ),
    );
    assert_eq!(
        replies,
        format!("b'first datagram' {OURS} 9999\nb'second' {OURS} 9999\n")
    );
    let out = ours.interrupt();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean_capture(&capture);
}

/// `packetlab tap` on the lab's device, capturing to `capture`, with `args`; its output
/// piped.
fn tap_command(lab: &Lab, capture: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_packetlab"));
    command
        .args([
            "tap",
            "--netns",
            lab.name(),
            "--dev",
            lab.dev(),
            "--capture",
        ])
        .arg(capture)
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Our line client (with these options) against `remote`, given `input` and then the end
/// of its standard input; what it printed, once it ended (30 s at most).
fn our_client(lab: &Lab, capture: &Path, options: &[&str], remote: &str, input: &[u8]) -> Output {
    let mut args = vec!["--msl", "200ms"];
    args.extend_from_slice(options);
    args.extend(["client", remote]);
    let mut child = tap_command(lab, capture, &args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
    }
    Ours { child: Some(child) }.wait(Duration::from_secs(30))
}

#[test]
fn our_line_client_against_a_kernel_echo_server() {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    let (_dir, capture) = captures();
    // A textbook echo server: recv(1024), send it back, until the client is done.
    let server = lab
        .command("python3")
        .args([
            "-c",
            &format!(
                "
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('{KERNEL}', 7)); l.listen(5)
c, _ = l.accept()
while True:
    data = c.recv(1024)
    if not data:
        break
    c.sendall(data)
c.close()
"
            ),
        ])
        .spawn()
        .unwrap();
    wait_listening(&lab, 7);
    // End of input: the client shuts down its sending side.
    let out = our_client(
        &lab,
        &capture,
        &[],
        &format!("{KERNEL}:7"),
        b"first line\nsecond line\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "first line\nsecond line\n"
    );
    server.wait_with_output().unwrap();
    let trace = trace_of(&capture);
    assert!(
        trace.contains(r#""to":"FIN-WAIT-1""#),
        "shutdown at the end of input"
    );
    assert_clean_capture(&capture);
}

/// The kernel's and our IPv6 addresses on the lab's device.
const KERNEL6: &str = "2001:db8:77::1";
const OURS6: &str = "2001:db8:77::2";

/// IPv6 on the lab's device (the lab switches it off): the kernel's address, used at once.
fn kernel_ipv6(lab: &Lab) {
    for setting in [
        "net.ipv6.conf.tap0.disable_ipv6=0",
        "net.ipv6.conf.tap0.accept_dad=0",
    ] {
        let set = lab.command("sysctl").args(["-qw", setting]).status();
        assert!(set.is_ok_and(|s| s.success()), "sysctl {setting}");
    }
    lab.ip(&[
        "-6",
        "addr",
        "add",
        &format!("{KERNEL6}/64"),
        "dev",
        "tap0",
        "nodad",
    ])
    .expect("the kernel's IPv6 address");
}

#[test]
fn our_client_over_ipv6_against_a_kernel_echo_server() {
    if !have_tap() {
        return;
    }
    let (lab, _turn) = lab();
    kernel_ipv6(&lab);
    let (_dir, capture) = captures();
    let server = lab
        .command("python3")
        .args([
            "-c",
            &format!(
                "
import socket
l = socket.socket(socket.AF_INET6); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('{KERNEL6}', 7)); l.listen(5)
c, peer = l.accept()
print(peer[0], flush=True)
while True:
    data = c.recv(1024)
    if not data:
        break
    c.sendall(data)
c.close()
"
            ),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(&lab, 7);
    let ip6 = format!("{OURS6}/64");
    let remote = format!("[{KERNEL6}]:7");
    let out = our_client(&lab, &capture, &["--ip6", &ip6], &remote, b"over IPv6\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over IPv6\n");
    let served = server.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&served.stdout).trim(),
        OURS6,
        "the kernel saw our address"
    );
    let trace = trace_of(&capture);
    // We solicited the kernel's address and learned its MAC from its advertisement.
    assert!(
        trace.contains(&format!(r#""action":"learned","ip":"{KERNEL6}""#)),
        "{trace}"
    );
    assert!(trace.contains(r#""to":"ESTABLISHED""#));
    let segments = conversations(&capture);
    let syn = &segments[0][0];
    assert_eq!(
        (syn.flags.as_str(), syn.options.as_str()),
        ("S", "mss=1440 sack ts ws")
    );
    let synack = &segments[0][1];
    assert_eq!(
        synack.options, "mss=1440 sack ts ws",
        "the kernel's MSS over IPv6"
    );
    assert_clean_capture(&capture);
}

/// A network namespace of this test's own, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = Lab::unique_name("plveth");
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(ok.success());
        Netns(name)
    }

    fn ip(&self, args: &[&str]) {
        let status = Command::new("ip")
            .args(["-n", &self.0])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "ip -n {} {args:?}", self.0);
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.0, program]);
        command
    }
}

/// Root, TAP devices and tshark: a test that captures in a namespace needs all three.
fn have_tap_and_tshark() -> bool {
    if !have_tap() {
        return false;
    }
    let have_tshark = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    prerequisite(have_tshark, "PACKETLAB_REQUIRE_TSHARK", "tshark")
}

/// tshark capturing TCP on `dev` in `ns` into `file`, given two seconds to start.
fn start_capture(ns: &Netns, dev: &str, file: &std::path::Path) -> std::process::Child {
    let capture = ns
        .command("tshark")
        .args(["-q", "-i", dev, "-f", "tcp", "-w"])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    capture
}

/// Stop a capture as Ctrl-C does, so that tshark writes out what it has.
fn stop_capture(mut capture: std::process::Child) {
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(capture.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    capture.wait().unwrap();
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn explain_reads_a_capture_the_kernel_made_on_a_veth_pair() {
    if !have_tap_and_tshark() {
        return;
    }
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Two namespaces joined by a veth pair, made inside them.
    let (a, b) = (Netns::new(), Netns::new());
    a.ip(&[
        "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", &b.0,
    ]);
    a.ip(&["addr", "add", "10.88.0.1/24", "dev", "veth0"]);
    b.ip(&["addr", "add", "10.88.0.2/24", "dev", "veth1"]);
    for (ns, dev) in [(&a, "veth0"), (&b, "veth1")] {
        ns.ip(&["link", "set", "lo", "up"]);
        ns.ip(&["link", "set", dev, "up"]);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kernel.pcapng");
    let capture = start_capture(&a, "veth0", &file);
    let server = b
        .command("python3")
        .args([
            "-c",
            "
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('10.88.0.2', 9000)); l.listen(5)
c, _ = l.accept()
c.sendall(c.recv(1024).upper())
c.recv(1024)   # b'': the client closed first
c.close()
",
        ])
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !String::from_utf8_lossy(&b.command("ss").arg("-ltn").output().unwrap().stdout)
        .contains(":9000 ")
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let client = a
        .command("python3")
        .args([
            "-c",
            "
import socket
s = socket.create_connection(('10.88.0.2', 9000))
s.sendall(b'hello kernel\\n'); print(s.recv(1024)); s.close()
",
        ])
        .output()
        .unwrap();
    assert!(client.status.success());
    server.wait_with_output().unwrap();
    stop_capture(capture);
    let out = common::packetlab(&["explain", file.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &value["connections"][0];
    assert_eq!(
        c["orig"]["addr"].as_str().unwrap().split(':').next(),
        Some("10.88.0.1")
    );
    // The client closed first, so the client is the one in TIME-WAIT.
    assert_eq!(c["orig"]["state"], "TIME-WAIT", "{c}");
    assert_eq!(c["resp"]["state"], "CLOSED", "{c}");
    assert_eq!(c["conn_state"], "SF");
    // The kernel leaves checksums to the NIC on veth: not a bad checksum to Zeek's notation.
    assert_eq!(c["history"], "ShADadFf", "{c}");
    let first_fin_wait = c["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["to"] == "FIN-WAIT-1")
        .unwrap();
    assert!(
        first_fin_wait["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("10.88.0.1")
    );

    // The stepper and the report read the kernel's capture too.
    let steps = common::packetlab(&["step", file.to_str().unwrap(), "--plain"]);
    assert!(steps.status.success());
    let text = String::from_utf8_lossy(&steps.stdout);
    let last_states = text
        .lines()
        .rfind(|l| l.trim_start().starts_with("states:"))
        .unwrap();
    assert!(
        last_states.contains("10.88.0.1:") && last_states.contains("TIME-WAIT"),
        "{last_states}"
    );
    let html = dir.path().join("kernel.html");
    let report = common::packetlab(&[
        "report",
        file.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert!(report.status.success());
    let page = std::fs::read_to_string(&html).unwrap();
    let packets = c["packets"].as_u64().unwrap() as usize;
    assert_eq!(page.matches("class=\"step frame arrow\"").count(), packets);
}

/// A lesson against the kernel whose kernel program is `program` (Python source) and whose
/// host runs `ours`; returns what `packetlab run` printed, its trace, and how long it took.
fn kernel_lesson_with(program: &str, ours: &str) -> (Output, String, Duration) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kernel_side.py"), program).unwrap();
    let lesson = format!(
        r#"title = "a kernel program that fails"
duration = "30s"
expect = '''
kernel exits 0
'''
[hosts.client]
mac = "02:00:00:00:77:02"
ip = "10.77.0.2/24"
tap = "tap0"
program = '''
{ours}
'''
[kernel]
ip = "10.77.0.1/24"
python = "kernel_side.py"
args = ["{{kernel.ip}}"]
"#
    );
    let path = dir.path().join("fails.toml");
    std::fs::write(&path, lesson).unwrap();
    let started = Instant::now();
    let out = common::packetlab(&[
        "run",
        path.to_str().unwrap(),
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let took = started.elapsed();
    let trace = std::fs::read_to_string(dir.path().join("fails.trace.jsonl")).unwrap();
    (out, trace, took)
}

/// The kernel side's program dying is reported at once, with its traceback, whether it dies
/// before it listens or in the middle of a connection; the run does not wait it out.
#[test]
fn a_kernel_program_that_dies_is_reported_at_once_with_its_traceback() {
    if !have_tap() {
        return;
    }
    let (out, trace, took) = kernel_lesson_with(
        "import socket, sys\ns = socket.socket()\ns.bind(('10.99.99.99', 9000))\n",
        "c = connect kernel:9000",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  kernel exits 0"), "{stdout}");
    assert!(
        stdout.contains("actual: kernel_side.py raised OSError"),
        "{stdout}"
    );
    assert!(trace.contains(r#""program":"kernel/kernel_side.py","stream":"stderr","text":"OSError: [Errno 99] Cannot assign requested address""#), "{trace}");
    assert!(
        trace.contains(
            r#""event":"exit","host":"kernel","program":"kernel/kernel_side.py","status":1"#
        ),
        "{trace}"
    );
    // Well within the 3 s head start a listener would get.
    assert!(took < Duration::from_secs(3), "took {took:?}");

    let (out, trace, took) = kernel_lesson_with(
        "import socket, sys\ns = socket.create_server((sys.argv[1], 9000))\n\
         conn, _ = s.accept()\nprint('got', conn.recv(1024))\nraise RuntimeError('boom')\n",
        "c = connect kernel:9000\nsend c \"hello\"\nr = recv c",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("actual: kernel_side.py raised RuntimeError"),
        "{stdout}"
    );
    assert!(trace.contains(r#""text":"got b'hello'""#), "{trace}");
    assert!(trace.contains(r#""text":"RuntimeError: boom""#), "{trace}");
    // Our host's recv did not wait for the 30 s duration: the run stopped when the program died.
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// A lesson's kernel program never runs as root: it runs as `nobody` (or the user who ran
/// sudo) with no capabilities, even from a folder only root can read.
#[test]
fn a_kernel_program_runs_unprivileged() {
    if !have_tap() {
        return;
    }
    let (out, trace, _) = kernel_lesson_with(
        "import os, socket, sys\n\
         status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n\
         print('uid', os.getuid(), 'caps', status['CapEff'].strip(), 'nnp', \
         status['NoNewPrivs'].strip())\n\
         s = socket.create_server((sys.argv[1], 9000))\nconn, _ = s.accept()\n\
         conn.recv(1024)\n",
        "c = connect kernel:9000\nsend c \"hello\"\nclose c",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        trace.contains(r#""text":"uid 65534 caps 0000000000000000 nnp 1""#),
        "{trace}"
    );
}

#[test]
fn explain_reads_the_kernels_loopback_over_ipv6_and_ipv4() {
    if !have_tap_and_tshark() {
        return;
    }
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new();
    ns.ip(&["link", "set", "lo", "up"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lo.pcapng");
    let capture = start_capture(&ns, "lo", &file);
    // A learner's client that connects to `localhost` talks over ::1 as often as 127.0.0.1.
    let program = "
import socket, threading
def serve(family, host, port, ready):
    l = socket.socket(family); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port)); l.listen(5); ready.set()
    c, _ = l.accept(); c.sendall(c.recv(1024).upper()); c.recv(1024); c.close(); l.close()
threads = []
for family, host, port in [(socket.AF_INET6, '::1', 9000), (socket.AF_INET, '127.0.0.1', 9001)]:
    ready = threading.Event()
    t = threading.Thread(target=serve, args=(family, host, port, ready)); t.start(); ready.wait()
    s = socket.create_connection((host, port)); s.sendall(b'hello ' + host.encode())
    print(s.recv(1024)); s.close(); threads.append(t)
for t in threads:
    t.join()
";
    let run = ns
        .command("python3")
        .args(["-c", program])
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    stop_capture(capture);
    let path = file.to_str().unwrap();
    let out = common::packetlab(&["explain", path, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let connections = value["connections"].as_array().unwrap();
    let addrs: Vec<&str> = connections
        .iter()
        .map(|c| c["resp"]["addr"].as_str().unwrap())
        .collect();
    assert_eq!(addrs, ["[::1]:9000", "127.0.0.1:9001"], "{value}");
    for c in connections {
        assert_eq!(c["conn_state"], "SF", "{c}");
        assert!(!c["history"].as_str().unwrap().contains(['C', 'c']), "{c}");
        assert_eq!(c["orig"]["state"], "TIME-WAIT", "{c}");
    }
    let tshark = |args: &[&str]| {
        let out = Command::new("tshark")
            .args(["-r", path])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let segments = tshark(&["-Y", "tcp"]).lines().count() as u64;
    let conversations = tshark(&["-q", "-z", "conv,tcp"])
        .lines()
        .filter(|l| l.contains("<->"))
        .count();
    assert_eq!(value["tcp_segments"].as_u64(), Some(segments));
    assert_eq!(connections.len(), conversations);
    let steps = common::packetlab(&["step", path, "--plain"]);
    assert!(String::from_utf8_lossy(&steps.stdout).contains("::1 → ::1"));
}

#[test]
fn lab_down_without_a_lab_says_so_in_its_own_words() {
    if !have_tap() {
        return;
    }
    let name = Lab::unique_name("plnone");
    let out = common::packetlab(&["lab", "down", "--name", &name]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("there is no lab `{name}`")) && !stderr.contains("ip netns"),
        "{stderr}"
    );
}
