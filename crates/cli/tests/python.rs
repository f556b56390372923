//! `packetlab py`: real Python programs, unmodified, on packetlab's stack. Each test runs
//! CPython on programs written as a learner writes them and checks what they printed, what
//! the trace says and what the capture holds.

mod common;

use std::path::Path;
use std::process::Output;

use common::{packetlab, python_present};

/// Run programs (paths from the workspace root) into `out`.
fn py(out: &Path, programs: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["py", "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(programs);
    args.extend_from_slice(extra);
    packetlab(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The lines a program printed, in order, as `packetlab py` shows them.
fn printed(o: &Output, program: &str) -> Vec<String> {
    let prefix = format!("{program} | ");
    stdout(o)
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .split_once(&prefix)
                .map(|(_, t)| t.to_string())
        })
        .collect()
}

const ECHO: [&str; 2] = [
    "scenarios/python/echo_server.py",
    "scenarios/python/echo_client.py",
];
const ECHO_STDIN: &str = "echo_client.py=hello\\nnetworks\\nq\\n";

#[test]
fn the_course_echo_server_and_client_run_unmodified_over_loopback() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &ECHO, &["--stdin", ECHO_STDIN]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(
        printed(&run, "echo_client.py"),
        [">>>hello", "HELLO", ">>>networks", "NETWORKS", ">>>q"]
    );
    let server = printed(&run, "echo_server.py");
    assert_eq!(server.len(), 4, "{server:?}");
    assert_eq!(
        [&server[0], &server[2], &server[3]],
        [
            "starting...",
            "客户端的数据 b'hello'",
            "客户端的数据 b'networks'"
        ]
    );
    // The client's port is an ephemeral one, from Linux's range.
    let port: u16 = server[1]
        .trim_start_matches("('127.0.0.1', ")
        .trim_end_matches(')')
        .parse()
        .unwrap();
    assert!(stack::EPHEMERAL_PORTS.contains(&port), "{server:?}");
    let trace = std::fs::read_to_string(out.path().join("echo_server.trace.jsonl")).unwrap();
    // Every call names the program's own line.
    assert!(
        trace.contains(r#""call":"echo_server.py:24 conn.close()  # 挂电话""#),
        "{trace}"
    );
    assert!(trace.contains(r#""from":"FIN-WAIT-2","to":"TIME-WAIT""#));
    let explain = packetlab(&[
        "explain",
        out.path().join("echo_server.pcapng").to_str().unwrap(),
    ]);
    let text = stdout(&explain);
    assert!(
        text.contains(&format!("127.0.0.1:{port} → 127.0.0.1:8080")),
        "{text}"
    );
    assert!(text.contains("state SF"), "{text}");
    assert!(out.path().join("echo_server.run").is_dir());
}

#[test]
fn the_same_programs_and_input_give_the_same_bytes() {
    if !python_present() {
        return;
    }
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        assert!(
            py(dir.path(), &ECHO, &["--stdin", ECHO_STDIN])
                .status
                .success()
        );
    }
    for file in ["echo_server.pcapng", "echo_server.trace.jsonl"] {
        let first = std::fs::read(a.path().join(file)).unwrap();
        let second = std::fs::read(b.path().join(file)).unwrap();
        assert!(first == second, "{file} differs between two runs");
    }
}

#[test]
fn errors_are_the_exceptions_cpython_raises_on_linux() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/refused.py"], &[]);
    assert_eq!(
        printed(&run, "refused.py"),
        ["refused 111 Connection refused", "connect_ex 111"]
    );
    let run = py(out.path(), &["crates/cli/tests/python/broken_pipe.py"], &[]);
    assert_eq!(printed(&run, "broken_pipe.py"), ["BrokenPipeError 32"]);
    let run = py(out.path(), &["crates/cli/tests/python/reset.py"], &[]);
    assert_eq!(
        printed(&run, "reset.py"),
        [
            "ConnectionResetError 104",
            "('127.0.0.1', 7100) ('127.0.0.1', 7100)"
        ]
    );
}

#[test]
fn timeouts_and_sleep_follow_virtual_time() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/timeouts.py"], &[]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(
        printed(&run, "timeouts.py"),
        [
            "timed out after 0.5 TimeoutError('timed out')",
            "timeout 0.5",
            // A sleep ends 50 µs late, as Linux's timer slack lets it.
            "slept 60.00005",
            "eof b''"
        ]
    );
    // The sleep moved the virtual clock, which the trace's times show.
    assert!(stdout(&run).contains("60.500100        timeouts.py | slept 60.00005"));
}

