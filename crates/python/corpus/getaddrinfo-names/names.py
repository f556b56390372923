import socket


def show(label, f):
    try:
        print(label, '->', f())
    except (OSError, TypeError) as e:
        print(label, '!!', type(e).__name__, e)


def gai(*args, **kwargs):
    return [(af.name, kind.name, proto, canon, addr)
            for af, kind, proto, canon, addr in socket.getaddrinfo(*args, **kwargs)]


show('localhost', lambda: gai('localhost', 80))
show('localhost stream', lambda: gai('localhost', 'http', type=socket.SOCK_STREAM))
show('localhost AF_INET6', lambda: gai('localhost', 80, socket.AF_INET6, socket.SOCK_STREAM))
show('localhost AF_INET', lambda: gai('localhost', 80, socket.AF_INET, socket.SOCK_DGRAM))
show('ip6-localhost AF_INET', lambda: gai('ip6-localhost', 80, socket.AF_INET, socket.SOCK_STREAM))
show('canonical', lambda: gai('localhost', 80, type=socket.SOCK_STREAM,
                              flags=socket.AI_CANONNAME))
show('passive', lambda: gai(None, 8000, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE))
show('no host', lambda: gai(None, 8000, type=socket.SOCK_STREAM))
show('ip6-localhost', lambda: gai('ip6-localhost', 80, type=socket.SOCK_STREAM))
show('::1', lambda: gai('::1', 80, type=socket.SOCK_STREAM))
show('mapped', lambda: gai('::ffff:127.0.0.1', 80, type=socket.SOCK_STREAM))
show('::1 as AF_INET', lambda: gai('::1', 80, socket.AF_INET))
show('127.0.0.1 as AF_INET6', lambda: gai('127.0.0.1', 80, socket.AF_INET6))
show('empty', lambda: gai('', 80))
show('unknown', lambda: gai('no-such-host.invalid', 80))
show('numeric only', lambda: gai('localhost', 80, flags=socket.AI_NUMERICHOST))
show('gethostbyname', lambda: socket.gethostbyname('localhost'))
show('gethostbyname ::1', lambda: socket.gethostbyname('::1'))
show('AF_INET to ::1', lambda: socket.socket().connect(('::1', 80)))
show('AF_INET6 to 127.0.0.1', lambda: socket.socket(socket.AF_INET6).connect(('127.0.0.1', 80)))
show('AF_INET6 short tuple', lambda: socket.socket(socket.AF_INET6).connect(('::1',)))
show('AF_INET6 unbound', lambda: socket.socket(socket.AF_INET6).getsockname())
