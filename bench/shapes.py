"""Scenario files for packetlab's scale benchmark (bench/scale.py), one shape at a time.

    python3 bench/shapes.py SHAPE N > scenario.toml

Shapes:
  flat     N clients and one server on one switch, each client echoing 1 KiB
  routed   the same clients in LANs of 100, each LAN a switch on one router
  fan      one host opening N connections to one server, 1 KiB echoed on each
  bulk     one connection carrying N MiB
  idle     one host opening N connections to one server and leaving them open, idle
"""

import sys

GROUP = 100  # hosts per group (and per LAN in `routed`)


def mac(n):
    return "02:00:" + ":".join(f"{(n >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))


def ip(n, prefix):
    return f"10.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF}/{prefix}"


CLIENT = """sleep {start}ms
c = connect server:9000
sent = send c random 1KiB
got = recvall c 1KiB
close c
"""

SERVER = """s = listen 9000 backlog 1024
serve s echo
"""

HEADER = """title = "scale: {shape}, N = {n}"
seed = 1
duration = "{duration}"
"""


def host(name, number, prefix, program, count=None, gateway=None):
    lines = [f"[hosts.{name}]"]
    if count:
        lines.append(f"count = {count}")
    lines += [f'mac = "{mac(number)}"', f'ip = "{ip(number, prefix)}"', 'msl = "1s"']
    if gateway:
        lines.append(f'gateway = "{gateway}"')
    lines.append(f"program = '''\n{program}'''")
    return "\n".join(lines) + "\n"


def groups(n):
    """(group index, its size) for n clients in groups of GROUP."""
    return [(g, min(GROUP, n - g * GROUP)) for g in range((n + GROUP - 1) // GROUP)]


def flat(n):
    # 10.0.0.0/8: the server is 10.0.0.2, clients from 10.0.1.0 on; each group starts 1 ms
    # after the one before, so the server's queues see a steady arrival.
    out = [HEADER.format(shape="flat", n=n, duration=f"{n // GROUP + 30}s")]
    out.append(host("server", 2, 8, SERVER))
    ports = ['{ to = "server" }']
    for g, size in groups(n):
        name = f"g{g}_"
        out.append(host(name, 256 + g * GROUP, 8, CLIENT.format(start=10 + g), count=size))
        ports.append(f'{{ to = "{name}" }}')
    out.append("[switches.sw]\nlinks = [\n  " + ",\n  ".join(ports) + ",\n]\n")
    return "\n".join(out)


def routed(n):
    # LAN g is 10.(g / 256).(g % 256).0/24 behind router port .1; the server is 172.16.0.2 on
    # a LAN of its own.
    out = [HEADER.format(shape="routed", n=n, duration=f"{n // GROUP + 30}s")]
    server = host("server", 2, 24, SERVER, gateway="172.16.0.1")
    out.append(server.replace('ip = "10.0.0.2/24"', 'ip = "172.16.0.2/24"'))
    out.append('[switches.s_server]\nlinks = [{ to = "server" }]\n')
    ports = [f'{{ to = "s_server", mac = "{mac(1 << 24)}", ip = "172.16.0.1/24" }}']
    for g, size in groups(n):
        name = f"g{g}_"
        net = g << 8
        program = CLIENT.format(start=10 + g)
        out.append(host(name, net + 10, 24, program, count=size, gateway=ip(net + 1, 24)[:-3]))
        out.append(f'[switches.s{g}]\nlinks = [{{ to = "{name}" }}]\n')
        router_mac = mac((1 << 24) + g + 1)
        ports.append(f'{{ to = "s{g}", mac = "{router_mac}", ip = "{ip(net + 1, 24)}" }}')
    out.append("[routers.r]\nports = [\n  " + ",\n  ".join(ports) + ",\n]\n")
    return "\n".join(out)


def fan(n):
    lines = []
    for i in range(n):
        lines.append(f"c{i} = connect server:9000")
        lines.append(f"s{i} = send c{i} random 1KiB")
        lines.append(f"g{i} = recvall c{i} 1KiB")
        lines.append(f"close c{i}")
    out = [HEADER.format(shape="fan", n=n, duration="600s")]
    out.append(host("client", 1, 8, "sleep 10ms\n" + "\n".join(lines) + "\n"))
    out.append(host("server", 2, 8, SERVER))
    out.append('[[links]]\na = "client"\nb = "server"\ndelay = "100us"\n')
    return "\n".join(out)


def idle(n):
    lines = [f"c{i} = connect server:9000" for i in range(n)]
    out = [HEADER.format(shape="idle", n=n, duration="20s")]
    out.append(host("client", 1, 8, "sleep 10ms\n" + "\n".join(lines) + "\nsleep 10s\n"))
    out.append(host("server", 2, 8, f"s = listen 9000 backlog {n}\nserve s echo\n"))
    out.append('[[links]]\na = "client"\nb = "server"\ndelay = "100us"\n')
    return "\n".join(out)


def bulk(mib):
    out = [HEADER.format(shape="bulk", n=mib, duration="600s")]
    out.append(host("client", 1, 24, f"sleep 10ms\nc = connect server:9000\n"
                    f"sent = send c random {mib}MiB\nclose c\n"))
    out.append(host("server", 2, 24, "s = listen 9000\nconn = accept s\n"
                    "got = recvall conn\nclose conn\n"))
    out.append('[[links]]\na = "client"\nb = "server"\ndelay = "1ms"\n')
    return "\n".join(out)


if __name__ == "__main__":
    shapes = {"flat": flat, "routed": routed, "fan": fan, "bulk": bulk, "idle": idle}
    if len(sys.argv) != 3 or sys.argv[1] not in shapes:
        sys.exit(__doc__)
    print(shapes[sys.argv[1]](int(sys.argv[2])))
