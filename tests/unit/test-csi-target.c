// SPDX-License-Identifier: MIT
/*
 * Unit tests for callstack_instr's target check
 * (modules/callstack_instr/target.c): it follows x86 guests only, and must
 * refuse any other target rather than count nothing in silence.  The
 * register lists are those QEMU 10.0 gives plugins on each target.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "unit.h"

/* opaque: a NULL-terminated list of register names, or NULL (no vCPU). */
static int has_reg(const char *name, void *opaque)
{
	const char *const *regs = opaque;

	if (!regs)
		return -EAGAIN;
	for (; *regs; regs++)
		if (!strcmp(*regs, name))
			return 0;
	return -ENOENT;
}

static void test_x86(void)
{
	g_assert_cmpint(csi_target_check(has_reg, (void *)STRV("rax", "rsp",
		"rip", "cs", "cr3", "efer")), ==, CSI_TARGET_X86);
	/* qemu-system-i386 */
	g_assert_cmpint(csi_target_check(has_reg, (void *)STRV("eax", "esp",
		"eip", "cs", "cr3")), ==, CSI_TARGET_X86);
}

static void test_not_x86(void)
{
	/* qemu-system-aarch64 */
	g_assert_cmpint(csi_target_check(has_reg, (void *)STRV("x0", "x30",
		"sp", "pc", "cpsr")), ==, CSI_TARGET_A64);
	/* qemu-system-arm */
	g_assert_cmpint(csi_target_check(has_reg, (void *)STRV("r0", "sp",
		"lr", "pc", "cpsr")), ==, CSI_TARGET_ARM);
	/* a target whose registers plugins cannot see (mips on QEMU 10.0) */
	g_assert_cmpint(csi_target_check(has_reg, (void *)STRV(NULL)), ==,
			-ENOTSUP);
	/* a stack pointer alone is not enough: cr3 tells stacks apart */
	g_assert_cmpint(csi_target_check(has_reg, (void *)STRV("rsp")), ==,
			-ENOTSUP);
}

/*
 * aarch64 address spaces: the table TTBR0_EL1 points to, with the ASID of
 * the TTBR that TCR_EL1.A1 names.  Linux sets A1 and 8-bit ASIDs, and
 * gives a table freed by one process to a later one: only the ASID
 * (read on an arm64 Linux boot: 0x48175001 with ASIDs 6, 0xa and 0xe)
 * tells them apart.
 */
static void test_a64_asid(void)
{
	const uint64_t a1 = 1ull << 22, as16 = 1ull << 36;

	/* A1 = 1: TTBR1_EL1's ASID; TTBR0_EL1's CnP bit is no address. */
	g_assert_cmphex(csi_a64_asid(0x48175001, 0x000a000041234000ull, a1),
			==, 0x000a000048175000ull);
	g_assert_cmphex(csi_a64_asid(0x48175001, 0x000e000041234000ull, a1),
			!=, csi_a64_asid(0x48175001, 0x000a000041234000ull, a1));
	/* A1 = 0: TTBR0_EL1's own ASID field. */
	g_assert_cmphex(csi_a64_asid(0x0005000048175001ull,
				     0x000a000041234000ull, 0),
			==, 0x0005000048175000ull);
	/* 8-bit ASIDs ignore the field's upper byte; 16-bit ones keep it. */
	g_assert_cmphex(csi_a64_asid(0x48175000, 0x120a000041234000ull, a1),
			==, 0x000a000048175000ull);
	g_assert_cmphex(csi_a64_asid(0x48175000, 0x120a000041234000ull,
				     a1 | as16),
			==, 0x120a000048175000ull);
	/*
	 * Kernel threads run on the reserved table with the ASID of the
	 * process before them, as on x86 they keep its cr3.
	 */
	g_assert_cmphex(csi_a64_asid(0x4158e000, 0x0002000041234000ull, a1),
			!=, csi_a64_asid(0x4158e000, 0x0004000041234000ull, a1));
}

static void test_unknown(void)
{
	g_assert_cmpint(csi_target_check(has_reg, NULL), ==, -EAGAIN);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/csi-target/x86", test_x86);
	g_test_add_func("/csi-target/not-x86", test_not_x86);
	g_test_add_func("/csi-target/unknown", test_unknown);
	g_test_add_func("/csi-target/a64-asid", test_a64_asid);
	return g_test_run();
}
