# A task in wait_for(aw, 5ms) is cancelled with a message in the same
# iteration as the deadline fires, before and after it: the outer
# cancellation wins, and the inner awaitable and the caller both see the
# outer message.
import asyncio
from harness import new_loop, log

def msg(e):
    return e.args[0] if e.args else "<none>"

async def inner():
    try:
        await asyncio.sleep(0.010)
        return "done"
    except asyncio.CancelledError as e:
        log(f"  inner msg={msg(e)}")
        raise

async def caller(kind):
    loop = asyncio.get_running_loop()
    aw = loop.create_task(inner()) if kind == "task" else inner()
    try:
        r = await asyncio.wait_for(aw, 0.005)
        log(f"  caller result {r}")
    except TimeoutError:
        log("  caller TimeoutError")
    except asyncio.CancelledError as e:
        log(f"  caller msg={msg(e)} cancelling={asyncio.current_task().cancelling()}")
        raise

async def main(kind, cancel_first):
    loop = asyncio.get_running_loop()
    base = loop.time()
    log(f"{kind} cancel_first={cancel_first}")
    t = loop.create_task(caller(kind))
    if cancel_first:
        loop.call_at(base + 0.005, t.cancel, "outer")
    await asyncio.sleep(0)
    if not cancel_first:
        loop.call_at(base + 0.005, t.cancel, "outer")
    try:
        await t
    except asyncio.CancelledError as e:
        log(f"  main msg={msg(e)} t.cancelled={t.cancelled()}")

for kind in ("task", "coroutine"):
    for first in (True, False):
        loop = new_loop()
        loop.run_until_complete(main(kind, first))
        loop.close()
