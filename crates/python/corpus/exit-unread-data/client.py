import socket

client = socket.create_connection(('127.0.0.1', 9004))
client.sendall(b'never read')
try:
    print(client.recv(1024))
except ConnectionResetError as e:
    print('ConnectionResetError', e.errno)
