//! A lesson's host program, written as the Python a learner would write for Linux: each
//! statement of the scenario language becomes its socket calls, so the kernel makes the
//! decisions our stack makes in the simulator.
//!
//! The program starts its first statement at the wall-clock instant given as its argument
//! (all hosts share it, so `sleep 10ms` and `at 100ms` mean what they mean in the
//! simulator). It prints one JSON line per socket it names (its ports, to find it in the
//! capture) and, when its statements are done or a call fails, one line with what it kept;
//! then it waits, its sockets open, until the test has stopped capturing and kills it, as
//! the simulator keeps a finished program's sockets.

use program::{Handler, Line, Stmt};

/// What every program starts with: the shared start, the helpers its statements call.
const PREAMBLE: &str = r#"
import errno, hashlib, json, os, random, socket, struct, sys, threading, time
T0 = float(sys.argv[1])
KEPT = {}
def until(t):
    d = T0 + t - time.time()
    if d > 0:
        time.sleep(d)
def say(**what):
    print(json.dumps(what), flush=True)
def shown(a):
    # As the capture names it: an IPv4-mapped address (an IPv4 peer of a dual-stack
    # socket) as IPv4, an IPv6 address in brackets.
    host, port = a[0], a[1]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)
def named(var, s):
    local, peer = s.getsockname(), None
    try:
        peer = s.getpeername()
    except OSError:
        pass
    say(socket=var, local=shown(local), peer=peer and shown(peer))
def done(error=None):
    say(done=KEPT, error=error)
    while True:
        time.sleep(3600)
def failed(var, s, e):
    if s is not None:
        named(var, s)
    done({"var": var, "errno": errno.errorcode.get(e.errno, str(e.errno))})
def stream(var, digest, n):
    if var:
        KEPT[var] = {"stream": [n, digest.hexdigest()]}
def recv_all(var, c, limit):
    h, n = hashlib.sha256(), 0
    while limit is None or n < limit:
        data = c.recv(65536 if limit is None else min(65536, limit - n))
        if not data:
            break
        h.update(data); n += len(data)
    stream(var, h, n)
def send_random(var, c, n):
    h, rng, left = hashlib.sha256(), random.Random(1), n
    while left:
        data = rng.randbytes(min(left, 65536))
        c.sendall(data); h.update(data); left -= len(data)
    stream(var, h, n)
def setopt(s, name, value):
    level = {"TCP": socket.IPPROTO_TCP, "SO": socket.SOL_SOCKET, "IP": socket.IPPROTO_IP}
    s.setsockopt(level[name.split("_")[0]], getattr(socket, name), value)
def serve(listener, answer):
    def handle(c):
        while data := c.recv(1024):
            c.sendall(answer(data))
        c.close()
    while True:
        c, _ = listener.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()
