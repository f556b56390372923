# The selectors module's own example shape: accept and echo, with DefaultSelector.
import selectors
import socket

sel = selectors.DefaultSelector()
server = socket.socket()
server.bind(('127.0.0.1', 9200))
server.listen(5)
server.setblocking(False)
sel.register(server, selectors.EVENT_READ, data=None)
client = socket.create_connection(('127.0.0.1', 9200))
client.sendall(b'ping')
replies = 0
while replies < 1:
    for key, mask in sel.select(timeout=1):
        if key.data is None:
            conn, addr = key.fileobj.accept()
            sel.register(conn, selectors.EVENT_READ, data=addr)
        else:
            data = key.fileobj.recv(1024)
            key.fileobj.sendall(data.upper())
            replies += 1
print(type(sel).__name__, client.recv(10))
