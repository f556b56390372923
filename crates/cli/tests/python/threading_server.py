# The course's concurrent server: socketserver.ThreadingTCPServer, one thread per client.
import socketserver


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(1024)
            if not data:
                break
            self.request.sendall(data.upper())


server = socketserver.ThreadingTCPServer(('127.0.0.1', 9500), Echo)
server.serve_forever()