#[test]
fn udp_datagrams_keep_their_boundaries() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/udp.py"], &[]);
    assert_eq!(
        printed(&run, "udp.py"),
        [
            "b'first' 127.0.0.1",
            "b'second' 127.0.0.1",
            "b'FIRST' b'SECOND'"
        ]
    );
}

#[test]
fn an_exception_ends_its_program_with_a_traceback_and_the_others_go_on() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(
        out.path(),
        &[
            "crates/cli/tests/python/crash.py",
            "crates/cli/tests/python/refused.py",
        ],
        &[],
    );
    // One program raised: packetlab py says so with exit status 1, as a shell would see it.
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(stdout(&run).contains("crash.py: raised ValueError (exit status 1)"));
    let text = stdout(&run);
    assert!(
        text.contains("crash.py (stderr) | ValueError: the learner made a mistake"),
        "{text}"
    );
    assert_eq!(printed(&run, "refused.py").len(), 2, "{text}");
    // CPython's traceback of the program alone: its own frame, its line, the error.
    let traceback: Vec<String> = printed(&run, "crash.py (stderr)");
    assert_eq!(traceback.len(), 4, "{text}");
    assert_eq!(traceback[0], "Traceback (most recent call last):");
    assert!(
        traceback[1].ends_with("crash.py\", line 5, in <module>"),
        "{text}"
    );
    let trace = std::fs::read_to_string(out.path().join("crash.trace.jsonl")).unwrap();
    assert!(
        trace.contains(
            r#""event":"exit","host":"localhost","program":"crash.py","status":1,"exception":"ValueError""#
        ),
        "{trace}"
    );
}

#[test]
fn what_is_not_simulated_is_refused_at_the_program_line_with_status_2() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/unsupported.py"], &[]);
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    let text = stdout(&run);
    assert!(
        text.contains("os.fork is not simulated by packetlab"),
        "{text}"
    );
    assert!(text.contains("unsupported.py\", line 5"), "{text}");
    // The traceback is the one CPython prints for the program alone: no frame of packetlab's.
    assert!(
        !text.contains("packetlab_shim.py") && !text.contains("runpy"),
        "{text}"
    );
    let error = String::from_utf8_lossy(&run.stderr);
    assert!(
        error.contains("packetlab does not simulate os.fork (unsupported.py:5 pid = os.fork())"),
        "{error}"
    );
    let trace = std::fs::read_to_string(out.path().join("unsupported.trace.jsonl")).unwrap();
    assert!(
        trace.contains(
            r#""what":"not_simulated","at":"unsupported.py:5 pid = os.fork()","feature":"os.fork""#
        ),
        "{trace}"
    );
    let missing = py(out.path(), &["no-such-program.py"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such program file"));
}

/// The Python lessons: programs (in `scenarios/python/`), extra options, the start of
/// lines each program must print, `packetlab py`'s exit status (1 where a server is still
/// serving at the end), and whether a run gives the same bytes every time (TLS draws its own
/// random numbers: then the same frames, in number).
struct Lesson {
    programs: &'static [&'static str],
    options: &'static [&'static str],
    prints: &'static [(&'static str, &'static str)],
    status: i32,
    reproducible: bool,
}

