"""Block, instruction and memory callbacks, watching tests/guest/callgraph.c's
cg_leaf (param leaf=ADDR: mov 4(%esp),%eax; lea; ret)."""
import modhost

leaf = int(modhost.param("leaf", "0"), 0)
blocks = insns = loads = stores = 0
regbad = 0
sizes = set()
reads = 0

@modhost.on_block_exec
def block(cpu, pc):
    global blocks, regbad
    if pc == leaf:
        blocks += 1
        if cpu.reg("rip") != pc:
            regbad += 1

@modhost.on_insn_exec
def insn(cpu, pc):
    global insns
    if leaf <= pc < leaf + 9:
        insns += 1

@modhost.on_mem_access
def mem(cpu, vaddr, size, is_store):
    global loads, stores, reads
    if not leaf <= cpu.pc < leaf + 9:
        return
    if is_store:
        stores += 1
    else:
        loads += 1
    sizes.add(size)
    reads += len(cpu.read(vaddr, size)) == size

def exit():
    modhost.log("blocks=%d insns=%d loads=%d stores=%d sizes=%s regbad=%d reads=%d" %
                (blocks, insns, loads, stores, sorted(sizes), regbad, reads))
