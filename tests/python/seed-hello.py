# The Python example of PANDA's hypercaller README, with only `panda`
# renamed (and its missing ')' put back: see seed-verbatim.py).
import modhost

MAGIC = 0x12345678
@modhost.hypercall(MAGIC)
def hypercall(cpu):
    print("Hello from my hypercall!")
