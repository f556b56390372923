# A ThreadingTCPServer on the address it is given; it serves until the run ends.
import socketserver
import sys


class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        self.wfile.write(line.upper())


with socketserver.ThreadingTCPServer((sys.argv[1], 9000), Upper) as server:
    print('serving on', server.server_address)
    server.serve_forever()
