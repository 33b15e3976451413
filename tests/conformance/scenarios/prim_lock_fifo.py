import asyncio
from harness import new_loop, log

async def worker(lock, name):
    log(f"{name} wants")
    async with lock:
        log(f"{name} in")
        await asyncio.sleep(0.001)
        log(f"{name} out")

async def main():
    lock = asyncio.Lock()
    ts = [asyncio.create_task(worker(lock, n)) for n in "abc"]
    await asyncio.sleep(0)
    log(f"locked={lock.locked()}")
    for t in ts:
        await t
    log(f"locked={lock.locked()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
