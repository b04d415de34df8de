import modhost

MAGIC = 0x12345678
@modhost.hypercall(MAGIC)
def hypercall(cpu):
    print("Hello from my hypercall!"