const LESSONS: &[Lesson] = &[
    Lesson {
        programs: &["asyncio_server.py", "threading_clients.py"],
        options: &["--duration", "30s"],
        prints: &[
            ("threading_clients.py", "HELLO FROM CLIENT 1"),
            ("threading_clients.py", "HELLO FROM CLIENT 20"),
        ],
        status: 1,
        reproducible: true,
    },
    Lesson {
        programs: &["http_server.py", "http_client.py"],
        options: &[],
        prints: &[
            ("http_server.py", "/c on connection 4 (Connection: close)"),
            ("http_server.py", "connections: 4"),
            ("http_client.py", "keep-alive /c b'page /c\\n'"),
        ],
        status: 0,
        reproducible: true,
    },
    Lesson {
        programs: &["tls_server.py", "tls_client.py"],
        options: &[],
        prints: &[
            ("tls_server.py", "handshake done: TLSv1.3"),
            ("tls_client.py", "answer: b'the secret is OPEN SESAME'"),
        ],
        status: 0,
        reproducible: false,
    },
    Lesson {
        programs: &["echo_server.py", "echo_client.py"],
        options: &["--stdin", ECHO_STDIN],
        prints: &[("echo_client.py", "NETWORKS")],
        status: 0,
        reproducible: true,
    },
    Lesson {
        programs: &["udp_server.py", "udp_client.py"],
        options: &[],
        prints: &[
            ("udp_server.py", "datagram b'hello' from ('127.0.0.1', "),
            ("udp_client.py", "b'WORLD' ('127.0.0.1', 8083)"),
        ],
        status: 0,
        reproducible: true,
    },
    Lesson {
        programs: &["sticky_server.py", "sticky_client.py"],
        options: &[],
        prints: &[
            ("sticky_server.py", "one recv(1024): b'helloworld'"),
            ("sticky_server.py", "framed message: b'world, framed'"),
        ],
        status: 0,
        reproducible: true,
    },
    Lesson {
        programs: &["file_server.py", "file_client.py"],
        options: &[],
        prints: &[
            (
                "file_client.py",
                "sent 1048576 bytes, sha256 90483e6b124e6b6fc65dbfe7e724209435278965e32cbaeaed42bd8c90d8e6ce",
            ),
            (
                "file_server.py",
                "received 1048576 bytes, sha256 90483e6b124e6b6fc65dbfe7e724209435278965e32cbaeaed42bd8c90d8e6ce",
            ),
        ],
        status: 0,
        reproducible: true,
    },
    Lesson {
        programs: &["threading_server.py", "threading_clients.py"],
        options: &["--duration", "30s"],
        prints: &[
            ("threading_clients.py", "HELLO FROM CLIENT 1"),
            ("threading_clients.py", "HELLO FROM CLIENT 20"),
        ],
        status: 1,
        reproducible: true,
    },
    Lesson {
        programs: &["dual_stack_server.py", "dual_stack_clients.py"],
        options: &[],
        prints: &[
            (
                "dual_stack_server.py",
                "client ::ffff:127.0.0.1 reached ::ffff:127.0.0.1",
            ),
            ("dual_stack_server.py", "client ::1 reached ::1"),
            (
                "dual_stack_clients.py",
                "getaddrinfo localhost -> ['::1', '127.0.0.1']",
            ),
            (
                "dual_stack_clients.py",
                "AF_INET to 127.0.0.1 is told: you are 127.0.0.1",
            ),
        ],
        status: 0,
        reproducible: true,
    },
    Lesson {
        programs: &["address_in_use.py"],
        options: &[],
        prints: &[
            (
                "address_in_use.py",
                "restart at once, without SO_REUSEADDR: [Errno 98] Address already in use",
            ),
            (
                "address_in_use.py",
                "restart at once with SO_REUSEADDR, the old server without it: [Errno 98]",
            ),
            (
                "address_in_use.py",
                "restart at once, the old server and the new with SO_REUSEADDR: it binds",
            ),
        ],
        status: 0,
        reproducible: true,
    },
];

#[test]
fn every_python_lesson_prints_what_it_teaches_and_reproduces_its_committed_capture() {
    if !python_present() {
        return;
    }
    let tshark = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok();
    let tshark = common::prerequisite(tshark, "PACKETLAB_REQUIRE_TSHARK", "tshark");
    for lesson in LESSONS {
        let out = tempfile::tempdir().unwrap();
        let paths: Vec<String> = lesson
            .programs
            .iter()
            .map(|p| format!("scenarios/python/{p}"))
            .collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let run = py(out.path(), &paths, lesson.options);
        assert_eq!(run.status.code(), Some(lesson.status), "{run:?}");
        for (program, line) in lesson.prints {
            assert!(
                printed(&run, program).iter().any(|l| l.starts_with(line)),
                "{program} should print {line:?}:\n{}",
                stdout(&run)
            );
        }
        let stem = lesson.programs[0].trim_end_matches(".py");
        if !lesson.reproducible {
            let frames = |path: &Path| {
                let bytes = std::fs::read(path).unwrap();
                observer::for_each_packet("capture", &bytes[..], |_| {}).unwrap()
            };
            let fresh = frames(&out.path().join(format!("{stem}.pcapng")));
            let committed = frames(&common::root().join(format!("captures/python/{stem}.pcapng")));
            assert_eq!(fresh, committed, "{stem}: frames");
            continue;
        }
        for file in [format!("{stem}.pcapng"), format!("{stem}.trace.jsonl")] {
            let fresh = std::fs::read(out.path().join(&file)).unwrap();
            let committed = std::fs::read(common::root().join("captures/python").join(&file))
                .unwrap_or_else(|e| panic!("captures/python/{file} is not committed: {e}"));
            assert!(
                fresh == committed,
                "captures/python/{file} is stale: run the lesson with --out captures/python"
            );
        }
        if tshark {
            assert_tshark_clean(&format!("captures/python/{stem}.pcapng"));
        }
    }
}

