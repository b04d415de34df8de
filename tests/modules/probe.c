// SPDX-License-Identifier: MIT
/*
 * probe - exercises the host API table against a real guest:
 * register reads by name (rip must equal the instruction's address),
 * memory callbacks (stores seen as stores), guest memory reads (the
 * multiboot header at 1 MiB), conditional callbacks on a scoreboard fed
 * by inline adds; module_of() on its own code and data (in init, in a
 * vCPU callback, in exit), on the host's, libc's, the heap's and NULL.
 * exit() logs one summary line the test parses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>

#define MB_HEADER_ADDR 0x100000
#define KERNEL_END 0x1000000	/* the test guests live in [1, 16) MiB */
#define EVERY 1000

static const struct mh_api *mh;
static mh_module *me;
static mh_reg *rip, *missing;
static mh_scoreboard *score;	/* per vCPU: instructions since last fire */
static uint64_t rip_ok, rip_bad, stores, loads_as_stores, fires;
static uint32_t magic;
static int missing_ret = 1;
/* What module_of() said: in init, then from the first vCPU callback. */
static char of_init[160], of_vcpu[32];

/* "NAME" or "-" (NULL) for @addr, appended to @out. */
static void name_of(char *out, size_t len, const void *addr)
{
	const char *n = mh->module_of(addr);

	strncat(out, n ? n : "-", len - strlen(out) - 1);
}

static mh_u64 since(void)
{
	return (mh_u64){ score, 0 };
}

static void on_first_insn(unsigned int vcpu_index, void *udata)
{
	uint64_t pc = 0;

	(void)vcpu_index;
	/*
	 * rip is the offset in CS; the block's address is linear.  They are
	 * equal in the guest kernel's flat segments, not in the BIOS (nor at
	 * the reset vector, CS base 0xffff0000).
	 */
	if ((uintptr_t)udata >= MB_HEADER_ADDR && (uintptr_t)udata < KERNEL_END) {
		if (mh->reg_read(rip, &pc, sizeof(pc)) == 8 &&
		    pc == (uintptr_t)udata)
			rip_ok++;
		else if (!rip_bad++)
			mh->log(me, MH_LOG_WARN, "first mismatch: rip 0x%" PRIx64
				" block 0x%" PRIxPTR, pc, (uintptr_t)udata);
	}
	if (!magic)
		mh->mem_read(MB_HEADER_ADDR, &magic, sizeof(magic));
	if (!of_vcpu[0])
		name_of(of_vcpu, sizeof(of_vcpu), (const void *)on_first_insn);
	if (missing_ret == 1) {
		uint64_t v;

		missing_ret = mh->reg_read(missing, &v, sizeof(v));
	}
}

static void on_store(unsigned int vcpu_index, uint32_t info, uint64_t vaddr,
		     void *udata)
{
	(void)vcpu_index;
	(void)vaddr;
	(void)udata;
	if (mh->mem_is_store(info))
		stores++;
	else
		loads_as_stores++;
}

static void on_every(unsigned int vcpu_index, void *udata)
{
	(void)udata;
	fires++;
	mh->u64_set(since(), vcpu_index, 0);
}

static void translate(mh_tb *tb, void *opaque)
{
	size_t n = mh->tb_n_insns(tb);

	(void)opaque;
	mh->insn_exec_cb(mh->tb_insn(tb, 0), on_first_insn, MH_CB_R_REGS,
			 (void *)(uintptr_t)mh->insn_vaddr(mh->tb_insn(tb, 0)));
	for (size_t i = 0; i < n; i++) {
		mh_insn *insn = mh->tb_insn(tb, i);

		mh->insn_mem_cb(insn, on_store, MH_CB_NO_REGS, MH_MEM_W, NULL);
		mh->insn_exec_inline(insn, MH_INLINE_ADD_U64, since(), 1);
	}
	mh->tb_exec_cond_cb(tb, on_every, MH_CB_NO_REGS, MH_COND_GE, since(),
			    EVERY, NULL);
}

static int probe_init(mh_module *self, const struct mh_api *api)
{
	/* Own code, own data, the host's code, libc's, the heap, NULL. */
	const void *addrs[] = { (const void *)probe_init, &rip_ok,
				(const void *)api->log, (const void *)abort,
				NULL, NULL };
	void *heap = malloc(64);

	mh = api;
	me = self;
	addrs[4] = heap;
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		if (i)
			strcat(of_init, ",");
		name_of(of_init, sizeof(of_init), addrs[i]);
	}
	free(heap);
	rip = api->reg_lookup("rip");
	missing = api->reg_lookup("no_such_register");
	score = api->scoreboard_new(self, sizeof(uint64_t));
	if (!rip || !missing || !score)
		return -ENOMEM;
	return api->set_translate(self, translate, NULL);
}

static void probe_exit(mh_module *self)
{
	char of_exit[32] = "";

	name_of(of_exit, sizeof(of_exit), (const void *)probe_exit);
	mh->log(self, MH_LOG_INFO,
		"rip_ok=%" PRIu64 " rip_bad=%" PRIu64 " stores=%" PRIu64
		" loads_as_stores=%" PRIu64 " fires=%" PRIu64
		" magic=0x%08" PRIx32 " missing_reg=%d"
		" of_init=%s of_vcpu=%s of_exit=%s",
		rip_ok, rip_bad, stores, loads_as_stores, fires, magic,
		missing_ret, of_init, of_vcpu, of_exit);
}

MH_MODULE("probe", "1", "MIT", "test module: exercises the API table",
	  .init = probe_init,
	  .exit = probe_exit);
