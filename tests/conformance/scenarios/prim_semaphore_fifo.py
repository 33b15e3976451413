import asyncio
from harness import new_loop, log

async def worker(sem, i):
    async with sem:
        log(f"{i} in")
        await asyncio.sleep(0.001 * (i + 1))
        log(f"{i} out")

async def main():
    sem = asyncio.Semaphore(2)
    ts = [asyncio.create_task(worker(sem, i)) for i in range(5)]
    await asyncio.sleep(0)
    log(f"locked={sem.locked()}")
    late = asyncio.create_task(worker(sem, 9))
    for t in ts:
        await t
    await late
    log(f"locked={sem.locked()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
