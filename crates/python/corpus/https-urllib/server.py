import http.server
import ssl

CERT = """-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUXgqyZCl3ThaPNgerQ//FBgJNRDMwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNjE0MTQxN1oYDzIxMjYxMTEy
MTQxNDE3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASL5F1qr5JnafS09dVDWMBTFOL12dDkOcBvf3hLJ8qkjOllqjycYktM
fZap7adUtg9fWFfIxPgeQFtwnspaq5Hto28wbTAdBgNVHQ4EFgQULVhOGdWB6ukS
DnL+uo6f9sr3Y+owHwYDVR0jBBgwFoAULVhOGdWB6ukSDnL+uo6f9sr3Y+owDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAJ0zKr6iNK9bbM0WTAptZ/bUABMXeuACGqTt+tKxeAk0AiAN
ngy0hYnNLAive6xjXcgpWxEIIM6L5LMn09SOURGxaQ==
-----END CERTIFICATE-----
"""
KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8m/60qvcjS2vU3tQ
/hYswUUoPJ5rZYXVgUgIInFMuiyhRANCAASL5F1qr5JnafS09dVDWMBTFOL12dDk
OcBvf3hLJ8qkjOllqjycYktMfZap7adUtg9fWFfIxPgeQFtwnspaq5Ht
-----END PRIVATE KEY-----
"""
with open('cert.pem', 'w') as f:
    f.write(CERT)
with open('key.pem', 'w') as f:
    f.write(KEY)


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'secret page'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print('server:', self.command, self.path)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain('cert.pem', 'key.pem')
httpd = http.server.HTTPServer(('127.0.0.1', 9067), Hello)
httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
httpd.handle_request()
httpd.server_close()
