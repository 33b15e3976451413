# run_until_complete stops through a done-callback; the iteration in which
# that callback runs still finishes, and what it schedules waits for the next run.
import asyncio
from harness import new_loop, log

loop = new_loop()

async def quick():
    log("quick runs")

def after():
    log("after")
    loop.call_soon(after2)

def after2():
    log("after2")
    loop.call_soon(lambda: log("after3"))

async def nothing():
    await asyncio.sleep(0)
    log("nothing done")

loop.call_soon(lambda: log("before"))
t = loop.create_task(quick())
loop.call_soon(after)
loop.run_until_complete(t)
log("first run returned")
loop.run_until_complete(nothing())
log("second run returned")
loop.close()
