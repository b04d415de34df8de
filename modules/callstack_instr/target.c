// SPDX-License-Identifier: MIT
/*
 * Which guests callstack_instr can follow.  It decodes x86 code only
 * (capstone's x86 handles) and reads x86 registers, so on another target
 * it would count nothing and say calls=0 at exit as if the guest had made
 * no call.  The plugin API tells a module nothing about the target but
 * the names of its registers, and only once a vCPU exists.
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
	if (sp || has_reg("cr3", opaque))
		return -ENOTSUP;
	return 0;
}
