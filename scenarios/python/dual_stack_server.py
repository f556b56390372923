# One server for both IP versions. An AF_INET6 socket on '::' with IPV6_V6ONLY off (what
# socket.create_server(..., dualstack_ipv6=True) sets, 双栈) takes IPv6 clients and IPv4 ones,
# and shows an IPv4 client by its IPv4-mapped IPv6 address, ::ffff:127.0.0.1. A second
# listener takes IPv4 only: a client that asks for `localhost` tries ::1 first (the hosts file
# lists it first), is refused there with a RST, and goes on to 127.0.0.1. Run it with its
# clients:
#   packetlab py scenarios/python/dual_stack_server.py scenarios/python/dual_stack_clients.py
#
# On Linux's lo, the same packets, flags and options (a test checks it), with Debian's
# /etc/hosts; only the windows differ: Linux scales them by 2^10 on lo, packetlab's stay at
# 64 KiB.
import socket

both = socket.create_server(('', 8090), family=socket.AF_INET6, dualstack_ipv6=True)
ipv4_only = socket.create_server(('127.0.0.1', 8091))
print('listening on', both.getsockname(), 'and', ipv4_only.getsockname())
for server in (both, both, ipv4_only):
    conn, addr = server.accept()
    with conn:
        print('client', addr[0], 'reached', conn.getsockname()[0])
        conn.sendall(('you are ' + addr[0]).encode())
both.close()
ipv4_only.close()
