# The future a task waits on completes, then the task is cancelled before its
# wakeup runs: the task sees CancelledError, not the result.
import asyncio
from harness import new_loop, log

async def waiter(f):
    try:
        v = await f
        log(f"waiter got {v}")
    except asyncio.CancelledError:
        log(f"waiter cancelled; future result was {f.result()}")
        raise

async def main():
    loop = asyncio.get_running_loop()
    f = loop.create_future()
    t = loop.create_task(waiter(f))
    await asyncio.sleep(0)

    def complete_then_cancel():
        f.set_result(1)
        log(f"cancel -> {t.cancel()}")

    loop.call_soon(complete_then_cancel)
    try:
        await t
    except asyncio.CancelledError:
        log(f"task cancelled={t.cancelled()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
