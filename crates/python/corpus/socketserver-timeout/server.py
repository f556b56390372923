import socketserver


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        pass


class Server(socketserver.TCPServer):
    timeout = 0.5

    def handle_timeout(self):
        print('nobody came within', self.timeout, 's')


with Server(('127.0.0.1', 9045), Handler) as server:
    server.handle_request()
    server.handle_request()
print('done')
