from harness import new_loop, log

loop = new_loop()
h1 = loop.call_later(1, lambda: log("X fired"))
h2 = loop.call_later(2, lambda: log("Y fired"))

def cancel_x():
    h1.cancel()
    log(f"X cancelled={h1.cancelled()} Y cancelled={h2.cancelled()}")

loop.call_later(0.5, cancel_x)
loop.call_later(3, loop.stop)
loop.run_forever()
log("stopped")
loop.close()
