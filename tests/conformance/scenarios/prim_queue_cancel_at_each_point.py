# A consumer is cancelled after k iterations, for every k: every item is got
# exactly once (by a consumer or drained at the end).
import asyncio
from harness import new_loop, log

async def main(k):
    q = asyncio.Queue(2)
    got = []

    async def producer():
        for i in range(5):
            await q.put(i)
            await asyncio.sleep(0)

    async def consumer(name):
        try:
            while True:
                v = await q.get()
                got.append(v)
                q.task_done()
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            log(f"k={k} {name} cancelled after {len(got)} items")
            raise

    p = asyncio.create_task(producer())
    cs = [asyncio.create_task(consumer(n)) for n in ("c1", "c2")]
    for _ in range(k):
        await asyncio.sleep(0)
    cs[0].cancel()
    await p
    while q.qsize() or not all(c.done() for c in cs[1:]):
        await asyncio.sleep(0)
        if q.empty():
            break
    cs[1].cancel()
    await asyncio.gather(*cs, return_exceptions=True)
    left = []
    while not q.empty():
        left.append(q.get_nowait())
    log(f"k={k} got={sorted(got)} left={left}")

for k in range(10):
    loop = new_loop()
    loop.run_until_complete(main(k))
    loop.close()
