# An outer cancel in the same iteration as the timeout (before and after
# it): the outer cancellation is never swallowed.
import asyncio
from harness import new_loop, log

async def inner():
    try:
        async with asyncio.timeout(0.005):
            await asyncio.sleep(0.010)
    except TimeoutError:
        log("inner TimeoutError")
    except asyncio.CancelledError:
        log(f"inner CancelledError cancelling={asyncio.current_task().cancelling()}")
        raise

async def main(cancel_first):
    loop = asyncio.get_running_loop()
    t = loop.create_task(inner())
    if cancel_first:
        loop.call_at(0.005, t.cancel)
    await asyncio.sleep(0)
    if not cancel_first:
        loop.call_at(0.005, t.cancel)
    try:
        await t
    except asyncio.CancelledError:
        log(f"cancel_first={cancel_first} t.cancelled={t.cancelled()}")
    # outer cancel before the deadline
    t = loop.create_task(inner())
    await asyncio.sleep(0.001)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        log(f"early cancel t.cancelled={t.cancelled()}")

for first in (True, False):
    loop = new_loop()
    loop.run_until_complete(main(first))
    loop.close()