/// tshark reads the capture with checksum validation on: every frame on `lo`, none bad.
fn assert_tshark_clean(capture: &str) {
    let read = std::process::Command::new("tshark")
        .args(["-r", capture])
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .args(["-o", "udp.check_checksum:TRUE"])
        .args([
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "_ws.expert.message",
        ])
        .current_dir(common::root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(read.status.success(), "{capture}: {read:?}");
    assert!(text.lines().count() > 0, "{capture}: no frames");
    assert!(
        text.lines().all(|l| l.starts_with("lo")),
        "{capture}: {text}"
    );
    assert!(
        !text.contains("Bad checksum") && !text.contains("Malformed"),
        "{capture}: {text}"
    );
}

#[test]
fn select_and_selectors_wait_on_packetlab_sockets() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(
        out.path(),
        &[
            "crates/cli/tests/python/select_server.py",
            "crates/cli/tests/python/select_client.py",
        ],
        &[],
    );
    assert!(run.status.success(), "{run:?}");
    assert_eq!(printed(&run, "select_client.py"), ["b'tsrif' b'dnoces'"]);
    assert_eq!(printed(&run, "select_server.py"), ["served 2"]);
    let run = py(
        out.path(),
        &["crates/cli/tests/python/selectors_echo.py"],
        &[],
    );
    assert_eq!(
        printed(&run, "selectors_echo.py"),
        ["EpollSelector b'PING'"]
    );
}

#[test]
fn socketserver_runs_unmodified_with_both_handler_kinds() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(
        out.path(),
        &["crates/cli/tests/python/socketserver_both.py"],
        &[],
    );
    assert!(run.status.success(), "{run:?}");
    assert_eq!(
        printed(&run, "socketserver_both.py"),
        ["Upper b'HELLO'", "Lines b'got a line\\n'"]
    );
}

#[test]
fn threads_take_turns_at_their_calls_and_join() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/threads.py"], &[]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(
        printed(&run, "threads.py"),
        ["['CLIENT 0', 'CLIENT 1', 'CLIENT 2']"]
    );
}

#[test]
fn threading_tcp_server_serves_twenty_client_threads_the_same_way_every_time() {
    if !python_present() {
        return;
    }
    let programs = [
        "scenarios/python/threading_server.py",
        "scenarios/python/threading_clients.py",
    ];
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = py(a.path(), &programs, &["--duration", "30s"]);
    // serve_forever() never returns: the server is still serving when the run ends.
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        stdout(&run).contains(
            "threading_server.py: was still waiting in `threading_server.py:24 server.serve_forever()`"
        ),
        "{run:?}"
    );
    let lines = printed(&run, "threading_clients.py");
    assert_eq!(lines.len(), 20, "{lines:?}");
    for n in 1..=20 {
        assert!(
            lines.contains(&format!("HELLO FROM CLIENT {n}")),
            "{lines:?}"
        );
    }
    let trace = std::fs::read_to_string(a.path().join("threading_server.trace.jsonl")).unwrap();
    // serve_forever's selector wakes every 0.5 s of virtual time until the run's end.
    assert!(trace.contains("threading_server.py:24 server.serve_forever()"));
    assert_eq!(
        py(b.path(), &programs, &["--duration", "30s"])
            .status
            .code(),
        Some(1)
    );
    for file in ["threading_server.pcapng", "threading_server.trace.jsonl"] {
        let first = std::fs::read(a.path().join(file)).unwrap();
        let second = std::fs::read(b.path().join(file)).unwrap();
        assert!(first == second, "{file} differs between two runs");
    }
}

#[test]
fn non_blocking_sockets_raise_blocking_io_error_as_cpython_does() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/nonblocking.py"], &[]);
    assert_eq!(
        printed(&run, "nonblocking.py"),
        [
            "accept: BlockingIOError 11",
            "recv: BlockingIOError 11 False"
        ]
    );
}

#[test]
fn udp_server_runs_unmodified() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(
        out.path(),
        &["crates/cli/tests/python/udp_socketserver.py"],
        &[],
    );
    assert_eq!(
        printed(&run, "udp_socketserver.py"),
        ["b'DATAGRAM' ('127.0.0.1', 9600)"]
    );
}

