//! The Python lessons on Linux's loopback: the same programs, run on the kernel in a network
//! namespace of their own with `lo` captured as `tcpdump -i lo` captures it, and the capture
//! compared segment by segment with the lesson's committed one: which way, the flags, how
//! much data, which options. Windows are not compared: Linux grows its windows as a transfer
//! goes (and scales them by 2^10 on `lo`), packetlab's are fixed at 64 KiB, and each lesson
//! says so. Where more differs, the lesson's first lines say what and why, and the test checks
//! that they do. Needs root (namespaces, a packet socket) and python3.

#[path = "corpus/case.rs"]
mod case;
mod common;
#[path = "corpus/linux.rs"]
mod linux;
#[path = "corpus/segments.rs"]
mod segments;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use segments::{Seg, close_as_a_set, conversations, shown};

use common::{prerequisite, python_present, root};

/// How a lesson's wire compares with Linux's.
enum Wire {
    /// The same segments, in the same order.
    Same,
    /// Many clients at once: on Linux, truly in parallel, they overflow the listener's
    /// queues, and some segments are sent twice (or a connection is reset); packetlab's
    /// threads take turns, and nothing overflows. Every packetlab connection is like one of
    /// Linux's that the overflow spared, and the lesson says so in these words.
    QueuesOverflowOnLinux(&'static str),
    /// Not the same: the lesson's header says so, in these words.
    Differs(&'static str),
}

/// A Python lesson: its programs (in `scenarios/python/`), their input, how its wire
/// compares, and how long its programs may sleep (on Linux, a program idle for longer
/// counts as waiting for ever).
struct Lesson {
    programs: &'static [&'static str],
    stdin: &'static [(&'static str, &'static str)],
    wire: Wire,
    settle: f64,
}

/// What the concurrent servers' lessons say of Linux's lo.
const OVERFLOW: &str = "On Linux's lo the 20 clients connect truly at once: listen(5)'s queues \
                        overflow, and some SYNs and first requests are sent twice";

/// What the lessons whose wire is Linux's say.
const SAME: &str = "On Linux's lo, the same packets";

const LESSONS: &[Lesson] = &[
    Lesson {
        programs: &["echo_server.py", "echo_client.py"],
        stdin: &[("echo_client.py", "hello\nnetworks\nq\n")],
        wire: Wire::Same,
        settle: 3.0,
    },
    Lesson {
        programs: &["udp_server.py", "udp_client.py"],
        stdin: &[],
        wire: Wire::Same,
        settle: 3.0,
    },
    Lesson {
        programs: &["sticky_server.py", "sticky_client.py"],
        stdin: &[],
        wire: Wire::Same,
        settle: 3.0,
    },
    Lesson {
        programs: &["http_server.py", "http_client.py"],
        stdin: &[],
        wire: Wire::Same,
        settle: 3.0,
    },
    Lesson {
        programs: &["threading_server.py", "threading_clients.py"],
        stdin: &[],
        wire: Wire::QueuesOverflowOnLinux(OVERFLOW),
        settle: 3.0,
    },
    Lesson {
        programs: &["tls_server.py", "tls_client.py"],
        stdin: &[],
        wire: Wire::Differs("On Linux's lo, OpenSSL writes to the socket itself"),
        settle: 3.0,
    },
    Lesson {
        programs: &["address_in_use.py"],
        stdin: &[],
        wire: Wire::Same,
        settle: 70.0,
    },
    Lesson {
        programs: &["file_server.py", "file_client.py"],
        stdin: &[],
        wire: Wire::Differs("On Linux's lo the 1 MiB leaves in fewer, larger segments"),
        settle: 3.0,
    },
    Lesson {
        programs: &["dual_stack_server.py", "dual_stack_clients.py"],
        stdin: &[],
        wire: Wire::Same,
        settle: 3.0,
    },
];

/// The lesson's first lines: the comment above its code.
fn header(program: &Path) -> String {
    std::fs::read_to_string(program)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join(" ")
}

fn case_for(lesson: &Lesson) -> case::Case {
    case::Case {
        about: lesson.programs.join(" "),
        programs: lesson.programs.iter().map(|p| p.to_string()).collect(),
        stdin: lesson
            .stdin
            .iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect(),
        args: BTreeMap::new(),
        settle: lesson.settle,
        differs: None,
        dir: root().join("scenarios/python"),
    }
}

/// Conversations with each one's closing segments as a set (their order is the scheduler's).
fn canonical(conversations: Vec<Vec<Seg>>) -> Vec<Vec<Seg>> {
    conversations.into_iter().map(close_as_a_set).collect()
}

/// How many times a lesson runs on Linux to get a run the machine's load did not disturb.
const RUNS: usize = 3;

/// Whether a client's SYN went out twice: on a loaded machine a server thread scheduled late
/// lets Linux's accept queue fill, and the kernel drops a SYN no lesson speaks of (a lesson
/// whose queues overflow on purpose says so, and is compared otherwise).
fn syn_resent(conversations: &[Vec<Seg>]) -> bool {
    conversations
        .iter()
        .any(|c| c.iter().filter(|s| s.flags == "S").count() > 1)
}

/// The lesson's conversations on Linux's `lo` (made canonical), from a run that the machine's
/// load did not disturb, where one of `RUNS` is: no SYN retransmitted, and for a lesson
/// whose wire is Linux's, the same as `ours`; for one whose queues overflow on purpose, a run
/// that spared a connection of each of our kinds. A program scheduled late on a loaded machine
/// lets Linux's delayed ACK (40 ms) go out on its own instead of riding on the program's
/// next segment; the lesson's wire is Linux's when some run shows it.
fn linux_conversations(stem: &str, lesson: &Lesson, ours: &[Vec<Seg>]) -> Vec<Vec<Seg>> {
    let mut run = 0;
    loop {
        run += 1;
        let dir = tempfile::tempdir().unwrap();
        let capture: PathBuf = dir.path().join("lo.pcap");
        linux::run_capturing(&case_for(lesson), Some(&capture));
        let theirs = canonical(conversations(&capture));
        let premise = match lesson.wire {
            // How many connections the overflow spares, and which, is the machine's load.
            Wire::QueuesOverflowOnLinux(_) => ours.iter().all(|c| theirs.contains(c)),
            Wire::Same => !syn_resent(&theirs) && theirs == ours,
            Wire::Differs(_) => !syn_resent(&theirs),
        };
        if premise || run == RUNS {
            return theirs;
        }
        eprintln!("{stem}: Linux's run was disturbed by the machine's load; run again");
    }
}

#[test]
fn every_python_lesson_puts_on_the_wire_what_linux_puts_on_lo() {
    let is_root = nix::unistd::geteuid().is_root();
    if !prerequisite(
        is_root,
        "PACKETLAB_REQUIRE_TAP",
        "root (namespaces, a packet socket)",
    ) {
        return;
    }
    if !python_present() {
        return;
    }
    let mut failures = Vec::new();
    for lesson in LESSONS {
        let stem = lesson.programs[0].trim_end_matches(".py");
        let ours = canonical(conversations(
            &root().join(format!("captures/python/{stem}.pcapng")),
        ));
        let theirs = linux_conversations(stem, lesson, &ours);
        let program = root().join("scenarios/python").join(lesson.programs[0]);
        let text = header(&program);
        let same = match lesson.wire {
            Wire::Same | Wire::Differs(_) => ours == theirs,
            Wire::QueuesOverflowOnLinux(said) => {
                if !text.contains(said) {
                    failures.push(format!("{stem}: its first lines should say {said:?}"));
                }
                // Each of ours is a connection Linux made too, unspoilt by the overflow.
                ours.iter().all(|c| theirs.contains(c))
            }
        };
        if matches!(lesson.wire, Wire::Same) && !text.contains(SAME) {
            failures.push(format!("{stem}: its first lines should say {SAME:?}"));
        }
        match (&lesson.wire, same) {
            (Wire::Differs(said), false) => {
                if !text.contains(said) {
                    failures.push(format!(
                        "{stem}: its first lines should say {said:?}: packetlab\n{}Linux\n{}",
                        shown(&ours),
                        shown(&theirs)
                    ));
                }
            }
            (Wire::Differs(_), true) => failures.push(format!(
                "{stem}: says its wire differs from Linux's, but it is the same"
            )),
            (_, true) => {}
            (_, false) => failures.push(format!(
                "{stem}: packetlab\n{}Linux\n{}",
                shown(&ours),
                shown(&theirs)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_asyncio_lessons_packets_are_the_threading_lessons() {
    let capture =
        |stem: &str| conversations(&root().join(format!("captures/python/{stem}.pcapng")));
    let (asyncio, threads) = (capture("asyncio_server"), capture("threading_server"));
    assert_eq!(asyncio.len(), 20);
    assert!(
        asyncio == threads,
        "asyncio\n{}threads\n{}",
        shown(&asyncio),
        shown(&threads)
    );
}
