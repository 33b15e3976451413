# Seven timers armed for the same instant fire in arming order (the harness
# makes CPython break ties by arming order, as simloop does).
from harness import new_loop, log

loop = new_loop()

def cb(name):
    log(f"timer {name}")
    if name == "X":
        loop.call_at(1.0, cb, "H")

for name in "ABCDEFG":
    loop.call_at(1.0, cb, name)
loop.call_later(0.5, cb, "X")
loop.call_at(1.0, loop.stop)
loop.run_forever()
loop.close()
