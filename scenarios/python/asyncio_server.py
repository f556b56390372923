# The same concurrent server with asyncio: one thread, one event loop, a coroutine per client
# (what a Python networking course teaches after threads). Run it against the same 20 client
# threads as the threading lesson, and compare the captures: the packets are the same, the
# handshakes, the data, the closes; only which program serves them differs.
#   packetlab py scenarios/python/asyncio_server.py scenarios/python/threading_clients.py \
#       --duration 30s
#
# Its packets are the threading lesson's, segment by segment (a test checks it); on Linux's
# lo, the threading lesson says how 20 clients at once overflow listen(5)'s queues.
import asyncio


async def handle(reader, writer):
    while True:
        data = await reader.read(1024)
        if not data:
            break
        writer.write(data.upper())
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main():
    # backlog=5, as ThreadingTCPServer's listen(5).
    server = await asyncio.start_server(handle, '127.0.0.1', 8084, backlog=5)
    async with server:
        await server.serve_forever()


asyncio.run(main())
