import asyncio
from harness import new_loop, log

async def inner():
    log("inner start")
    await asyncio.sleep(1)
    log("inner end")
    return 2

async def outer():
    log("outer start")
    t = asyncio.get_running_loop().create_task(inner())
    v = await t
    log(f"outer got {v}")
    return v + 1

async def main():
    t = asyncio.get_running_loop().create_task(outer())
    log("main waits")
    v = await t
    log(f"main got {v}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
