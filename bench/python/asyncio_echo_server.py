# The asyncio echo server of the benchmark: serves 100 clients, then stops.
import asyncio

CLIENTS = 100


async def main():
    served = 0
    done = asyncio.Event()

    async def handle(reader, writer):
        nonlocal served
        while data := await reader.read(1024):
            writer.write(data.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        served += 1
        if served == CLIENTS:
            done.set()

    server = await asyncio.start_server(handle, '127.0.0.1', 8090, backlog=128)
    async with server:
        await done.wait()
    print('served', served)


asyncio.run(main())
