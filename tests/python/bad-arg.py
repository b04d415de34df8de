import modhost

@modhost.hypercall("0x12345600")
def h(cpu):
    pass
