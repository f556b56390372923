import socket

server = socket.socket()
server.bind(('127.0.0.1', 9022))
server.listen()
server.settimeout(0.2)
try:
    server.accept()
except TimeoutError as e:
    print('accept', repr(e), e.errno)
c = socket.create_connection(('127.0.0.1', 9022), timeout=0.3)
print('timeout', c.gettimeout(), 'blocking', c.getblocking())
try:
    c.recv(10)
except socket.timeout as e:
    print('recv', repr(e))
c.setblocking(False)
print('timeout', c.gettimeout(), 'blocking', c.getblocking())
try:
    c.recv(10)
except BlockingIOError as e:
    print('recv', e.errno)
print('connect_ex to a closed port', socket.socket().connect_ex(('127.0.0.1', 9023)))
