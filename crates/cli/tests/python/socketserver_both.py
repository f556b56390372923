# socketserver, unmodified: a TCPServer with a BaseRequestHandler, then one with a
# StreamRequestHandler (rfile and wfile come from makefile).
import socket
import socketserver


class Upper(socketserver.BaseRequestHandler):
    def handle(self):
        data = self.request.recv(1024)
        self.request.sendall(data.upper())


class Lines(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        self.wfile.write(b'got ' + line)


for port, handler, message in [(9300, Upper, b'hello'), (9301, Lines, b'a line\n')]:
    with socketserver.TCPServer(('127.0.0.1', port), handler) as server:
        client = socket.create_connection(('127.0.0.1', port))
        client.sendall(message)
        server.handle_request()
        print(handler.__name__, client.recv(100))
        client.close()
