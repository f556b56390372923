# Sending a file with a JSON header, as in the notes: a 4-byte header length, the header
# {"filename": ..., "filesize": ...}, then the file, read in a loop of recv(1024).
#   packetlab py scenarios/python/file_server.py scenarios/python/file_client.py
# On two hosts of a LAN (scenarios/python/lan-file-transfer.toml) it is given its address.
#
# On Linux's lo the 1 MiB leaves in fewer, larger segments (a dozen or so, up to 60 KiB):
# Linux grows its buffers and windows as the transfer goes. packetlab's windows stay at 64 KiB,
# and its segments at half that (Linux's bound on lo until its windows grow): some 46 of them.
import hashlib
import json
import socket
import struct
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, 8082))
server.listen(5)
conn, addr = server.accept()

(header_len,) = struct.unpack('i', conn.recv(4))
header = json.loads(conn.recv(header_len).decode('utf-8'))
print('header:', header)
received = 0
digest = hashlib.sha256()
with open(header['filename'], 'wb') as f:
    while received < header['filesize']:
        data = conn.recv(1024)
        if not data:
            break
        f.write(data)
        digest.update(data)
        received += len(data)
print('received', received, 'bytes, sha256', digest.hexdigest())
conn.close()
server.close()
