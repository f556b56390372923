import socket

c = socket.create_connection(('127.0.0.1', 9024))
c.sendall(b'question')
c.shutdown(socket.SHUT_WR)
try:
    c.send(b'more')
except BrokenPipeError as e:
    print('send after SHUT_WR: BrokenPipeError', e.errno)
print(c.recv(1024))
print(c.recv(1024))
c.close()
