import socket

local = socket.socket()
local.bind(('127.0.0.1', 9012))
local.listen()
print('bound to 127.0.0.1:', local.getsockname())
anywhere = socket.socket()
anywhere.bind(('', 9013))
anywhere.listen()
print('bound to any:', anywhere.getsockname())
c = socket.create_connection(('127.0.0.1', 9013))
conn, addr = anywhere.accept()
print('accepted on', conn.getsockname(), 'from', addr[0])
print('client ends at', c.getpeername())
c2 = socket.create_connection(('127.0.0.2', 9013))
conn2, addr2 = anywhere.accept()
print('through 127.0.0.2:', conn2.getsockname(), 'from', addr2[0])
try:
    socket.create_connection(('127.0.0.2', 9012))
except ConnectionRefusedError as e:
    print('127.0.0.2:9012 refused: the listener is bound to 127.0.0.1 only', e.errno)
