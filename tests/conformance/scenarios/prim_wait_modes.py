import asyncio
from harness import new_loop, log

async def value_after(d, v):
    await asyncio.sleep(d)
    return v

async def fail_after(d, what):
    await asyncio.sleep(d)
    raise RuntimeError(what)

def names(fs, ts):
    return sorted(n for n, t in ts.items() if t in fs)

async def main():
    ts = {n: asyncio.create_task(value_after(d, n)) for n, d in (("a", 0.003), ("b", 0.001), ("c", 0.002))}
    done, pending = await asyncio.wait(ts.values(), return_when=asyncio.FIRST_COMPLETED)
    log(f"FIRST_COMPLETED done={names(done, ts)} pending={names(pending, ts)}")
    done, pending = await asyncio.wait(ts.values(), timeout=0.0015)
    log(f"timeout done={names(done, ts)} pending={names(pending, ts)}")
    done, pending = await asyncio.wait(ts.values())
    log(f"ALL_COMPLETED done={names(done, ts)} pending={names(pending, ts)}")
    us = {"x": asyncio.create_task(value_after(0.001, "x")), "y": asyncio.create_task(fail_after(0.002, "y")),
          "z": asyncio.create_task(value_after(0.009, "z"))}
    done, pending = await asyncio.wait(us.values(), return_when=asyncio.FIRST_EXCEPTION)
    log(f"FIRST_EXCEPTION done={names(done, us)} pending={names(pending, us)} z.cancelled={us['z'].cancelled()}")
    try:
        await asyncio.wait([])
    except ValueError:
        log("empty set raises")
    await us["z"]

loop = new_loop()
loop.run_until_complete(main())
loop.close()
