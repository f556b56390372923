# 粘包 ("sticky packets"): TCP keeps no message boundaries.  The client sends two messages;
# the server, reading a moment later, gets both in one recv.  Then the fix: a 4-byte length
# before each message (struct.pack('i', n)) and a loop that reads exactly that much.
#   packetlab py scenarios/python/sticky_server.py scenarios/python/sticky_client.py
#
# On Linux's lo, the same packets, flags and options (a test checks it); only the windows
# differ: Linux scales them by 2^10 on lo and grows them as it goes, packetlab's stay at 64 KiB.
import socket
import struct
import time

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 8081))
server.listen(5)
conn, addr = server.accept()

time.sleep(0.5)  # both messages have arrived by now
print('one recv(1024):', conn.recv(1024))


def recv_exactly(n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError('the client closed early')
        data += chunk
    return data


for _ in range(2):
    (length,) = struct.unpack('i', recv_exactly(4))
    print('framed message:', recv_exactly(length))
conn.close()
server.close()
