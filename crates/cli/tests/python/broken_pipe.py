import socket

server = socket.create_server(('127.0.0.1', 7200))
client = socket.create_connection(('127.0.0.1', 7200))
conn, _ = server.accept()
conn.close()
client.shutdown(socket.SHUT_WR)
try:
    client.send(b'after my own shutdown')
except BrokenPipeError as e:
    print(type(e).__name__, e.errno)
