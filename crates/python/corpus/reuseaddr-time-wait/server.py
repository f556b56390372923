import socket


def serve_once(port, reuse):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', port))
    server.listen(5)
    client = socket.create_connection(('127.0.0.1', port))
    conn, _ = server.accept()
    conn.close()  # the server closes first: its end waits in TIME-WAIT
    client.close()
    server.close()


def attempt(what, port, reuse):
    try:
        serve_once(port, reuse)
        print(what, 'binds')
    except OSError as e:
        print(what, e)


serve_once(9014, reuse=False)
attempt('old without, new without:', 9014, False)
attempt('old without, new with:', 9014, True)
serve_once(9015, reuse=True)
attempt('old with, new without:', 9015, False)
attempt('old with, new with:', 9015, True)
