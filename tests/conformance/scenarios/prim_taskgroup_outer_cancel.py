import asyncio
from harness import new_loop, log

async def fail_after(d, what):
    await asyncio.sleep(d)
    log(f"child {what} raising")
    raise RuntimeError(what)

async def child(name):
    try:
        await asyncio.sleep(0.010)
    except asyncio.CancelledError:
        log(f"{name} cancelled")
        raise

async def parent_waiting():
    async with asyncio.TaskGroup() as tg:
        tg.create_task(child("c"))

async def parent_failing():
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(fail_after(0.001, "child"))
            await asyncio.sleep(0.010)
    except ExceptionGroup:
        log(f"group, cancelling={asyncio.current_task().cancelling()}")
    await asyncio.sleep(0.001)
    log("not reached")

async def main():
    loop = asyncio.get_running_loop()
    p = loop.create_task(parent_waiting())
    await asyncio.sleep(0.001)
    p.cancel()
    try:
        await p
    except asyncio.CancelledError:
        log(f"parent cancelled={p.cancelled()}")
    p = loop.create_task(parent_failing())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    loop.call_at(loop.time() + 0.001, p.cancel)
    try:
        await p
    except asyncio.CancelledError:
        log(f"parent cancelled={p.cancelled()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
