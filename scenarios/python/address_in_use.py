# "OSError: [Errno 98] Address already in use": why a server that is restarted at once
# cannot bind its port, and what SO_REUSEADDR changes.  Run it with:
#   packetlab py scenarios/python/address_in_use.py
#
# The server closes first, so its end of the connection waits in TIME-WAIT for 2×MSL
# (60 s on Linux), holding the port. Linux lets a new socket bind that port only if both
# the new socket and the old one set SO_REUSEADDR (the old connection has it from its
# listening socket): setting it on the restarted server alone is not enough.
#
# On Linux's lo, the same packets, flags and options (a test checks it); only the windows
# differ: Linux scales them by 2^10 on lo and grows them as it goes, packetlab's stay at 64 KiB.
import socket
import time


def serve_once(reuse):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', 8080))
    server.listen(5)
    client = socket.create_connection(('127.0.0.1', 8080))
    conn, _ = server.accept()
    conn.close()  # the server closes first, so its end of the connection waits in TIME-WAIT
    client.close()
    server.close()


serve_once(reuse=False)
try:
    serve_once(reuse=False)
except OSError as e:
    print('restart at once, without SO_REUSEADDR:', e)
try:
    serve_once(reuse=True)
except OSError as e:
    print('restart at once with SO_REUSEADDR, the old server without it:', e)
time.sleep(65)  # TIME-WAIT is 60 s; Linux's timers of a minute may fire a few seconds late
serve_once(reuse=True)
print('after 2×MSL (60 s) TIME-WAIT is over: it binds')
serve_once(reuse=True)
print('restart at once, the old server and the new with SO_REUSEADDR: it binds')
