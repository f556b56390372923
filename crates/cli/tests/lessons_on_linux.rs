//! Every lesson whose text speaks of Linux, checked against Linux. A lesson with programs is
//! replayed on the kernel: one network namespace per host (its MAC, address, MTU, gateway
//! and TCP settings), joined by a relay that delays each frame as the lesson's link does
//! and captures it, and each program translated into the Python a learner would write. On
//! that run the lesson's own expectations that the wire can show are checked (what each
//! `recv` returned, which calls failed, the flags on the wire, the states each socket
//! passed, inferred from the capture as `explain` infers them), and its segments are
//! compared with the committed capture's; where they differ the lesson says so. A claim
//! about a Linux default is read in a fresh namespace; a claim about timing is checked on
//! the kernel by a script of the drill suite, which `drill.rs` runs there. Needs root and
//! python3.

#[path = "corpus/case.rs"]
mod case;
mod common;
#[path = "lessons/hub.rs"]
mod hub;
#[path = "corpus/linux.rs"]
mod linux;
#[path = "lessons/python.rs"]
mod python;
#[path = "lessons/replay.rs"]
mod replay;
#[path = "corpus/segments.rs"]
mod segments;

use common::{prerequisite, python_present, root, shipped_scenarios};
use replay::Replayed;
use scenario::{Check, Scenario};

