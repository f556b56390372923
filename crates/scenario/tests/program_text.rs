//! A statement prints as the scenario line that reads back to it: what the trace shows for a
//! program built in code (`packetlab tap sink`, the benchmarks) is the scenario language.

use program::{Line, Stmt};

const PROGRAM: &str = r#"
s = listen 9000 backlog 5
conn = accept s
c = connect 10.0.0.2:9000
sleep 10ms
at 1.5s
send c "hello\n\"quoted\" \x00\xff\t"
sent = send c random 1048576
got = recvall conn
part = recvall conn 4096
data = recv conn 512
m = recv conn framed '!I'
f = recv_file conn framed 'i'
f2 = send_file c "vc.mp4" 1048576
u = udp 5353
sendto u "ping" 10.0.0.2:53
d = recvfrom u 2048
r = ping 10.0.3.10 ttl 3 timeout 2s
setsockopt c TCP_NODELAY 1
setsockopt s TCP_QUICKACK 0
serve s upper
shutdown c
wait c FIN-WAIT-2
abort conn
close s
"#;

fn parse(program: &str) -> Vec<Line> {
    let text = format!(
        "title = \"t\"\n[hosts.h]\nmac = \"02:00:00:00:00:01\"\nip = \"10.0.0.1/24\"\n\
         program = '''{program}'''\n"
    );
    packetlab_scenario::parse_str("t.toml", &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .hosts
        .remove(0)
        .program
}

#[test]
fn every_statement_prints_as_the_line_that_reads_back_to_it() {
    let lines = parse(PROGRAM);
    assert_eq!(lines.len(), PROGRAM.trim().lines().count());
    let printed: Vec<String> = lines.iter().map(|l| l.stmt.to_string()).collect();
    let reread = parse(&format!("\n{}\n", printed.join("\n")));
    let stmts = |lines: &[Line]| lines.iter().map(|l| l.stmt.clone()).collect::<Vec<Stmt>>();
    assert_eq!(
        stmts(&reread),
        stmts(&lines),
        "printed as:\n{}",
        printed.join("\n")
    );
    assert_eq!(printed[0], "s = listen 9000 backlog 5");
    assert_eq!(printed[3], "sleep 0.010000s");
    assert_eq!(Line::from(lines[1].stmt.clone()).text, "conn = accept s");
}
