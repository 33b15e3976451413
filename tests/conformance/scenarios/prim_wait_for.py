import asyncio
from harness import new_loop, log

async def value_after(d, v):
    await asyncio.sleep(d)
    return v

async def return_42():
    try:
        await asyncio.sleep(0.010)
    except asyncio.CancelledError:
        log("return_42 swallowed the cancel")
        return 42

async def main():
    log(f"in time {await asyncio.wait_for(value_after(0.001, 4), 0.005)}")
    t = asyncio.create_task(value_after(0.010, 0))
    try:
        await asyncio.wait_for(t, 0.002)
    except TimeoutError:
        log(f"TimeoutError t.cancelled={t.cancelled()}")
    log(f"swallowed {await asyncio.wait_for(return_42(), 0.001)}")
    fut = asyncio.get_running_loop().create_future()
    fut.set_result(3)
    log(f"zero timeout done future {await asyncio.wait_for(fut, 0)}")
    started = False

    async def foo():
        nonlocal started
        started = True

    try:
        await asyncio.wait_for(foo(), 0)
    except TimeoutError:
        log(f"zero timeout coroutine: TimeoutError started={started}")
    t = asyncio.create_task(value_after(0.010, 0))
    await asyncio.sleep(0)
    try:
        await asyncio.wait_for(t, -1)
    except TimeoutError:
        log(f"negative timeout t.cancelled={t.cancelled()}")
    inner = asyncio.create_task(value_after(100, 0))
    w = asyncio.create_task(asyncio.wait_for(inner, 60))
    asyncio.get_running_loop().call_soon(w.cancel)
    try:
        await w
    except asyncio.CancelledError:
        await asyncio.sleep(0)
        log(f"waiter cancelled inner.cancelled={inner.cancelled()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
