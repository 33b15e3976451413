import asyncio
from harness import new_loop, log

async def main():
    q = asyncio.Queue()

    async def getter(name):
        try:
            v = await q.get()
            log(f"{name} got {v}")
            q.task_done()
        except asyncio.QueueShutDown:
            log(f"{name} shut down")

    async def joiner():
        await q.join()
        log("joined")

    g1 = asyncio.create_task(getter("g1"))
    g2 = asyncio.create_task(getter("g2"))
    await asyncio.sleep(0)
    q.put_nowait(1)
    q.put_nowait(2)
    q.put_nowait(3)
    j = asyncio.create_task(joiner())
    await asyncio.sleep(0)
    log(f"qsize={q.qsize()}")
    q.shutdown(immediate=True)
    log(f"shutdown immediate qsize={q.qsize()} empty={q.empty()}")
    await asyncio.gather(g1, g2, j)
    await getter("g3")
    try:
        q.get_nowait()
    except asyncio.QueueShutDown:
        log("get_nowait raises")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
