// SPDX-License-Identifier: MIT
/*
 * threads.c - stack_type=threaded: one shadow stack per guest thread, as
 * PANDA's threaded stacks.  Threads are told apart by OS introspection:
 * osi's on_task_change (modules/include/modhost/osi.h) tells which thread
 * each vCPU runs from the kernel's context switch on, so the call and
 * return paths need no guest read at all; the stack is looked up again
 * only after a switch.  Until a vCPU's first switch is seen its thread is
 * unknown (pid 0, tid 0), which is also why osi_linux belongs in load=
 * before the guest starts.
 */
#include <errno.h>

#include <modhost/osi.h>

#include "internal.h"

#define THREAD_KNOWN (1ull << 63)
/* Idle tasks all have pid and tid 0, one per CPU: told apart by vCPU. */
#define THREAD_IDLE 0x80000000u

static void on_task_change(mh_cpu *cpu, const OsiThread *prev,
			   const OsiThread *next)
{
	unsigned int vcpu = mh_cpu_index(cpu);
	struct vcpu *v = csi_vcpu_of(vcpu);
	uint32_t tid = next->tid ? (uint32_t)next->tid : THREAD_IDLE | vcpu;

	(void)prev;
	if (!v)
		return;
	csi_rets_settle(v, vcpu);
	v->thread = THREAD_KNOWN | (uint64_t)(uint32_t)next->pid << 32 | tid;
	/* stack_of() looks the stack up again, from the new thread. */
	v->asid_ok = 0;
}

struct csi_stack *csi_thread_stack(struct vcpu *v)
{
	return csi_stack_get((v->thread >> 32) & 0x7fffffffu, (uint32_t)v->thread);
}

int csi_threads_init(mh_module *self)
{
	int ret;

	/* Loads osi from dir if it is not live, like PANDA's panda_require(). */
	if (!csi_mh->import(self, OSI_MODULE, "get_current_thread",
			    OSI_GET_CURRENT_THREAD_SIG)) {
		csi_mh->log(self, MH_LOG_ERROR, "stack_type=threaded needs an "
			    "OS-introspection provider: osi and, for a Linux "
			    "guest, osi_linux (load=osi_linux:callstack_instr)");
		return -ENOENT;
	}
	ret = csi_mh->ppp_register(self, OSI_MODULE, "on_task_change",
				   OSI_ON_TASK_CHANGE_SIG,
				   (void (*)(void))on_task_change);
	if (ret)
		csi_mh->log(self, MH_LOG_ERROR, "stack_type=threaded: cannot "
			    "handle osi's on_task_change: %d", ret);
	return ret;
}
