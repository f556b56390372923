import socket
import struct
import time

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 8081))
client.send(b'hello')
client.send(b'world')
time.sleep(1)
for message in [b'hello', b'world, framed']:
    client.send(struct.pack('i', len(message)))
    client.send(message)
client.close()
