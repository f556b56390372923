import socket

client = socket.create_connection(('127.0.0.1', 9019))
try:
    print(client.recv(100))
except ConnectionResetError as e:
    print('ConnectionResetError', e.errno)
