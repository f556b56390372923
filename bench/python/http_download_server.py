# Serves one 1 MiB file over HTTP/1.1, once.
import http.server

BODY = bytes(range(256)) * 4096


class File(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format, *args):
        pass


server = http.server.HTTPServer(('127.0.0.1', 8091), File)
server.handle_request()
server.server_close()
