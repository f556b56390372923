# Threads that wait for each other through locks, conditions, events, semaphores and queues,
# and a lock held across a socket call: each wait is in virtual time.
import queue
import socket
import socketserver
import threading
import time

# 1. A lock held across a blocking recv: the other thread waits for it, then gets it.
log = []
lock = threading.Lock()
listener = socket.create_server(('127.0.0.1', 9100))


def holder():
    with lock:
        conn, _ = listener.accept()
        log.append(('holder got', conn.recv(1024)))
        conn.close()


def sender():
    time.sleep(1)
    with socket.create_connection(('127.0.0.1', 9100)) as c:
        c.sendall(b'late')


def waiter():
    time.sleep(0.5)
    with lock:
        log.append(('waiter got the lock at', round(time.monotonic() - start, 3)))


start = time.monotonic()
threads = [threading.Thread(target=f) for f in (holder, sender, waiter)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(log)

# 2. A producer and a consumer through queue.Queue.
q = queue.Queue(maxsize=2)


def produce():
    for i in range(5):
        q.put(i)
        time.sleep(0.1)
    q.put(None)


got = []
producer = threading.Thread(target=produce)
producer.start()
while (item := q.get()) is not None:
    got.append(item)
producer.join()
print('queue', got)

# 3. Event.wait with a timeout costs virtual time only.
event = threading.Event()
before = time.monotonic()
print('event', event.wait(timeout=30), round(time.monotonic() - before, 3))

# 4. serve_forever in a thread, stopped from the main thread with shutdown() (an Event).
served = threading.Semaphore(0)


class Upper(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(self.request.recv(1024).upper())
        served.release()


server = socketserver.ThreadingTCPServer(('127.0.0.1', 9101), Upper)
threading.Thread(target=server.serve_forever, daemon=True).start()
for name in (b'a', b'b'):
    with socket.create_connection(('127.0.0.1', 9101)) as c:
        c.sendall(name)
        print('reply', c.recv(1024))
served.acquire()
served.acquire()
server.shutdown()
server.server_close()
print('shut down')
