# HTTP over TCP: a connection per request, or many requests on one connection.
#   packetlab py scenarios/python/http_server.py scenarios/python/http_client.py
# The client asks for three pages twice. First as HTTP/1.0 did (urllib sends
# `Connection: close`): each request opens a connection of its own, with its three-way
# handshake and its close. Then with HTTP/1.1 keep-alive (http.client): one connection, one
# handshake, three requests and answers on it. Count the SYNs in the capture: four.
#
# And watch the second keep-alive answer wait 40 ms, as it does on Linux: the server writes
# its headers and its body in two sends; Nagle's algorithm holds the body until the headers
# are acknowledged; and the client, which by now answers as soon as it hears (interactive),
# holds that ACK for its next request to carry, up to 40 ms. A server that writes its answer
# in one send, or sets TCP_NODELAY, does not wait.
#
# On Linux's lo, the same packets, flags and options (a test checks it); only the windows
# differ: Linux scales them by 2^10 on lo and grows them as it goes, packetlab's stay at 64 KiB.
import http.server


class Pages(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keep the connection open unless the client says close
    connections = []

    def do_GET(self):
        if self.client_address not in Pages.connections:
            Pages.connections.append(self.client_address)
        number = Pages.connections.index(self.client_address) + 1
        body = f'page {self.path}\n'.encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        said = self.headers['Connection'] or 'keep-alive, as HTTP/1.1 assumes'
        print(f'{self.path} on connection {number} (Connection: {said})')

    def log_message(self, format, *args):
        pass


server = http.server.HTTPServer(('127.0.0.1', 8088), Pages)
for _ in range(4):  # three connections of one request, then one of three
    server.handle_request()
server.server_close()
print('connections:', len(Pages.connections))
