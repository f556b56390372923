//! Scenario hosts that run a learner's Python program (`python = "file.py"`): each on its
//! own host with its own address, over a simulated LAN, judged by expectations on its
//! connections (by port), its output and how it ended.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{packetlab, python_present, root, scenarios_in};

fn run(out: &Path, scenario: &Path) -> Output {
    packetlab(&[
        "run",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        scenario.to_str().unwrap(),
    ])
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn every_python_scenario_lesson_passes_and_reproduces_its_committed_capture() {
    if !python_present() {
        return;
    }
    for lesson in scenarios_in("scenarios/python") {
        let out = tempfile::tempdir().unwrap();
        let result = run(out.path(), &lesson);
        assert_eq!(result.status.code(), Some(0), "{}", text(&result));
        assert!(!text(&result).contains("FAIL"), "{}", text(&result));
        let stem = lesson.file_stem().unwrap().to_string_lossy().into_owned();
        for file in [format!("{stem}.pcapng"), format!("{stem}.trace.jsonl")] {
            // Outputs mirror the scenario's folder: scenarios/python/X.toml → python/X.*.
            let fresh = std::fs::read(out.path().join("python").join(&file)).unwrap();
            let committed = std::fs::read(root().join("captures/python").join(&file))
                .unwrap_or_else(|e| panic!("captures/python/{file} is not committed: {e}"));
            assert!(
                fresh == committed,
                "captures/python/{file} is stale: run `packetlab run {}`",
                lesson.display()
            );
        }
    }
}

#[test]
fn the_lan_file_transfer_lands_in_the_servers_own_folder_and_labels_each_hosts_output() {
    if !python_present() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let result = run(
        out.path(),
        &root().join("scenarios/python/lan-file-transfer.toml"),
    );
    assert_eq!(result.status.code(), Some(0), "{}", text(&result));
    let folder = out.path().join("python/lan-file-transfer.run");
    let file = std::fs::metadata(folder.join("server/vc.mp4")).unwrap();
    assert_eq!(file.len(), 1024 * 1024);
    assert!(!folder.join("client/vc.mp4").exists());
    let trace =
        std::fs::read_to_string(out.path().join("python/lan-file-transfer.trace.jsonl")).unwrap();
    assert!(
        trace.contains(
            r#""program":"server/file_server.py","stream":"stdout","text":"received 1048576 bytes"#
        ),
        "{trace}"
    );
    // The address was written once: the client's program was given it as its argument.
    assert!(
        trace.contains(
            r#""host":"client","call":"file_client.py:14 client.connect((SERVER, 8082))""#
        )
    );
    assert!(trace.contains(r#""remote":"10.0.0.2:8082""#));
}

/// A scenario file and the test programs it names, in a folder of their own.
fn scenario_with_programs(body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for program in [
        "refused_client.py",
        "lan_upper_server.py",
        "lan_hello_client.py",
        "lan_dual_stack_server.py",
    ] {
        std::fs::copy(
            root().join("crates/cli/tests/python").join(program),
            dir.path().join(program),
        )
        .unwrap();
    }
    let path = dir.path().join("lesson.toml");
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

const TWO_HOSTS: &str = r#"
[hosts.server]
mac = "02:00:00:00:00:02"
ip = "10.0.0.2/24"
program = "sleep 10ms"

[[links]]
a = "client"
b = "server"
delay = "1ms"
"#;

#[test]
fn a_refused_connection_ends_the_program_with_its_exception_and_expectations_say_so() {
    if !python_present() {
        return;
    }
    let body = format!(
        r#"title = "refused"
expect = '''
client prints "calling 10.0.0.2"
client raises ConnectionRefusedError
client exits 0
client:9 passes SYN-SENT CLOSED
'''
[hosts.client]
mac = "02:00:00:00:00:01"
ip = "10.0.0.1/24"
python = "refused_client.py"
args = ["{{server.ip}}"]
{TWO_HOSTS}"#
    );
    let (dir, path) = scenario_with_programs(&body);
    let result = run(dir.path(), &path);
    let out = text(&result);
    assert_eq!(result.status.code(), Some(1), "{out}");
    assert!(
        out.contains("ok    client prints \"calling 10.0.0.2\""),
        "{out}"
    );
    assert!(
        out.contains("ok    client raises ConnectionRefusedError"),
        "{out}"
    );
    assert!(
        out.contains("ok    client:9 passes SYN-SENT CLOSED"),
        "{out}"
    );
    assert!(out.contains("FAIL  client exits 0"), "{out}");
    assert!(
        out.contains("actual: refused_client.py raised ConnectionRefusedError"),
        "{out}"
    );
    let trace = std::fs::read_to_string(dir.path().join("lesson.trace.jsonl")).unwrap();
    // The traceback is in the trace, at the program's line.
    assert!(trace.contains("refused_client.py\\\", line 7"), "{trace}");
}

#[test]
fn python_hosts_in_a_group_each_run_the_program_and_are_judged_by_port() {
    if !python_present() {
        return;
    }
    let body = r#"title = "three clients, one ThreadingTCPServer"
duration = "20s"
expect = '''
server prints "serving on ('10.0.0.100', 9000)"
client1 prints "HELLO FROM 10.0.0.1"
client3 prints "HELLO FROM 10.0.0.3"
client2:9000 passes SYN-SENT ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED
client2:9000 sent same as server:9000[2] received
client3:9000 received same as server:9000[3] sent
client2 exits 0
'''
[hosts.client]
count = 3
mac = "02:00:00:00:00:01"
ip = "10.0.0.1/24"
msl = "1s"
python = "lan_hello_client.py"
args = ["{server.ip}"]

[hosts.server]
mac = "02:00:00:00:00:64"
ip = "10.0.0.100/24"
python = "lan_upper_server.py"
args = ["{server.ip}"]

[switches.sw]
links = [
  { to = "client1", delay = "1ms" },
  { to = "client2", delay = "2ms" },
  { to = "client3", delay = "3ms" },
  { to = "server", delay = "1ms" },
]
"#;
    let (dir, path) = scenario_with_programs(body);
    let result = run(dir.path(), &path);
    let out = text(&result);
    assert_eq!(result.status.code(), Some(0), "{out}");
    let trace = std::fs::read_to_string(dir.path().join("lesson.trace.jsonl")).unwrap();
    assert!(trace.contains(r#""program":"client2/lan_hello_client.py""#));
    // serve_forever never returns: the run ends at its duration and says where it waited.
    assert!(trace.contains(r#""what":"still_waiting""#), "{trace}");
}

#[test]
fn python_hosts_reach_a_dual_stack_server_over_ipv4_and_ipv6() {
    if !python_present() {
        return;
    }
    let body = r#"title = "one AF_INET6 listener on '::', a client of each IP version"
duration = "5s"
expect = '''
server prints "serving on ('::', 9000, 0, 0)"
server prints "client ::ffff:10.0.0.1"
server prints "client 2001:db8:1::3"
alice prints "HELLO FROM 10.0.0.1"
bob prints "HELLO FROM 2001:DB8:1::3"
bob:9000 sent same as server:9000[2] received
trace contains "Neighbor Solicitation"
'''
[hosts.alice]
mac = "02:00:00:00:00:01"
ip = "10.0.0.1/24"
python = "lan_hello_client.py"
args = ["{server.ip}"]

[hosts.bob]
mac = "02:00:00:00:00:03"
ip = "10.0.0.3/24"
ip6 = ["2001:db8:1::3/64"]
python = "lan_hello_client.py"
args = ["{server.ip6}"]

[hosts.server]
mac = "02:00:00:00:00:02"
ip = "10.0.0.2/24"
ip6 = ["2001:db8:1::2/64"]
python = "lan_dual_stack_server.py"

[switches.sw]
links = [
  { to = "alice", delay = "1ms" },
  { to = "bob", delay = "2ms" },
  { to = "server", delay = "1ms" },
]
"#;
    let (dir, path) = scenario_with_programs(body);
    let result = run(dir.path(), &path);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result));
}

#[test]
fn mistakes_in_python_hosts_are_reported_at_their_place() {
    let cases = [
        (
            r#"python = "missing.py""#,
            "lesson.toml:6:10: `missing.py`: no such file",
        ),
        (
            "python = \"refused_client.py\"\nargs = [\"{nobody.ip}\"]",
            "lesson.toml:7:10: `{nobody.ip}`: no host `nobody`; known: client, server",
        ),
        (
            "python = \"refused_client.py\"\nargs = [\"{server.ip6}\"]",
            "lesson.toml:7:10: `{server.ip6}`: host `server` has no `ip6`",
        ),
        (
            "python = \"refused_client.py\"\nargs = [\"{server.mac}\"]",
            "lesson.toml:7:10: `{server.mac}`: expected {HOST.ip} or {HOST.ip6}",
        ),
        (
            "python = \"refused_client.py\"\nprogram = \"sleep 1s\"",
            "host `client` runs either a `program` or a `python` file, not both",
        ),
        (
            "args = [\"x\"]",
            "lesson.toml:6:9: `args` are for a host that runs a `python` file",
        ),
    ];
    for (client, expected) in cases {
        let body = format!(
            "title = \"mistakes\"\n[hosts.client]\nmac = \"02:00:00:00:00:01\"\n\
             ip = \"10.0.0.1/24\"\n\n{client}\n{TWO_HOSTS}"
        );
        let (dir, path) = scenario_with_programs(&body);
        let result = run(dir.path(), &path);
        assert_eq!(result.status.code(), Some(2), "{}", text(&result));
        assert!(text(&result).contains(expected), "{}", text(&result));
    }
    let body = format!(
        "title = \"mistakes\"\nexpect = '''\nclient.c passes CLOSED\n'''\n[hosts.client]\n\
         mac = \"02:00:00:00:00:01\"\nip = \"10.0.0.1/24\"\npython = \"refused_client.py\"\n{TWO_HOSTS}"
    );
    let (dir, path) = scenario_with_programs(&body);
    let result = run(dir.path(), &path);
    assert_eq!(result.status.code(), Some(2));
    assert!(
        text(&result).contains("lesson.toml:3:1: host `client` runs a Python program: name its connections by port, like client:9000"),
        "{}",
        text(&result)
    );
}
