import asyncio
from harness import new_loop, log

async def main():
    q = asyncio.Queue(2)

    async def getter(name):
        v = await q.get()
        log(f"{name} got {v}")

    async def putter(v):
        await q.put(v)
        log(f"put {v} qsize={q.qsize()} full={q.full()}")

    gs = [asyncio.create_task(getter(n)) for n in ("g1", "g2")]
    await asyncio.sleep(0)
    ps = [asyncio.create_task(putter(v)) for v in range(6)]
    await asyncio.gather(*gs)
    await asyncio.sleep(0.001)
    log(f"qsize={q.qsize()} full={q.full()}")
    while not q.empty():
        log(f"get_nowait {q.get_nowait()}")
        await asyncio.sleep(0)
    await asyncio.gather(*ps)
    try:
        q.get_nowait()
    except asyncio.QueueEmpty:
        log("QueueEmpty")
    q.put_nowait(1)
    q.put_nowait(2)
    try:
        q.put_nowait(3)
    except asyncio.QueueFull:
        log("QueueFull")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