def checksum(data):
    data += b"\0" * (len(data) % 2)
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
def ping(dst, ttl, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    body = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"packetlab"
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    s.sendto(body, (dst, 0)); s.settimeout(timeout)
    try:
        s.recv(1024)
    except socket.timeout:
        pass
def flood(dst, port, count, net, prefix, rate):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    base, rng = struct.unpack("!I", socket.inet_aton(net))[0], random.Random(66)
    start = time.time()
    for i in range(count):
        src = struct.pack("!I", base + rng.randrange(1, 2 ** (32 - prefix) - 1))
        sport = rng.randrange(1024, 65535)
        tcp = struct.pack("!HHIIBBHHH", sport, port, rng.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
        pseudo = src + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0, 64, 6, 0, src, socket.inet_aton(dst))
        s.sendto(ip + tcp, (dst, 0))
        d = start + (i + 1) / rate - time.time()
        if d > 0:
            time.sleep(d)
until(0)
"#;

/// Why a statement has no Python here.
#[derive(Debug)]
pub struct Untranslated(pub String);

/// `program` as a Python program for Linux; on a host with IPv6 (`dual_stack`) a listener
/// and a UDP socket are AF_INET6 bound to `::`, taking both families, as packetlab's are.
pub fn translate(program: &[Line], dual_stack: bool) -> Result<String, Untranslated> {
    let mut out = String::from(PREAMBLE);
    for line in program {
        out.push_str(&format!("# {}\n", line.text));
        let (var, calls) = statement(&line.stmt, dual_stack)?;
        out.push_str("try:\n");
        for call in calls.lines() {
            out.push_str(&format!("    {call}\n"));
        }
        let socket = var.filter(|v| declares_socket(&line.stmt, v));
        let s = socket.map_or("None".to_string(), |v| format!("globals().get({v:?})"));
        out.push_str(&format!(
            "except OSError as e:\n    failed({:?}, {s}, e)\n",
            var.unwrap_or("")
        ));
    }
    out.push_str("done()\n");
    Ok(out)
}

fn declares_socket(stmt: &Stmt, var: &str) -> bool {
    matches!(stmt, Stmt::Connect { var: v, .. } if v == var)
}

/// Bytes as a Python literal.
fn bytes(data: &[u8]) -> String {
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    format!("bytes.fromhex(\"{hex}\")")
}

fn secs(t: &trace::Time) -> f64 {
    t.as_nanos() as f64 / 1e9
}

/// The variable a statement names, and its Python.
fn statement(stmt: &Stmt, dual_stack: bool) -> Result<(Option<&str>, String), Untranslated> {
    if let Some(done) = socket_call(stmt, dual_stack).or_else(|| data_call(stmt)) {
        return Ok(done);
    }
    Ok(match stmt {
        Stmt::Sleep(t) => (None, format!("time.sleep({})", secs(t))),
        Stmt::At(t) => (None, format!("until({})", secs(t))),
        Stmt::Serve { listener, handler } => (
            None,
            match handler {
                Handler::Echo => format!("serve({listener}, lambda d: d)"),
                Handler::Upper => format!("serve({listener}, lambda d: d.upper())"),
            },
        ),
        Stmt::Ping {
            dst, ttl, timeout, ..
        } => (None, format!("ping(\"{dst}\", {ttl}, {})", secs(timeout))),
        Stmt::Flood {
            dst,
            count,
            from: (net, prefix),
            rate,
        } => (
            None,
            format!(
                "flood(\"{}\", {}, {count}, \"{net}\", {prefix}, {rate})",
                dst.ip(),
                dst.port()
            ),
        ),
        other => return Err(Untranslated(other.to_string())),
    })
}

/// Making, connecting, setting and closing sockets.
fn socket_call(stmt: &Stmt, dual_stack: bool) -> Option<(Option<&str>, String)> {
    let family = if dual_stack {
        "socket.AF_INET6"
    } else {
        "socket.AF_INET"
    };
    Some(match stmt {
        Stmt::Listen { var, port, backlog } => (
            Some(var),
            format!(
                "{var} = socket.socket({family})\n{var}.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 {var}.bind((\"\", {port}))\n{var}.listen({backlog})"
            ),
        ),
        Stmt::Accept { var, listener } => (
            Some(var),
            format!("{var}, _ = {listener}.accept()\nnamed({var:?}, {var})"),
        ),
        Stmt::Connect { var, addr } => (
            Some(var),
            format!(
                "{var} = socket.socket({})\n{var}.connect((\"{}\", {}))\nnamed({var:?}, {var})",
                if addr.is_ipv6() {
                    "socket.AF_INET6"
                } else {
                    "socket.AF_INET"
                },
                addr.ip(),
                addr.port()
            ),
        ),
        Stmt::UdpBind { var, port } => (
            Some(var),
            format!(
                "{var} = socket.socket({family}, socket.SOCK_DGRAM)\n{var}.bind((\"\", {port}))"
            ),
        ),
        Stmt::SetOption { conn, option } => {
            let text = option.to_string();
            let (name, value) = text.split_once(' ').unwrap_or((&text, "1"));
            (None, format!("setopt({conn}, {name:?}, {value})"))
        }
        Stmt::Shutdown { conn } => (None, format!("{conn}.shutdown(socket.SHUT_WR)")),
        Stmt::Close { conn } => (None, format!("{conn}.close()")),
        Stmt::Abort { conn } => (
            None,
            format!(
                "{conn}.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack(\"ii\", 1, 0))\n{conn}.close()"
            ),
        ),
        _ => return None,
    })
}

/// Sending and receiving.
fn data_call(stmt: &Stmt) -> Option<(Option<&str>, String)> {
    Some(match stmt {
        Stmt::Send { conn, data } => (None, format!("{conn}.sendall({})", bytes(data))),
        Stmt::SendRandom { var, conn, len } => (
            var.as_deref(),
            format!("send_random({var:?}, {conn}, {len})", var = var.as_deref()),
        ),
        Stmt::Recv { var, conn, max } => {
            (var.as_deref(), kept(var, &format!("{conn}.recv({max})")))
        }
        Stmt::RecvAll { var, conn, limit } => (
            var.as_deref(),
            format!(
                "recv_all({var:?}, {conn}, {})",
                limit.map_or("None".to_string(), |l| l.to_string()),
                var = var.as_deref()
            ),
        ),
        Stmt::SendTo { sock, data, addr } => (
            None,
            format!(
                "{sock}.sendto({}, (\"{}\", {}))",
                bytes(data),
                addr.ip(),
                addr.port()
            ),
        ),
        Stmt::RecvFrom { var, sock, max } => (
            var.as_deref(),
            kept(var, &format!("{sock}.recvfrom({max})[0]")),
        ),
        _ => return None,
    })
}

/// A call whose bytes the program keeps in `var`, if it names one.
fn kept(var: &Option<String>, call: &str) -> String {
    match var {
        Some(v) => format!("KEPT[{v:?}] = {{\"hex\": {call}.hex()}}"),
        None => call.to_string(),
    }
}
