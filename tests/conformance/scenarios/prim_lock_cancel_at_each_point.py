# Worker b is cancelled after k iterations, for every k of a short scenario:
# the lock is never held twice and nobody is stranded.
import asyncio
from harness import new_loop, log

async def worker(lock, name, state):
    try:
        for i in range(2):
            await lock.acquire()
            try:
                state["inside"] += 1
                if state["inside"] > 1:
                    log("TWO INSIDE")
                await asyncio.sleep(0)
            finally:
                state["inside"] -= 1
                lock.release()
    except asyncio.CancelledError:
        log(f"{name} cancelled at round {i}")
        raise
    log(f"{name} done")

async def main(k):
    lock = asyncio.Lock()
    state = {"inside": 0}
    ts = {n: asyncio.create_task(worker(lock, n, state)) for n in "abc"}
    for _ in range(k):
        await asyncio.sleep(0)
    ts["b"].cancel()
    await asyncio.gather(*ts.values(), return_exceptions=True)
    log(f"k={k} locked={lock.locked()}")

for k in range(8):
    loop = new_loop()
    loop.run_until_complete(main(k))
    loop.close()
