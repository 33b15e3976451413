import asyncio
from harness import new_loop, log

async def main():
    q = asyncio.Queue(1)
    q.put_nowait(0)

    async def putter(v):
        try:
            await q.put(v)
        except asyncio.CancelledError:
            log(f"putter {v} cancelled, full={q.full()}")
            raise
        log(f"put {v}")

    p1 = asyncio.create_task(putter(1))
    p2 = asyncio.create_task(putter(2))
    await asyncio.sleep(0)
    log(f"get_nowait {q.get_nowait()}")
    p1.cancel()
    await asyncio.gather(p1, p2, return_exceptions=True)
    log(f"get_nowait {q.get_nowait()} empty={q.empty()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
