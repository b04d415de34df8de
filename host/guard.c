// SPDX-License-Identifier: MIT
/*
 * Crash containment for module hooks.
 *
 * A module's init() that dereferences NULL must not take the guest down:
 * the failed load is an ordinary error.  Hooks run through mh_guard_call(),
 * which arms a per-thread jump buffer; the fault handler jumps back to it.
 * A fault anywhere else goes to whatever handler was installed before, or
 * kills the process as usual.
 *
 * Only synchronous faults raised by the hook's own thread are caught.
 * After a catch, the module may hold broken state: its instance is marked
 * tainted and never dlclose()d.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "internal.h"

static const int guarded_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };
static struct sigaction old_actions[G_N_ELEMENTS(guarded_signals)];
static __thread sigjmp_buf *guard_jmp;

static void fault_handler(int sig, siginfo_t *info, void *uctx)
{
	if (guard_jmp)
		siglongjmp(*guard_jmp, sig);

	for (unsigned int i = 0; i < G_N_ELEMENTS(guarded_signals); i++) {
		struct sigaction *old = &old_actions[i];

		if (guarded_signals[i] != sig)
			continue;
		if (old->sa_flags & SA_SIGINFO) {
			old->sa_sigaction(sig, info, uctx);
		} else if (old->sa_handler != SIG_DFL &&
			   old->sa_handler != SIG_IGN) {
			old->sa_handler(sig);
		} else {
			/* Returning re-runs the fault with the default action. */
			signal(sig, SIG_DFL);
		}
		return;
	}
}

void mh_guard_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (unsigned int i = 0; i < G_N_ELEMENTS(guarded_signals); i++)
		sigaction(guarded_signals[i], &sa, &old_actions[i]);
}

int mh_guard_call(mh_guarded_fn fn, void *arg, int *signo)
{
	sigjmp_buf jb;
	sigjmp_buf *volatile prev = guard_jmp;
	int sig;

	*signo = 0;
	sig = sigsetjmp(jb, 1);
	if (sig) {
		guard_jmp = prev;
		*signo = sig;
		return -EFAULT;
	}
	guard_jmp = &jb;
	int ret = fn(arg);
	guard_jmp = prev;
	return ret;
}
