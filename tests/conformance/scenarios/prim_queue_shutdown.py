import asyncio
from harness import new_loop, log

async def main():
    q = asyncio.Queue(1)

    async def getter(name):
        try:
            while True:
                v = await q.get()
                log(f"{name} got {v}")
                q.task_done()
        except asyncio.QueueShutDown:
            log(f"{name} shut down")

    async def putter(v):
        try:
            await q.put(v)
            log(f"put {v}")
        except asyncio.QueueShutDown:
            log(f"putter {v} shut down")

    q.put_nowait(1)
    p = asyncio.create_task(putter(2))
    await asyncio.sleep(0)
    q.shutdown()
    log("shutdown")
    try:
        q.put_nowait(3)
    except asyncio.QueueShutDown:
        log("put_nowait raises")
    await p
    g = asyncio.create_task(getter("g"))
    await g
    await q.join()
    log("joined")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
