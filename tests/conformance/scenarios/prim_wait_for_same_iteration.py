# The completion and the timeout in the same iteration, in both orders.
import asyncio
from harness import new_loop, log

async def main(complete_first):
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    if complete_first:
        loop.call_at(0.002, fut.set_result, 5)
    w = loop.create_task(asyncio.wait_for(fut, 0.002))
    await asyncio.sleep(0)
    if not complete_first:
        loop.call_at(0.002, lambda: log(f"completer sees fut.cancelled={fut.cancelled()}"))
    try:
        log(f"complete_first={complete_first} result {await w}")
    except TimeoutError:
        log(f"complete_first={complete_first} TimeoutError fut.done={fut.done()}")
    if fut.done() and not fut.cancelled():
        log(f"result kept in the future: {fut.result()}")
    q = asyncio.Queue()
    base = loop.time()
    if complete_first:
        loop.call_at(base + 0.002, q.put_nowait, "item")
    g = loop.create_task(asyncio.wait_for(q.get(), 0.002))
    await asyncio.sleep(0)
    if not complete_first:
        loop.call_at(base + 0.002, q.put_nowait, "item")
    try:
        log(f"get {await g}")
    except TimeoutError:
        log(f"get TimeoutError")
    await asyncio.sleep(0)
    log(f"qsize={q.qsize()}")

for first in (True, False):
    loop = new_loop()
    loop.run_until_complete(main(first))
    loop.close()
