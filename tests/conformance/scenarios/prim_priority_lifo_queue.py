import asyncio
from harness import new_loop, log

async def main():
    pq = asyncio.PriorityQueue()
    for item in [(3, "c"), (1, "a"), (2, "b"), (1, "a2"), (0, "z")]:
        pq.put_nowait(item)
    out = []
    while not pq.empty():
        out.append((await pq.get())[1])
    log("priority " + " ".join(out))
    lq = asyncio.LifoQueue(2)
    await lq.put(1)
    await lq.put(2)

    async def late():
        await lq.put(3)
        log("put 3")

    t = asyncio.create_task(late())
    await asyncio.sleep(0)
    log(f"lifo got {await lq.get()}")
    await t
    log(f"lifo got {await lq.get()}")
    log(f"lifo got {await lq.get()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
