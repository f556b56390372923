import http.server


class Counter(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    connections = set()

    def do_GET(self):
        Counter.connections.add(self.client_address)
        body = f'request {self.path} on connection {len(Counter.connections)}\n'.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


server = http.server.HTTPServer(('127.0.0.1', 9051), Counter)
server.handle_request()  # one connection, however many requests it carries
print('connections seen', len(Counter.connections))
server.server_close()
