import socket

client = socket.create_connection(('127.0.0.1', 9002))
client.sendall(b'goodbye without close')
print('exiting without close()')
