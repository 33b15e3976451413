from harness import new_loop, log

loop = new_loop()

def cb(name):
    log(f"cb {name}")
    if name == "A":
        loop.call_soon(cb, "D")

loop.call_soon(cb, "A")
loop.call_soon(cb, "B")
loop.call_later(0, cb, "T0")
loop.call_soon(cb, "C")
loop.call_later(0.5, cb, "L")
loop.call_later(0.5, loop.stop)
loop.run_forever()
log("stopped")
loop.close()
