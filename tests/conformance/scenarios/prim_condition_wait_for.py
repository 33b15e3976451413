import asyncio
from harness import new_loop, log

async def main():
    cond = asyncio.Condition()
    state = {"v": 0}

    async def setter():
        for i in range(1, 5):
            await asyncio.sleep(0.001)
            async with cond:
                state["v"] = i
                log(f"set {i}")
                cond.notify_all()

    t = asyncio.create_task(setter())
    async with cond:
        r = await cond.wait_for(lambda: state["v"] if state["v"] >= 3 else 0)
        log(f"predicate value {r}")
    await t

loop = new_loop()
loop.run_until_complete(main())
loop.close()
