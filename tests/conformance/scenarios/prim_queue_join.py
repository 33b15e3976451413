import asyncio
from harness import new_loop, log

async def main():
    q = asyncio.Queue()

    async def worker(name):
        while True:
            v = await q.get()
            await asyncio.sleep(0.001 * v)
            log(f"{name} done {v}")
            q.task_done()

    await q.join()
    log("join on empty returns")
    for v in (3, 1, 2, 1):
        q.put_nowait(v)
    ws = [asyncio.create_task(worker(n)) for n in ("w1", "w2")]
    await q.join()
    log("joined")
    for w in ws:
        w.cancel()
    await asyncio.gather(*ws, return_exceptions=True)
    try:
        q.task_done()
    except ValueError:
        log("task_done called too many times")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
