//! The SYN-flood lesson at the size: 100,000 forged SYNs, and a real client that still
//! connects in the middle of them, in flat memory (the SYN queue stays at the listen backlog and
//! SYN cookies keep nothing). Alone in its test binary, so that the peak RSS of this process's
//! children is that of these runs only.

mod common;

use nix::sys::resource::{UsageWho, getrusage};

/// The committed lesson, with `count` SYNs at 10,000 a second and the client in the middle.
fn lesson(count: u32) -> String {
    let text = std::fs::read_to_string(common::root().join("scenarios/syn-flood.toml")).unwrap();
    let seconds = count / 10_000 + 1;
    text.replace("5000 SYNs", &format!("{count} SYNs"))
        .replace("5000 from", &format!("{count} from"))
        .replace("sleep 250ms", &format!("sleep {}ms", count / 20))
        .replace(
            "duration = \"2s\"",
            &format!("duration = \"{}s\"", seconds + 1),
        )
}

#[test]
fn a_hundred_thousand_forged_syns_in_flat_memory_and_a_real_client_gets_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for count in [5_000, 100_000] {
        let path = dir.path().join(format!("flood{count}.toml"));
        std::fs::write(&path, lesson(count)).unwrap();
        let out = common::packetlab(&[
            "run",
            "--out",
            dir.path().to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{count}: {stdout}");
        assert!(stdout.contains(&format!("ok    trace contains \"sent {count} SYNs")));
        assert!(stdout.contains("ok    client.r = \"HELLO FROM A REAL CLIENT\\n\""));
        peaks.push(
            getrusage(UsageWho::RUSAGE_CHILDREN)
                .expect("getrusage works")
                .max_rss(),
        );
    }
    let (small, large) = (peaks[0], peaks[1]);
    assert!(
        large < small + 16 * 1024,
        "peak RSS {small} KiB for 5,000 SYNs, {large} KiB for 100,000"
    );
}
