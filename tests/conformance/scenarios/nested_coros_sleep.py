import asyncio
from harness import new_loop, log

async def leaf(n):
    await asyncio.sleep(0.25 * n)
    log(f"leaf {n}")
    return n

async def middle(n):
    a = await leaf(n)
    b = await leaf(n + 1)
    log(f"middle {n} -> {a + b}")
    return a + b

async def main():
    loop = asyncio.get_running_loop()
    t = loop.create_task(middle(1))
    v = await middle(2)
    w = await t
    log(f"main {v} {w}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
