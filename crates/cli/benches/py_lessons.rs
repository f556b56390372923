//! `cargo bench -p packetlab-cli --bench py_lessons`: the wall time of the Python lessons that
//! move the most (the 1 MiB file transfer, `ThreadingTCPServer` with 20 client threads), best
//! of three runs, and the socket calls per second the bridge sustains on them (calls counted
//! from the trace). Needs `python3`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const LESSONS: &[(&str, &[&str], &[&str])] = &[
    (
        "file transfer, 1 MiB",
        &["file_server.py", "file_client.py"],
        &[],
    ),
    (
        "ThreadingTCPServer, 20 clients",
        &["threading_server.py", "threading_clients.py"],
        &["--duration", "30s"],
    ),
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("packetlab-py-bench-{}", std::process::id()));
    println!("Python lessons on packetlab's stack (best of 3 runs)");
    for (name, programs, options) in LESSONS {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let started = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_packetlab"))
                .arg("py")
                .arg("--quiet")
                .arg("--out")
                .arg(&out)
                .args(
                    programs
                        .iter()
                        .map(|p| root.join("scenarios/python").join(p)),
                )
                .args(*options)
                .current_dir(&root)
                .output()
                .expect("packetlab runs");
            assert!(status.status.success(), "{status:?}");
            best = best.min(started.elapsed().as_secs_f64());
        }
        let stem = programs[0].trim_end_matches(".py");
        let trace = std::fs::read_to_string(out.join(format!("{stem}.trace.jsonl"))).unwrap();
        let calls = trace.matches(r#""event":"return""#).count();
        println!(
            "  {name:32} {best:6.2} s   {calls:6} calls   {:8.0} calls/s",
            calls as f64 / best
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