#[test]
fn a_raw_socket_is_refused_at_the_program_line_with_status_2() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/raw_socket.py"], &[]);
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(stdout(&run).contains("SOCK_RAW is not simulated by packetlab"));
    assert!(stdout(&run).contains("raw_socket.py\", line 3"));
}

#[test]
fn locks_conditions_events_and_queues_wait_in_virtual_time() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/locks.py"], &[]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(
        printed(&run, "locks.py"),
        [
            // The waiter asked at 0.5 s and got the lock when the holder's recv returned.
            "[('holder got', b'late'), ('waiter got the lock at', 1.0)]",
            "queue [0, 1, 2, 3, 4]",
            "event False 30.0",
            "reply b'A'",
            "reply b'B'",
            "shut down",
        ]
    );
    let trace = std::fs::read_to_string(out.path().join("locks.trace.jsonl")).unwrap();
    // A wait for a lock is a call in the trace, at the line that waited.
    assert!(
        trace.contains(r#""call":"locks.py:30 with lock:""#),
        "{trace}"
    );
}

#[test]
fn a_program_never_runs_as_root_and_its_files_land_in_its_folder() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/whoami.py"], &[]);
    assert!(run.status.success(), "{run:?}");
    let said = printed(&run, "whoami.py");
    let uid = said[0].split(' ').nth(1).unwrap();
    assert_ne!(uid, "0", "{said:?}");
    assert_eq!(said[1], "CapEff 0000000000000000", "{said:?}");
    assert_eq!(said[2], "CapPrm 0000000000000000", "{said:?}");
    let folder = out.path().join("whoami.run");
    let left = folder.join("left.txt");
    assert_eq!(
        std::fs::read_to_string(&left).unwrap(),
        "made by the program\n"
    );
    assert_eq!(
        std::fs::read_to_string(folder.join("sub/deeper.txt")).unwrap(),
        "deeper\n"
    );
    if nix::unistd::geteuid().is_root() {
        // Run as root, packetlab gives the program away, and its files back to root.
        assert_eq!(said[3], "NoNewPrivs 1", "{said:?}");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&left).unwrap().uid(), 0);
        // A link the program made to a file only root may read is not followed, nor kept;
        // a FIFO is not waited on; the folder where root keeps its input is not its to write.
        assert!(std::fs::symlink_metadata(folder.join("shadow")).is_err());
        assert!(std::fs::symlink_metadata(folder.join("pipe")).is_err());
        assert_eq!(said[4], "run folder writable False", "{said:?}");
    } else {
        println!("not root: the program ran as the caller; the drop to another user is not tested");
    }
}

#[test]
fn root_without_a_python3_its_programs_user_can_run_is_told_so_with_status_3() {
    if !python_present() {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: only root hands its programs to another user");
        return;
    }
    // A python3 only root can reach (as pyenv's under /root is): root finds it, `nobody` not.
    let private = tempfile::tempdir().unwrap();
    let python3 = private.path().join("python3");
    std::fs::write(&python3, "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&python3, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_packetlab"))
        .args(["py", "--quiet", "--out", out.path().to_str().unwrap()])
        .arg(common::root().join("crates/cli/tests/python/whoami.py"))
        .env(
            "PATH",
            format!("{}:/usr/sbin:/sbin", private.path().display()),
        )
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3), "{run:?}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("no python3 on PATH that user") && stderr.contains("never runs as root"),
        "{stderr}"
    );
}

