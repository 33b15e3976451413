import asyncio
from harness import new_loop, log

async def worker(name):
    for i in range(3):
        log(f"{name} {i}")
        await asyncio.sleep(0)
    log(f"{name} done")

async def main():
    loop = asyncio.get_running_loop()
    ts = [loop.create_task(worker(n)) for n in "ABC"]
    for t in ts:
        await t
    log("all done")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
