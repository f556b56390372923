//! `explain --live`: Python programs talk over the loopback of a network namespace this test
//! makes, and `packetlab explain` watches that interface, printing each state change as its
//! packet passes; Ctrl-C ends the watch with the summary. Needs root and python3 (CI sets
//! PACKETLAB_REQUIRE_TAP=1); the refusals are checked everywhere.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{packetlab, prerequisite};

#[test]
fn a_bad_filter_is_refused_with_its_column() {
    let out = packetlab(&["explain", "--live", "lo", "--filter", "tcp port http"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--filter: column 10"), "{stderr}");
    assert!(stderr.contains("not a port number"), "{stderr}");
}

#[test]
fn without_cap_net_raw_it_says_how_to_grant_it() {
    let binary = env!("CARGO_BIN_EXE_packetlab");
    let args = ["explain", "--live", "lo"];
    let out = if nix::unistd::geteuid().is_root() {
        // Root as a user with no capabilities, as a learner without sudo is.
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(binary)
            .args(args)
            .output()
            .expect("setpriv runs")
    } else {
        packetlab(&args)
    };
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs CAP_NET_RAW"), "{stderr}");
    assert!(
        stderr.contains(&format!("setcap cap_net_raw+ep {binary}")),
        "{stderr}"
    );
}

/// A network namespace of this test's own with its loopback up, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("plive{}", std::process::id());
        let ok = Command::new("ip").args(["netns", "add", &name]).status();
        assert!(ok.is_ok_and(|s| s.success()), "ip netns add {name}");
        let ns = Netns(name);
        let up = Command::new("ip")
            .args(["-n", &ns.0, "link", "set", "lo", "up"])
            .status();
        assert!(up.is_ok_and(|s| s.success()));
        ns
    }

    fn python(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.0, "python3", "-c", program]);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

const SERVER: &str = "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 9000))
s.listen(1)
print('listening', flush=True)
conn, addr = s.accept()
conn.sendall(conn.recv(1024).upper())
conn.close()
";

const CLIENT: &str = "
import socket
c = socket.create_connection(('127.0.0.1', 9000))
c.sendall(b'hello')
print(c.recv(1024))
c.close()
";

/// Lines of a child's output, as they come.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

#[test]
fn python_programs_on_a_namespaces_loopback_are_watched_live() {
    let root = nix::unistd::geteuid().is_root();
    if !prerequisite(
        root && common::python_present(),
        "PACKETLAB_REQUIRE_TAP",
        "root",
    ) {
        return;
    }
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("live.pcapng");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_packetlab"))
        .args([
            "explain",
            "--live",
            "lo",
            "--netns",
            &ns.0,
            "--filter",
            "tcp port 9000",
        ])
        .arg("--write")
        .arg(&kept)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(watch.stdout.take().unwrap());
    let stderr = lines(watch.stderr.take().unwrap());
    let mut started = Vec::new();
    while let Ok(line) = stderr.recv_timeout(Duration::from_secs(10)) {
        started.push(line);
        if started
            .last()
            .is_some_and(|l| l.contains("watching lo in namespace"))
        {
            break;
        }
    }
    assert!(
        started
            .iter()
            .any(|l| l.contains("running as") && l.contains("no capabilities")),
        "privileges are given up before the watch: {started:?}"
    );
    assert!(
        started
            .last()
            .is_some_and(|l| l.contains("watching lo in namespace")),
        "{started:?}"
    );
    let mut server = ns.python(SERVER).stdout(Stdio::piped()).spawn().unwrap();
    let ready = lines(server.stdout.take().unwrap());
    assert_eq!(
        ready.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("listening")
    );
    let client = ns.python(CLIENT).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&client.stdout).trim(), "b'HELLO'");
    assert!(server.wait().unwrap().success());
    // The transitions are printed as they happen, before Ctrl-C.
    let mut live = Vec::new();
    while let Ok(line) = stdout.recv_timeout(Duration::from_secs(2)) {
        live.push(line);
    }
    let text = live.join("\n");
    for change in [
        "SYN-SENT → ESTABLISHED",
        "SYN-RECEIVED → ESTABLISHED",
        "→ TIME-WAIT",
        "→ CLOSED",
    ] {
        assert!(
            text.contains(change),
            "no `{change}` as it happened:\n{text}"
        );
    }
    assert!(text.contains("history ShA"), "{text}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(watch.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(watch.wait().unwrap().success());
    let summary: Vec<String> = stdout.iter().collect();
    let summary = summary.join("\n");
    assert!(summary.contains("lo in namespace"), "{summary}");
    assert!(summary.contains("state SF"), "{summary}");
    let ending: Vec<String> = stderr.iter().collect();
    assert!(
        ending
            .iter()
            .any(|l| l.contains("dropped by the kernel") && l.contains(", 0 dropped")),
        "{ending:?}"
    );
    // The kept capture is a capture explain reads as it saw it live.
    let again = packetlab(&["explain", kept.to_str().unwrap()]);
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.contains("1 connection(s)") && again.contains("state SF"),
        "{again}"
    );
}
