import select
import selectors
import socket

print(selectors.DefaultSelector.__name__)
server = socket.socket()
server.bind(('127.0.0.1', 9043))
server.listen()
c = socket.create_connection(('127.0.0.1', 9043))
conn, _ = server.accept()
p = select.poll()
p.register(conn, select.POLLIN)
print('poll, nothing sent:', p.poll(100))
c.send(b'x')
print('poll, one byte:', p.poll(100) == [(conn.fileno(), select.POLLIN)])
e = select.epoll()
e.register(conn.fileno(), select.EPOLLIN | select.EPOLLOUT)
print('epoll:', sorted(e.poll(0.1)) == [(conn.fileno(), select.EPOLLIN | select.EPOLLOUT)])
e.close()
sel = selectors.DefaultSelector()
sel.register(conn, selectors.EVENT_READ, data='conn')
print('selector:', [(key.data, mask) for key, mask in sel.select(0.1)])