#[test]
fn a_program_that_polls_for_ever_lets_time_move_and_duration_end_the_run() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let run = py(
        out.path(),
        &["crates/cli/tests/python/poll_forever.py"],
        &["--duration", "20s"],
    );
    // The clock starts at the documented date: 2025-01-01 00:00:00 UTC.
    assert_eq!(
        printed(&run, "poll_forever.py"),
        ["started at 1735689600.0"]
    );
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        stdout(&run).contains("poll_forever.py: was still waiting in `poll_forever.py:6"),
        "{run:?}"
    );
    let trace = std::fs::read_to_string(out.path().join("poll_forever.trace.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(trace.lines().last().unwrap()).unwrap();
    let t = last["t"].as_u64().unwrap();
    assert!(
        t > 19_000_000_000,
        "virtual time went on to the duration: {t}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn sigterm_stops_a_run_with_its_capture_and_trace_written_and_no_temporary_folders() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_packetlab"))
        .args(["py", "--quiet", "--duration", "10000min", "--out"])
        .arg(out.path())
        .arg(common::root().join("crates/cli/tests/python/sleep_forever.py"))
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let pid = nix::unistd::Pid::from_raw(run.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let run = run.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let trace = std::fs::read_to_string(out.path().join("sleep_forever.trace.jsonl")).unwrap();
    assert!(
        trace.contains(r#""note":{"by":"program","what":"interrupted"}"#),
        "{trace}"
    );
    let capture = out.path().join("sleep_forever.pcapng");
    let explain = packetlab(&["explain", capture.to_str().unwrap()]);
    assert!(explain.status.success(), "{explain:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "temporary folders left: {left:?}");
}

#[test]
fn a_tls_session_is_decrypted_by_wireshark_from_the_keys_in_the_capture() {
    if !python_present() {
        return;
    }
    let have = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok();
    if !common::prerequisite(have, "PACKETLAB_REQUIRE_TSHARK", "tshark") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(
        out.path(),
        &[
            "crates/python/corpus/tls-echo/server.py",
            "crates/python/corpus/tls-echo/client.py",
        ],
        &[],
    );
    assert!(run.status.success(), "{run:?}");
    let capture = out.path().join("server.pcapng");
    // No key file, no preference: the capture's Decryption Secrets Block is enough.
    let follow = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&capture)
        .args(["-q", "-z", "follow,tls,ascii,0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&follow.stdout);
    assert!(
        text.contains("encrypted question") && text.contains("encrypted answer"),
        "{text}"
    );
    let trace = std::fs::read_to_string(out.path().join("server.trace.jsonl")).unwrap();
    assert!(trace.contains(r#""event":"tls_keys""#), "{trace}");
}

#[test]
fn tracebacks_printed_by_socketserver_and_asyncio_show_the_program_alone() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(out.path(), &["crates/cli/tests/python/tracebacks.py"], &[]);
    let errors = printed(&run, "tracebacks.py (stderr)").join("\n");
    // socketserver's handle_error prints the handler's exception; asyncio logs the one its
    // task never had retrieved, ending at the program's own line that was refused.
    assert!(
        errors.contains("ValueError: a handler that fails"),
        "{errors}"
    );
    assert!(
        errors.contains("ConnectionRefusedError: [Errno 111] Connection refused"),
        "{errors}"
    );
    assert!(
        errors.contains("tracebacks.py\", line 19, in fails"),
        "{errors}"
    );
    assert!(!errors.contains("packetlab_"), "{errors}");
}

#[test]
fn the_capture_starts_at_the_programs_wall_clock() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(
        out.path(),
        &["crates/cli/tests/python/poll_forever.py"],
        &["--duration", "1s"],
    );
    assert!(printed(&run, "poll_forever.py")[0].ends_with("1735689600.0"));
    let udp = out.path().join("udp.pcapng");
    let _ = std::fs::remove_file(&udp);
    // A frame sent at virtual time t carries 2025-01-01 00:00:00 UTC + t.
    let echo = py(out.path(), &["crates/cli/tests/python/udp.py"], &[]);
    assert!(echo.status.success(), "{echo:?}");
    let bytes = std::fs::read(out.path().join("udp.pcapng")).unwrap();
    let mut first = None;
    observer::for_each_packet("udp.pcapng", &bytes[..], |p| {
        first.get_or_insert(p.t_ns);
    })
    .unwrap();
    assert_eq!(first.unwrap() / 1_000_000_000, 1_735_689_600);
}

#[test]
fn an_option_packetlab_does_not_simulate_is_refused_by_its_name() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = py(
        out.path(),
        &["crates/cli/tests/python/option_refused.py"],
        &[],
    );
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    let errors = printed(&run, "option_refused.py (stderr)").join("\n");
    assert!(
        errors.contains("OSError: [Errno 92] SO_PRIORITY is not simulated by packetlab"),
        "{errors}"
    );
}

#[test]
fn stdin_and_args_must_name_one_of_the_programs() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    for option in ["--stdin", "--args"] {
        let run = py(out.path(), &ECHO, &[option, "wrong.py=hello"]);
        assert_eq!(run.status.code(), Some(2), "{run:?}");
        let error = String::from_utf8_lossy(&run.stderr);
        assert!(
            error.contains(&format!(
                "{option} `wrong.py=hello`: `wrong.py` is not one of the programs (echo_server.py, echo_client.py)"
            )),
            "{error}"
        );
    }
}
