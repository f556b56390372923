//! `cargo bench -p packetlab-cli --bench py_lessons`: the wall time of Python programs that
//! move the most on packetlab's stack (the 1 MiB file transfer, `ThreadingTCPServer` with 20
//! client threads, an asyncio echo server with 100 clients, a 1 MiB HTTP download), best of
//! three runs, and the socket calls per second the bridge sustains on them (calls counted
//! from the trace). Where the programs end by themselves, the same programs on Linux's
//! loopback (in a network namespace of the bench's own; as root) are the peer: their wall
//! time from the server's start to the last exit, and packetlab's as a ratio of it.
//! Needs `python3`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A benchmark: its programs, where they are, `packetlab py`'s options, its exit status,
/// and the server's port when it ends by itself (so Linux can run it too).
struct Bench {
    name: &'static str,
    folder: &'static str,
    programs: [&'static str; 2],
    options: &'static [&'static str],
    status: i32,
    port: Option<u16>,
}

const BENCHES: &[Bench] = &[
    Bench {
        name: "file transfer, 1 MiB",
        folder: "scenarios/python",
        programs: ["file_server.py", "file_client.py"],
        options: &[],
        status: 0,
        port: Some(8082),
    },
    Bench {
        name: "ThreadingTCPServer, 20 clients",
        folder: "scenarios/python",
        programs: ["threading_server.py", "threading_clients.py"],
        options: &["--duration", "30s"],
        status: 1,
        port: None,
    },
    Bench {
        name: "asyncio echo, 100 clients",
        folder: "bench/python",
        programs: ["asyncio_echo_server.py", "asyncio_echo_clients.py"],
        options: &[],
        status: 0,
        port: Some(8090),
    },
    Bench {
        name: "HTTP download, 1 MiB",
        folder: "bench/python",
        programs: ["http_download_server.py", "http_download_client.py"],
        options: &[],
        status: 0,
        port: Some(8091),
    },
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("packetlab-py-bench-{}", std::process::id()));
    let linux = nix_root();
    println!("Python programs on packetlab's stack, and on Linux's lo (best of 3 runs)");
    for bench in BENCHES {
        let paths: Vec<PathBuf> = (bench.programs.iter())
            .map(|p| root.join(bench.folder).join(p))
            .collect();
        let best = best_of_three(|| packetlab(&root, &out, &paths, bench));
        let stem = bench.programs[0].trim_end_matches(".py");
        let trace = std::fs::read_to_string(out.join(format!("{stem}.trace.jsonl"))).unwrap();
        let calls = trace.matches(r#""event":"return""#).count();
        let peer = match (linux, bench.port) {
            (true, Some(port)) => {
                let t = best_of_three(|| on_linux(&paths, port));
                format!("   Linux {t:5.2} s   packetlab ÷ Linux {:4.2}×", best / t)
            }
            _ => String::new(),
        };
        println!(
            "  {:32} {best:6.2} s   {calls:6} calls   {:8.0} calls/s{peer}",
            bench.name,
            calls as f64 / best
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

fn nix_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn best_of_three(mut run: impl FnMut() -> f64) -> f64 {
    (0..3).map(|_| run()).fold(f64::INFINITY, f64::min)
}

/// One run under `packetlab py`; its wall time.
fn packetlab(root: &Path, out: &Path, paths: &[PathBuf], bench: &Bench) -> f64 {
    let started = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_packetlab"))
        .args(["py", "--quiet", "--out"])
        .arg(out)
        .args(paths)
        .args(bench.options)
        .current_dir(root)
        .output()
        .expect("packetlab runs");
    assert_eq!(run.status.code(), Some(bench.status), "{run:?}");
    started.elapsed().as_secs_f64()
}

/// One run on Linux's lo, in a namespace made for it: the server, then (once it listens)
/// the client; the wall time until both have exited.
fn on_linux(paths: &[PathBuf], port: u16) -> f64 {
    let ns = format!("plbench-{}", std::process::id());
    let ip = |args: &[&str]| {
        let ok = Command::new("ip").args(args).status().unwrap();
        assert!(ok.success(), "ip {args:?}");
    };
    ip(&["netns", "add", &ns]);
    ip(&["-n", &ns, "link", "set", "lo", "up"]);
    let python = |path: &Path| {
        Command::new("ip")
            .args(["netns", "exec", &ns, "python3"])
            .arg(path)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let started = Instant::now();
    let mut server = python(&paths[0]);
    let listening = format!(":{port:04X} 00000000:0000 0A");
    while !Command::new("ip")
        .args(["netns", "exec", &ns, "cat", "/proc/net/tcp"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&listening))
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let client_ok = python(&paths[1]).wait().unwrap().success();
    let server_ok = server.wait().unwrap().success();
    let took = started.elapsed().as_secs_f64();
    ip(&["netns", "del", &ns]);
    assert!(client_ok && server_ok);
    took
}
