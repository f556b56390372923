import asyncio


async def slow():
    await asyncio.sleep(1.0)
    return 'slow'


async def main():
    loop = asyncio.get_running_loop()
    order = []
    loop.call_later(0.3, order.append, 'call_later 0.3')
    try:
        await asyncio.wait_for(slow(), timeout=0.5)
    except asyncio.TimeoutError:
        order.append('wait_for timed out at 0.5')
    order.append(await asyncio.wait_for(slow(), timeout=2))
    await asyncio.sleep(0.1)
    print(order)


asyncio.run(main())
