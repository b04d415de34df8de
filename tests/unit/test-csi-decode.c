// SPDX-License-Identifier: MIT
/*
 * Unit tests for callstack_instr's classification of a block's last
 * instruction (modules/callstack_instr/decode.c).  Above 4 GiB, 64-bit
 * code, the usual endings (relative jumps, near call rel32, near ret) are
 * told by their opcode without capstone; each must come out exactly as
 * capstone classifies the same bytes, which the same block below 4 GiB
 * (64-bit mode first, no registers to read) still goes through.
 */
#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "unit.h"

/* callstack_instr.c's. */
const struct mh_api *csi_mh;
mh_module *csi_self;

/* A block of one instruction, as the host hands it over. */
struct fake_insn {
	uint64_t vaddr;
	size_t size;
	uint8_t bytes[16];
};

static size_t tb_n_insns(const mh_tb *tb)
{
	(void)tb;
	return 1;
}

static uint64_t tb_vaddr(const mh_tb *tb)
{
	return ((const struct fake_insn *)tb)->vaddr;
}

static mh_insn *tb_insn(const mh_tb *tb, size_t idx)
{
	g_assert_cmpuint(idx, ==, 0);
	return (mh_insn *)tb;
}

static uint64_t insn_vaddr(const mh_insn *insn)
{
	return ((const struct fake_insn *)insn)->vaddr;
}

static size_t insn_size(const mh_insn *insn)
{
	return ((const struct fake_insn *)insn)->size;
}

static size_t insn_data(const mh_insn *insn, void *dest, size_t len)
{
	const struct fake_insn *i = (const struct fake_insn *)insn;
	size_t n = MIN(len, i->size);

	memcpy(dest, i->bytes, n);
	return n;
}

/* No register can be read at translation here: mode_start decides. */
static mh_reg *reg_lookup(const char *name)
{
	(void)name;
	return NULL;
}

static int reg_read(const mh_reg *reg, void *buf, size_t len)
{
	(void)reg;
	(void)buf;
	(void)len;
	return -1;
}

static int mem_read(uint64_t vaddr, void *buf, size_t len)
{
	(void)vaddr;
	(void)buf;
	(void)len;
	return -1;
}

static const struct mh_api fake_api = {
	.tb_n_insns = tb_n_insns,
	.tb_vaddr = tb_vaddr,
	.tb_insn = tb_insn,
	.insn_vaddr = insn_vaddr,
	.insn_size = insn_size,
	.insn_data = insn_data,
	.reg_lookup = reg_lookup,
	.reg_read = reg_read,
	.mem_read = mem_read,
};

#define KERNEL 0xffffffff81000000ull
#define LOW 0x401000ull

static bool classify_at(uint64_t vaddr, const uint8_t *bytes, size_t size,
			struct csi_insn_class *c)
{
	struct fake_insn i = { .vaddr = vaddr, .size = size };

	memcpy(i.bytes, bytes, size);
	memset(c, 0xa5, sizeof(*c));
	return csi_classify((const mh_tb *)&i, c);
}

/*
 * @bytes, one instruction, classified in the kernel's half (without
 * capstone where it can) and low (capstone) the same way, addresses aside.
 */
static struct csi_insn_class same_both_ways(const uint8_t *bytes, size_t size)
{
	struct csi_insn_class hi, lo;

	g_assert_true(classify_at(KERNEL, bytes, size, &hi));
	g_assert_true(classify_at(LOW, bytes, size, &lo));
	g_assert_cmpint(hi.kind, ==, lo.kind);
	g_assert_cmpuint(hi.mode, ==, 64);
	g_assert_cmpuint(lo.mode, ==, 64);
	g_assert_cmpuint(hi.push, ==, lo.push);
	g_assert_cmpuint(hi.imm, ==, lo.imm);
	g_assert_cmpint(hi.asid_change, ==, lo.asid_change);
	g_assert_cmpint(hi.far, ==, lo.far);
	g_assert_cmpuint(hi.next, ==, KERNEL + size);
	g_assert_cmpuint(lo.next, ==, LOW + size);
	if (lo.target)
		g_assert_cmpuint(hi.target - KERNEL, ==, lo.target - LOW);
	else
		g_assert_cmpuint(hi.target, ==, 0);
	g_assert_cmpint(hi.op.kind, ==, lo.op.kind);
	g_assert_true(hi.lm);
	return hi;
}

