import socket

client = socket.create_connection(('127.0.0.1', 9011))
try:
    client.recv(100, socket.MSG_DONTWAIT)
except BlockingIOError as e:
    print('MSG_DONTWAIT: BlockingIOError', e.errno)
print('peek', client.recv(4, socket.MSG_PEEK))
print('peek again', client.recv(100, socket.MSG_PEEK))
print('recv', client.recv(100))
print('waitall', client.recv(13, socket.MSG_WAITALL))
print('at the end', client.recv(100, socket.MSG_WAITALL))
