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
	return g_test_run();
}
