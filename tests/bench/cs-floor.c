// SPDX-License-Identifier: MIT
/*
 * cs_floor: the floor of callstack_instr's benchmark (tests/bench/run-all).
 * It instruments csrec.elf the way callstack_instr does, with callbacks
 * that return at once: a conditional callback (on a per-vCPU flag that
 * stays 0) on every block translated outside long mode, a memory callback
 * on the push of each near call and on the load of each near ret, and a
 * callback before each indirect call (where callstack_instr reads its
 * target).  What callstack_instr costs above this is its bookkeeping;
 * this much is the price of being told of every call and return at all
 * under QEMU 10.0's plugin API.
 *
 * Calls and rets are recognised by their bytes (e8 rel32, ff /2, c3, c2
 * imm16, with an optional f3 prefix), enough for the compiled code of the
 * benchmark's guest.  Logs "calls=N rets=M" at exit, so that the benchmark
 * can check that the callbacks ran.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>

#include <modhost/module.h>

static const struct mh_api *mh;
static mh_scoreboard *score;
static uint64_t calls, rets;
static mh_reg *efer;

static void on_block(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	(void)udata;
}

static void before_call(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	(void)udata;
}

static void on_call(unsigned int vcpu, uint32_t info, uint64_t slot, void *udata)
{
	(void)vcpu;
	(void)info;
	(void)slot;
	(void)udata;
	calls++;
}

static void on_ret(unsigned int vcpu, uint32_t info, uint64_t slot, void *udata)
{
	(void)vcpu;
	(void)info;
	(void)slot;
	(void)udata;
	rets++;
}

static void translate(mh_tb *tb, void *opaque)
{
	size_t n = mh->tb_n_insns(tb), len, i = 0;
	uint8_t b[16];
	mh_insn *last;
	uint64_t v = 0;
	bool indirect;

	(void)opaque;
	/* Long mode (EFER.LMA): callstack_instr puts no callback on blocks. */
	if (mh->reg_read(efer, &v, sizeof(v)) <= 0 || !(v & (1u << 10)))
		mh->tb_exec_cond_cb(tb, on_block, MH_CB_R_REGS, MH_COND_NE,
				    (mh_u64){ score, 0 }, 0, NULL);
	if (!n)
		return;
	last = mh->tb_insn(tb, n - 1);
	len = mh->insn_data(last, b, sizeof(b));
	if (len != mh->insn_size(last) || !len)
		return;
	if (b[0] == 0xf3 && len > 1)
		i = 1;
	/* A REX prefix (40-4f) before ff /2 in 64-bit code. */
	if (b[i] >= 0x40 && b[i] <= 0x4f && len - i > 1 && b[i + 1] == 0xff)
		i++;
	indirect = b[i] == 0xff && len - i >= 2 && ((b[i + 1] >> 3) & 7) == 2;
	if (indirect)
		mh->insn_exec_cb(last, before_call, MH_CB_R_REGS, NULL);
	if ((b[i] == 0xe8 && len - i == 5) || indirect)
		mh->insn_mem_cb(last, on_call, MH_CB_R_REGS, MH_MEM_W, NULL);
	else if ((b[i] == 0xc3 && len - i == 1) || (b[i] == 0xc2 && len - i == 3))
		mh->insn_mem_cb(last, on_ret, MH_CB_R_REGS, MH_MEM_R, NULL);
}

static int cs_floor_init(mh_module *self, const struct mh_api *api)
{
	mh = api;
	efer = api->reg_lookup("efer");
	score = api->scoreboard_new(self, sizeof(uint64_t));
	if (!score)
		return -ENOMEM;
	return api->set_translate(self, translate, NULL);
}

static void cs_floor_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO, "calls=%" PRIu64 " rets=%" PRIu64, calls, rets);
}

MH_MODULE("cs_floor", "1", "MIT",
	  "benchmark: callstack_instr's callbacks, returning at once",
	  .init = cs_floor_init, .exit = cs_floor_exit);
