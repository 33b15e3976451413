import asyncio
from harness import new_loop, log

async def value_after(d, v):
    await asyncio.sleep(d)
    return v

async def fail_after(d, what):
    await asyncio.sleep(d)
    log(f"child {what} raising")
    raise RuntimeError(what)

async def sibling():
    try:
        await asyncio.sleep(0.010)
    except asyncio.CancelledError:
        log("sibling cancelled")
        raise

async def main():
    async with asyncio.TaskGroup() as tg:
        a = tg.create_task(value_after(0.002, 1))
        b = tg.create_task(value_after(0.005, 2))
    log(f"all done {a.result() + b.result()}")
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sibling())
            tg.create_task(fail_after(0.001, "one"))
            tg.create_task(fail_after(0.001, "two"))
            try:
                await asyncio.sleep(0.010)
            except asyncio.CancelledError:
                log("body cancelled")
                raise
    except ExceptionGroup as g:
        log(f"group {[str(e) for e in g.exceptions]} cancelling={asyncio.current_task().cancelling()}")
    try:
        async with asyncio.TaskGroup() as tg:
            c = tg.create_task(value_after(0.010, 0))
            await asyncio.sleep(0.001)
            raise RuntimeError("body")
    except ExceptionGroup as g:
        log(f"body error group {[str(e) for e in g.exceptions]} child.cancelled={c.cancelled()}")
    try:
        tg.create_task(value_after(0, 0))
    except RuntimeError:
        log("create_task on a finished group raises")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