/// How a lesson's words about Linux are checked.
enum Claim {
    /// Its programs run on Linux: its expectations hold, and its segments are the committed
    /// capture's.
    Replayed,
    /// Its programs run on Linux and its expectations hold, but the segments differ (or are
    /// not compared: many hosts at once), as the lesson says in these words.
    ReplayedDiffers(&'static str),
    /// On that run, a TcpExt counter of the host's kernel (`/proc/net/netstat`) is within
    /// these bounds.
    Counter {
        host: &'static str,
        name: &'static str,
        least: u64,
        most: u64,
    },
    /// A default of Linux: what a shell command prints in a fresh namespace.
    Default {
        command: &'static str,
        prints: &'static str,
    },
    /// Timing the relay cannot show, checked packet by packet on the kernel by this script of
    /// `scenarios/drill/`.
    Drill(&'static str),
    /// What the other claims assume of the run: every client's SYN to this port arrives
    /// before any client's ACK. A run that misses it (a python3 scheduled late) is replayed.
    SynsInOneBurst(u16),
}

/// How many times a lesson is replayed to meet its premise.
const RUNS: usize = 3;

const SACK_ON: Claim = Claim::Default {
    command: "sysctl -n net.ipv4.tcp_sack",
    prints: "1",
};

/// Each lesson that speaks of Linux, and how its claims are checked.
const LESSONS: &[(&str, &[Claim])] = &[
    (
        "handshake",
        &[Claim::Replayed, Claim::Drill("close/time-wait-expiry.pkt")],
    ),
    ("half-close", &[Claim::Replayed]),
    ("loopback", &[Claim::Replayed]),
    ("sticky-packets", &[Claim::Replayed]),
    (
        "handshake-small-mss",
        &[Claim::ReplayedDiffers(
            "so on Linux the 122 bytes leave at once",
        )],
    ),
    (
        "concurrent-server",
        &[
            Claim::ReplayedDiffers("Replayed on Linux 6 with 20 clients: 6 half-open, 14 cookies"),
            Claim::SynsInOneBurst(9000),
            // All 20 SYNs arrive within a round trip: 6 wait half-open, 14 get cookies.
            Claim::Counter {
                host: "server",
                name: "TCPReqQFullDoCookies",
                least: 14,
                most: 14,
            },
            // The cookies' ACKs meet the full accept queue and are dropped.
            Claim::Counter {
                host: "server",
                name: "ListenOverflows",
                least: 1,
                most: u64::MAX,
            },
        ],
    ),
    (
        "syn-flood",
        &[
            Claim::ReplayedDiffers("other 4,995 SYNs (the real client's among them) answered"),
            Claim::Counter {
                host: "server",
                name: "TCPReqQFullDoCookies",
                least: 4995,
                most: 4995,
            },
            Claim::Drill("open/syn-cookies.pkt"),
        ],
    ),
    ("ipv6-handshake", &[Claim::Replayed]),
    (
        "ipv6-duplicate-address",
        &[
            Claim::Default {
                command: "sysctl -n net.ipv6.conf.default.accept_dad",
                prints: "1",
            },
            Claim::Default {
                command: "sysctl -n net.ipv6.conf.default.dad_transmits",
                prints: "1",
            },
        ],
    ),
    (
        "ipv6-neighbor-discovery",
        &[
            // A fresh namespace has only `lo`, whose neighbour settings are the defaults
            // every new interface copies.
            Claim::Default {
                command: "sysctl -n net.ipv6.neigh.lo.mcast_solicit",
                prints: "3",
            },
            Claim::Default {
                command: "sysctl -n net.ipv6.neigh.lo.retrans_time_ms",
                prints: "1000",
            },
            Claim::Default {
                command: "sysctl -n net.ipv6.neigh.lo.base_reachable_time_ms",
                prints: "30000",
            },
            // Linux checks each new address once (DAD); packetlab's hosts do not.
            Claim::Default {
                command: "sysctl -n net.ipv6.conf.default.dad_transmits",
                prints: "1",
            },
        ],
    ),
    ("congestion", &[Claim::Drill("data/delayed-ack.pkt")]),
    (
        "cubic-vs-reno",
        &[Claim::Default {
            // Which one a system runs is its choice (this one's may be bbr); the kernel's own
            // default, CONFIG_DEFAULT_TCP_CONG, is cubic.
            command: "sysctl -n net.ipv4.tcp_available_congestion_control | tr ' ' '\\n' | grep -x cubic",
            prints: "cubic",
        }],
    ),
    ("lossy-transfer", &[SACK_ON]),
    ("sack", &[SACK_ON]),
    (
        "tail-loss",
        &[
            SACK_ON,
            Claim::Drill("recovery/tail-loss-probe.pkt"),
            Claim::Drill("recovery/rto.pkt"),
        ],
    ),
    (
        "time-wait-pileup",
        &[Claim::Drill("close/time-wait-expiry.pkt")],
    ),
    ("zero-window", &[Claim::Drill("window/zero-window.pkt")]),
    (
        "reference-peer",
        &[
            Claim::Drill("close/last-ack.pkt"),
            Claim::Drill("close/fin-wait-1-time-wait.pkt"),
        ],
    ),
    (
        "switch-learning",
        &[
            Claim::Default {
                command: "ip link add br0 type bridge && cat /sys/class/net/br0/bridge/ageing_time",
                prints: "30000",
            },
            Claim::Default {
                command: "sysctl -n net.ipv4.neigh.tap0.base_reachable_time_ms",
                prints: "30000",
            },
            Claim::Default {
                command: "sysctl -n net.ipv4.neigh.tap0.delay_first_probe_time",
                prints: "5",
            },
        ],
    ),
];

#[test]
fn every_lesson_that_speaks_of_linux_is_listed_here() {
    let mut failures = Vec::new();
    for path in shipped_scenarios() {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        // A comment beside the programs says what the capture will show, so it counts too.
        let text = std::fs::read_to_string(&path).unwrap();
        let listed = LESSONS.iter().any(|(name, _)| *name == stem);
        if text.contains("Linux") != listed {
            failures.push(format!(
                "{stem}: its text {} Linux, and it {} listed in LESSONS",
                if listed { "does not name" } else { "names" },
                if listed { "is" } else { "is not" }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn each_drill_script_a_lesson_cites_is_in_the_suite_the_kernel_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (stem, claims) in LESSONS {
        for claim in claims.iter() {
            if let Claim::Drill(script) = claim {
                assert!(
                    root().join("scenarios/drill").join(script).is_file(),
                    "{stem}: scenarios/drill/{script} is missing"
                );
                let row = readme
                    .lines()
                    .find(|l| l.starts_with(&format!("| `{script}`")))
                    .unwrap_or_else(|| panic!("{stem}: {script} has no row in the README"));
                assert!(
                    row.trim_end_matches('|').trim_end().ends_with("passes"),
                    "{stem}: {script} does not pass on the kernel: {row}"
                );
            }
        }
    }
}

#[test]
fn what_lessons_say_of_linux_is_what_linux_does() {
    if !prerequisite(
        nix::unistd::geteuid().is_root(),
        "PACKETLAB_REQUIRE_TAP",
        "root (network namespaces, TAP devices)",
    ) || !python_present()
    {
        return;
    }
    let mut failures = Vec::new();
    for (stem, claims) in LESSONS {
        let path = root().join(format!("scenarios/{stem}.toml"));
        let lesson = scenario::load(&path).unwrap();
        let replayed = claims
            .iter()
            .any(|c| matches!(c, Claim::Replayed | Claim::ReplayedDiffers(_)))
            .then(|| replay_meeting_premises(stem, &lesson, claims));
        for claim in claims.iter() {
            if let Err(e) = check(stem, &lesson, claim, replayed.as_ref()) {
                failures.push(format!("{stem}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `lesson` run on Linux until a run meets what its claims assume, at most `RUNS` times.
fn replay_meeting_premises(stem: &str, lesson: &Scenario, claims: &[Claim]) -> Replayed {
    let met = |run: &Replayed| {
        claims.iter().all(|c| match c {
            Claim::SynsInOneBurst(port) => run.syns_came_in_one_burst(*port),
            _ => true,
        })
    };
    let mut run = replay::run(stem, lesson);
    for _ in 1..RUNS {
        if met(&run) {
            break;
        }
        eprintln!("{stem}: this run did not meet the lesson's premise; replayed");
        run = replay::run(stem, lesson);
    }
    run
}

/// One claim of one lesson.
fn check(
    stem: &str,
    lesson: &Scenario,
    claim: &Claim,
    run: Option<&Replayed>,
) -> Result<(), String> {
    match claim {
        Claim::Replayed => {
            let run = run.unwrap();
            expectations(lesson, run, false)?;
            segments_alike(stem, run)
        }
        Claim::ReplayedDiffers(said) => {
            expectations(lesson, run.unwrap(), true)?;
            if lesson.lesson.contains(said) {
                Ok(())
            } else {
                Err(format!("its text should say {said:?}"))
            }
        }
        Claim::Counter {
            host,
            name,
            least,
            most,
        } => {
            let got = run.unwrap().counter(host, name);
            eprintln!("{stem}: on Linux, {host}'s TcpExt {name} = {got}");
            if (*least..=*most).contains(&got) {
                Ok(())
            } else {
                Err(format!(
                    "{host}'s TcpExt {name} is {got}, not {least} to {most}"
                ))
            }
        }
        Claim::Default { command, prints } => {
            let got = replay::in_fresh_namespace(command);
            if got == *prints {
                Ok(())
            } else {
                Err(format!(
                    "`{command}` prints {got:?} on Linux, not {prints:?}"
                ))
            }
        }
        Claim::Drill(_) => Ok(()),
        Claim::SynsInOneBurst(port) => {
            if run.unwrap().syns_came_in_one_burst(*port) {
                Ok(())
            } else {
                Err(format!(
                    "in {RUNS} runs on Linux, a client's ACK to port {port} came before another's SYN"
                ))
            }
        }
    }
}

/// The lesson's expectations that Linux's run can show; `segments_differ` lets the flags on
/// the wire differ, as the lesson says.
fn expectations(lesson: &Scenario, run: &Replayed, segments_differ: bool) -> Result<(), String> {
    let mut wrong = Vec::new();
    for e in &lesson.expectations {
        let verdict = match &e.check {
            Check::WireFlags(_) if segments_differ => None,
            check => run.verdict(check),
        };
        if let Some(Err(got)) = verdict {
            wrong.push(format!("  `{}` does not hold on Linux: {got}", e.text));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("\n{}\n{}", wrong.join("\n"), run.shown()))
    }
}

/// Linux's segments against the committed capture's.
fn segments_alike(stem: &str, run: &Replayed) -> Result<(), String> {
    let canonical = |c: Vec<Vec<segments::Seg>>| {
        c.into_iter()
            .map(segments::close_as_a_set)
            .collect::<Vec<_>>()
    };
    let ours = canonical(segments::conversations(
        &root().join(format!("captures/{stem}.pcapng")),
    ));
    let theirs = canonical(segments::conversations(&run.capture));
    if ours == theirs {
        Ok(())
    } else {
        Err(format!(
            "its segments differ from Linux's: packetlab\n{}Linux\n{}",
            segments::shown(&ours),
            segments::shown(&theirs)
        ))
    }
}
