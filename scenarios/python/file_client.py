import hashlib
import json
import random
import socket
import struct
import sys

SERVER = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'

content = random.Random(7).randbytes(1024 * 1024)  # a 1 MiB "video"
header = json.dumps({'filename': 'vc.mp4', 'filesize': len(content)}).encode('utf-8')

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((SERVER, 8082))
client.send(struct.pack('i', len(header)))
client.send(header)
client.sendall(content)
print('sent', len(content), 'bytes, sha256', hashlib.sha256(content).hexdigest())
client.close()
