# gather(return_exceptions=True) cancelled with a message while its last
# child swallows the cancellation and finishes normally. The gather still
# ends with CancelledError, and its message is the last child's cancel
# message (CPython's _make_cancelled_error on that child): the message is
# kept when the child was cancelled between steps (its step queued), and
# not when it was cancelled through the future it waited on.
import asyncio
from harness import new_loop, log

async def quits():
    await asyncio.sleep(1)
    return "quits"

async def stubborn(name, yield_first):
    try:
        if yield_first:
            await asyncio.sleep(0)
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        log(f"{name} swallows the cancellation")
    return name

async def round(yield_first):
    a = asyncio.ensure_future(quits())
    b = asyncio.ensure_future(stubborn("waiting" if not yield_first else "queued", yield_first))
    g = asyncio.gather(a, b, return_exceptions=True)
    await asyncio.sleep(0)
    log(f"cancel returned {g.cancel('stop now')}")
    try:
        await g
        log("gather returned")
    except asyncio.CancelledError as e:
        log(f"gather raised CancelledError args={e.args}")
    log(f"a cancelled={a.cancelled()} b cancelled={b.cancelled()} b result={b.result()}")

async def main():
    await round(False)
    await round(True)

loop = new_loop()
loop.run_until_complete(main())
loop.close()
