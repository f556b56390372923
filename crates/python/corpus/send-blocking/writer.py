import hashlib
import socket

payload = bytes(range(256)) * 8192  # 2 MiB, far more than any buffer
client = socket.create_connection(('127.0.0.1', 9001))
sent = client.send(payload)
print('send returned', sent, 'of', len(payload))
client.sendall(payload[sent:])
client.close()
print('sent', len(payload), hashlib.sha256(payload).hexdigest()[:16])
