import asyncio
from harness import new_loop, log

async def main():
    q = asyncio.Queue()

    async def getter(name):
        try:
            v = await q.get()
        except asyncio.CancelledError:
            log(f"{name} cancelled, qsize={q.qsize()}")
            raise
        log(f"{name} got {v}")

    g1 = asyncio.create_task(getter("g1"))
    g2 = asyncio.create_task(getter("g2"))
    g3 = asyncio.create_task(getter("g3"))
    await asyncio.sleep(0)
    q.put_nowait("x")
    g1.cancel()
    log("put x and cancelled g1")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    q.put_nowait("y")
    await asyncio.gather(g1, g2, g3, return_exceptions=True)
    log(f"qsize={q.qsize()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
