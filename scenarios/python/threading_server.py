# The course's concurrent server: socketserver.ThreadingTCPServer, one thread per client,
# listen(5) (its request_queue_size).  With 20 clients at once, watch the accept queue.
#   packetlab py scenarios/python/threading_server.py scenarios/python/threading_clients.py \
#       --duration 30s
#
# On Linux's lo the 20 clients connect truly at once: listen(5)'s queues overflow, and some
# SYNs and first requests are sent twice (under load, a connection may even be reset).
# packetlab runs the threads one at a time, each connection is made before the next thread
# runs, and no queue overflows: its connections are all like those of Linux's that the
# overflow spared (a test checks it).
import socketserver


class MyHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(1024)
            if not data:
                break
            self.request.sendall(data.upper())


server = socketserver.ThreadingTCPServer(('127.0.0.1', 8084), MyHandler)
server.serve_forever()
