import asyncio
from harness import new_loop, log

async def level3():
    await asyncio.sleep(1)
    log("level3 raises")
    raise ValueError("boom")

async def level2():
    try:
        await level3()
    finally:
        log("level2 finally")

async def level1():
    t = asyncio.get_running_loop().create_task(level2())
    await t
    log("level1 not reached")

async def main():
    try:
        await level1()
    except ValueError as e:
        log(f"main caught {e}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
