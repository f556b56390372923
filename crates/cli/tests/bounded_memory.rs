//! A run streams its capture and trace to disk as it goes: its memory is bounded by what is
//! in flight, not by how much has happened. Alone in its test binary, so that the peak RSS of
//! this process's children is that of these runs only.

mod common;

use nix::sys::resource::{UsageWho, getrusage};

/// One connection carrying `mib` MiB, with capture and trace written.
fn bulk(mib: u32) -> String {
    format!(
        r#"title = "bulk {mib} MiB"
[hosts.client]
mac = "02:00:00:00:00:01"
ip = "10.0.0.1/24"
program = '''
sleep 10ms
c = connect server:9000
sent = send c random {mib}MiB
close c
'''
[hosts.server]
mac = "02:00:00:00:00:02"
ip = "10.0.0.2/24"
program = '''
s = listen 9000
conn = accept s
got = recvall conn
close conn
'''
[[links]]
a = "client"
b = "server"
delay = "1ms"
"#
    )
}

/// The largest peak RSS of any child so far, in KiB.
fn children_peak_kib() -> i64 {
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage works")
        .max_rss()
}

#[test]
fn peak_memory_does_not_grow_with_the_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for mib in [16, 256] {
        let path = dir.path().join(format!("bulk{mib}.toml"));
        std::fs::write(&path, bulk(mib)).unwrap();
        let out = common::packetlab(&[
            "run",
            "--quiet",
            "--out",
            dir.path().to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{out:?}");
        let trace = std::fs::metadata(dir.path().join(format!("bulk{mib}.trace.jsonl"))).unwrap();
        assert!(
            trace.len() > u64::from(mib) * 100_000,
            "the trace was written"
        );
        peaks.push(children_peak_kib());
    }
    // 16 times the frames and events, and the peak stays within a few MiB of the small run's
    // (held in memory, 256 MiB of frames alone would be over 300 MiB).
    let (small, large) = (peaks[0], peaks[1]);
    assert!(
        large < small + 16 * 1024,
        "peak RSS {small} KiB for 16 MiB, {large} KiB for 256 MiB"
    );
}
