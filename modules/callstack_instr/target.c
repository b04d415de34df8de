// SPDX-License-Identifier: MIT
/*
 * Which guests callstack_instr can follow, and how.  It decodes x86 code
 * (capstone's x86 handles) and Arm code (A64, ARM and Thumb), and reads
 * each target's registers; on any other target it would count nothing
 * and say calls=0 at exit as if the guest had made no call.  The plugin
 * API tells a module nothing about the target but the names of its
 * registers, and only once a vCPU exists.
 */
#include <errno.h>

#include "internal.h"

int csi_target_check(int (*has_reg)(const char *name, void *opaque),
		     void *opaque)
{
	int sp = has_reg("rsp", opaque);

	if (sp == -EAGAIN)
		return -EAGAIN;
	/* qemu-system-i386 names it esp (see read_named()). */
	if (sp)
		sp = has_reg("esp", opaque);
	if (!sp && !has_reg("cr3", opaque))
		return CSI_TARGET_X86;
	/* QEMU's aarch64 core registers: x0..x30, sp, pc, cpsr. */
	if (!has_reg("x30", opaque) && !has_reg("sp", opaque) &&
	    !has_reg("cpsr", opaque))
		return CSI_TARGET_A64;
	/* Its arm core registers: r0..r12, sp, lr, pc, cpsr. */
	if (!has_reg("lr", opaque) && !has_reg("sp", opaque) &&
	    !has_reg("cpsr", opaque))
		return CSI_TARGET_ARM;
	return -ENOTSUP;
}

uint64_t csi_a64_asid(uint64_t ttbr0, uint64_t ttbr1, uint64_t tcr)
{
	/* TCR_EL1.A1 (bit 22): which TTBR holds the ASID; AS (bit 36): 16 bits. */
	uint64_t asid = ((tcr >> 22) & 1 ? ttbr1 : ttbr0) >> 48;

	if (!((tcr >> 36) & 1))
		asid &= 0xff;
	/* BADDR, bits 47:1; bit 0 is CnP, a hint, not the table. */
	return (ttbr0 & 0x0000fffffffffffeull) | asid << 48;
}
