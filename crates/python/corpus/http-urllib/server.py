import http.server


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f'you asked for {self.path}\n'.encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print('server:', self.command, self.path, self.request_version)


server = http.server.HTTPServer(('127.0.0.1', 9050), Hello)
server.handle_request()
server.server_close()
