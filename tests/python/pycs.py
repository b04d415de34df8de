"""callstack_instr's on_call and on_ret in Python, get_callers() through
modhost.import_fn: per-function counts like tests/modules/cs_cons.c."""
import struct
import modhost

calls = {}
rets = {}
deepest = []
probe = int(modhost.param("probe", "0"), 0)
get_callers = modhost.import_fn("callstack_instr", "get_callers")

@modhost.ppp("callstack_instr", "on_call")
def on_call(cpu, func):
    global deepest
    calls[func] = calls.get(func, 0) + 1
    buf = bytearray(8 * 16)
    n = get_callers(buf, 16, cpu)
    if n > len(deepest):
        deepest = list(struct.unpack_from("<%dQ" % n, buf))
    if func == probe and calls[func] == 1:
        modhost.log("probe " + " ".join("%#x" % a for a in
                                        struct.unpack_from("<%dQ" % n, buf)))

@modhost.ppp("callstack_instr", "on_ret")
def on_ret(cpu, func):
    rets[func] = rets.get(func, 0) + 1

def exit():
    with open(modhost.param("out"), "w") as f:
        for a in sorted(set(calls) | set(rets)):
            f.write("%#x %d %d\n" % (a, calls.get(a, 0), rets.get(a, 0)))
    modhost.log("deepest %d" % len(deepest))
