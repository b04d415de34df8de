"""Raises in every call of its hypercall handler, and reads what it may not."""
import modhost

calls = 0

@modhost.hypercall(0x12345600)
def h(cpu):
    global calls
    calls += 1
    if calls == 1:
        try:
            cpu.read(0xc0000000, 16)
        except modhost.GuestFault as e:
            modhost.log("fault: %s" % e)
        modhost.log("reg rax=%#x magic=%#x" % (cpu.reg("rax"), cpu.magic))
    return 1 // 0

def exit():
    modhost.log("exit calls=%d" % calls)