static void setup(void)
{
	csi_mh = &fake_api;
	g_assert_cmpint(csi_decode_init(), ==, 0);
	/* 64-bit first below 4 GiB too, as a 64-bit kernel's threads are. */
	csi_decode_set_mode(64);
}

static void test_calls(void)
{
	static const int32_t rels[] = { 0, 5, -5, 0x1234, -0x1234,
					INT32_MAX, INT32_MIN, -1 };
	struct csi_insn_class c;

	setup();
	for (size_t i = 0; i < G_N_ELEMENTS(rels); i++) {
		uint32_t r = (uint32_t)rels[i];
		uint8_t call[5] = { 0xe8, r, r >> 8, r >> 16, r >> 24 };

		c = same_both_ways(call, sizeof(call));
		g_assert_cmpint(c.kind, ==, CSI_CALL);
		g_assert_cmpuint(c.push, ==, 8);
		g_assert_cmpuint(c.target, ==,
				 KERNEL + 5 + (uint64_t)(int64_t)rels[i]);
	}
	csi_decode_exit();
}

static void test_rets(void)
{
	static const uint8_t ret[] = { 0xc3 };
	static const uint8_t ret_imm[][3] = {
		{ 0xc2, 0x08, 0x00 }, { 0xc2, 0x00, 0x00 },
		{ 0xc2, 0x34, 0x12 }, { 0xc2, 0xff, 0xff },
	};
	struct csi_insn_class c;

	setup();
	c = same_both_ways(ret, sizeof(ret));
	g_assert_cmpint(c.kind, ==, CSI_RET);
	g_assert_cmpuint(c.push, ==, 8);
	g_assert_cmpuint(c.imm, ==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(ret_imm); i++) {
		c = same_both_ways(ret_imm[i], sizeof(ret_imm[i]));
		g_assert_cmpint(c.kind, ==, CSI_RET);
		g_assert_cmpuint(c.imm, ==, ret_imm[i][1] | ret_imm[i][2] << 8);
	}
	csi_decode_exit();
}

static void test_jumps(void)
{
	static const uint8_t jumps[][6] = {
		{ 0xeb, 0xfe }, { 0x74, 0x10 }, { 0x7f, 0x80 },
		{ 0xe9, 0x00, 0x01, 0x00, 0x00 },
		{ 0x0f, 0x84, 0xf0, 0xff, 0xff, 0xff },
		{ 0x0f, 0x8f, 0x00, 0x00, 0x00, 0x80 },
	};
	static const size_t sizes[] = { 2, 2, 2, 5, 6, 6 };

	setup();
	for (size_t i = 0; i < G_N_ELEMENTS(jumps); i++)
		g_assert_cmpint(same_both_ways(jumps[i], sizes[i]).kind, ==,
				CSI_OTHER);
	csi_decode_exit();
}

/* What the opcode alone does not settle goes to capstone, and still fits. */
static void test_others(void)
{
	static const struct {
		uint8_t bytes[8];
		size_t size;
		enum csi_kind kind;
	} cases[] = {
		{ { 0xff, 0xd0 }, 2, CSI_CALL },		/* call *%rax */
		{ { 0xff, 0x15, 0, 0, 0, 0 }, 6, CSI_CALL },	/* call *0(%rip) */
		{ { 0x41, 0xff, 0xd3 }, 3, CSI_CALL },		/* call *%r11 */
		{ { 0xf3, 0xc3 }, 2, CSI_RET },			/* rep ret */
		{ { 0x48, 0xcb }, 2, CSI_RET },			/* lretq */
		{ { 0x0f, 0x22, 0xd8 }, 3, CSI_OTHER },		/* mov %rax,%cr3 */
		{ { 0x48, 0xcf }, 2, CSI_OTHER },		/* iretq */
		{ { 0x90 }, 1, CSI_OTHER },			/* nop */
	};

	setup();
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpint(same_both_ways(cases[i].bytes,
					       cases[i].size).kind, ==,
				cases[i].kind);
	csi_decode_exit();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/csi-decode/calls", test_calls);
	g_test_add_func("/csi-decode/rets", test_rets);
	g_test_add_func("/csi-decode/jumps", test_jumps);
	g_test_add_func("/csi-decode/others", test_others);
	return g_test_run();
}
