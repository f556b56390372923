import socket
import struct

server = socket.socket()
server.bind(('127.0.0.1', 9019))
server.listen()
conn, _ = server.accept()
print('linger off:', struct.unpack('ii', conn.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)))
conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
print('linger on:', struct.unpack('ii', conn.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)))
conn.close()
