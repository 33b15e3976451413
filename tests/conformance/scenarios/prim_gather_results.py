import asyncio
from harness import new_loop, log

async def value_after(d, v):
    await asyncio.sleep(d)
    log(f"child {v} done")
    return v

async def fail_after(d, what):
    await asyncio.sleep(d)
    log(f"child {what} raising")
    raise RuntimeError(what)

async def main():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.call_later(0.005, fut.set_result, "fut")
    task = asyncio.create_task(value_after(0.001, "task"))
    r = await asyncio.gather(fut, task, value_after(0.003, "coro"))
    log(f"results {r[0]} {r[1]} {r[2]}")
    slow = asyncio.create_task(value_after(0.010, "slow"))
    try:
        await asyncio.gather(slow, fail_after(0.001, "boom"))
    except RuntimeError as e:
        log(f"gather raised {e}, slow.done={slow.done()}")
    log(f"slow result {await slow}")
    rs = await asyncio.gather(value_after(0.002, "x"), fail_after(0.001, "bad"), return_exceptions=True)
    log(f"return_exceptions {rs[0]} {type(rs[1]).__name__}:{rs[1]}")
    log(f"empty {await asyncio.gather()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
