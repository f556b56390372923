import socketserver


class Lines(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(b'got ' + line)


server = socketserver.TCPServer(('127.0.0.1', 9031), Lines)
server.handle_request()
server.server_close()
print('served one client')
