import asyncio
import socket


def show(label, f):
    try:
        print(label, '->', f())
    except OSError as e:
        print(label, '!!', type(e).__name__, e)


v4 = socket.socket()
v4.bind(('0.0.0.0', 9074))
v4.listen()
dual = socket.socket(socket.AF_INET6)
show('[::] beside 0.0.0.0', lambda: dual.bind(('::', 9074)))
only = socket.socket(socket.AF_INET6)
only.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
show('[::] V6ONLY beside 0.0.0.0', lambda: only.bind(('::', 9074)))
only.listen()
show('V6ONLY after bind', lambda: only.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0))
show('V6ONLY on AF_INET', lambda: v4.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1))
show('::1 beside [::]', lambda: socket.socket(socket.AF_INET6).bind(('::1', 9074)))
show('127.0.0.1 beside 0.0.0.0', lambda: socket.socket().bind(('127.0.0.1', 9074)))
a = socket.create_connection(('127.0.0.1', 9074))
b = socket.create_connection(('::1', 9074))
print('IPv4 client taken by', v4.accept()[0].family.name)
print('IPv6 client taken by', only.accept()[0].family.name)
for s in (a, b, v4, only, dual):
    s.close()
mapped = socket.socket(socket.AF_INET6)
mapped.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
show('V6ONLY to a mapped address', lambda: mapped.connect(('::ffff:127.0.0.1', 9074)))
mapped.close()


async def main():
    async def hello(reader, writer):
        writer.write(b'hi ' + writer.get_extra_info('peername')[0].encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hello, None, 9075)
    print('listening on', sorted(s.getsockname()[0] for s in server.sockets))
    for host in ('127.0.0.1', '::1', 'localhost'):
        reader, writer = await asyncio.open_connection(host, 9075)
        print(host, await reader.read(100))
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()


asyncio.run(main())
