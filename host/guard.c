// SPDX-License-Identifier: MIT
/*
 * Containment of module hooks.
 *
 * A module's init() that dereferences NULL, calls abort() or exit(), or
 * never returns must not take the guest down: the failed hook is an
 * ordinary error.  Hooks run through mh_guard_call(), which pushes a
 * per-thread frame holding a jump buffer; every way out below jumps back
 * to the innermost frame of the thread the hook runs on:
 *
 *  - a synchronous fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE) or SIGABRT:
 *    the signal handler siglongjmp()s.  glibc's abort() drops its own lock
 *    before it raises SIGABRT and resets its stage, so leaving abort() by a
 *    jump is safe and a later abort() is caught again;
 *  - exit(), _exit(), _Exit(), quick_exit(), pthread_exit() called by the
 *    module's own code: the loader binds the module's GOT entries for them
 *    to the catchers here (mh_guard_catcher()), which jump;
 *  - a hook still running after the hook timeout: a watchdog thread sends
 *    the hook's thread a real-time signal no one else handles, whose
 *    handler jumps.
 *
 * The signals are unblocked only while a hook runs (QEMU's vCPU threads
 * start with every signal blocked).  Anything raised outside a frame goes
 * to the handler installed before ours, or kills the process as usual.
 * After a jump the module may hold broken state: the caller marks its
 * instance tainted and never dlclose()s it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct guard_frame {
	sigjmp_buf jb;
	struct guard_frame *prev;	/* the thread's enclosing hook, or NULL */
	struct mh_guard_fault fault;
	pthread_t thread;
	int64_t deadline;		/* monotonic us; 0: no bound */
	int64_t remaining;		/* while an inner hook runs */
	int expired;			/* set by the watchdog, atomically */
};

static const int guarded_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
				       SIGABRT };
static struct sigaction old_actions[G_N_ELEMENTS(guarded_signals)];
static __thread struct guard_frame *guard_top;

static int64_t timeout_us;
static int timeout_sig;
/* wd_lock guards wd_frames: the innermost frame of each thread in a hook. */
static GMutex wd_lock;
static GCond wd_cond;
static GPtrArray *wd_frames;

/* Leave the hook: back to mh_guard_call() with @f's fault filled in. */
static G_NORETURN void guard_jump(struct guard_frame *f)
{
	siglongjmp(f->jb, 1);
}

static void fault_handler(int sig, siginfo_t *info, void *uctx)
{
	struct guard_frame *f = guard_top;

	if (f) {
		f->fault.kind = MH_GUARD_SIGNAL;
		f->fault.signo = sig;
		guard_jump(f);
	}

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
			/*
			 * Returning re-runs a fault with the default action;
			 * SIGABRT is not re-raised by returning.
			 */
			signal(sig, SIG_DFL);
			if (sig == SIGABRT)
				raise(sig);
		}
		return;
	}
}

static void timeout_handler(int sig)
{
	struct guard_frame *f = guard_top;

	(void)sig;
	/* A late signal for a hook that has returned is dropped. */
	if (f && __atomic_load_n(&f->expired, __ATOMIC_ACQUIRE)) {
		f->fault.kind = MH_GUARD_TIMEOUT;
		guard_jump(f);
	}
}

static gpointer watchdog(gpointer unused)
{
	(void)unused;
	g_mutex_lock(&wd_lock);
	for (;;) {
		int64_t now = g_get_monotonic_time(), next = G_MAXINT64;

		for (guint i = 0; i < wd_frames->len; i++) {
			struct guard_frame *f = g_ptr_array_index(wd_frames, i);

			if (f->expired)
				continue;
			if (f->deadline <= now) {
				__atomic_store_n(&f->expired, 1, __ATOMIC_RELEASE);
				pthread_kill(f->thread, timeout_sig);
			} else {
				next = MIN(next, f->deadline);
			}
		}
		if (next == G_MAXINT64)
			g_cond_wait(&wd_cond, &wd_lock);
		else
			g_cond_wait_until(&wd_cond, &wd_lock, next);
	}
	return NULL;
}

/* A real-time signal nothing in the process handles yet, or 0. */
static int free_rt_signal(void)
{
	for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
		struct sigaction cur;

		if (!sigaction(sig, NULL, &cur) && cur.sa_handler == SIG_DFL &&
		    !(cur.sa_flags & SA_SIGINFO))
			return sig;
	}
	return 0;
}

int mh_guard_init(unsigned int hook_timeout_s, char **err)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (unsigned int i = 0; i < G_N_ELEMENTS(guarded_signals); i++)
		sigaction(guarded_signals[i], &sa, &old_actions[i]);

	if (!hook_timeout_s)
		return 0;
	timeout_sig = free_rt_signal();
	if (!timeout_sig) {
		*err = g_strdup("hook_timeout: no free real-time signal for the "
				"watchdog (hook_timeout=0 turns it off)");
		return -EBUSY;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = timeout_handler;
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(timeout_sig, &sa, NULL);
	timeout_us = (int64_t)hook_timeout_s * G_USEC_PER_SEC;
	wd_frames = g_ptr_array_new();
	/* Never joined: it sleeps on wd_cond while no hook runs. */
	g_thread_unref(g_thread_new("modhost-watchdog", watchdog, NULL));
	return 0;
}

unsigned int mh_guard_timeout(void)
{
	return timeout_us / G_USEC_PER_SEC;
}

/*
 * @f becomes its thread's innermost hook: the enclosing one's clock stops
 * until @f is done.
 */
static void watch_push(struct guard_frame *f)
{
	int64_t now = g_get_monotonic_time();

	g_mutex_lock(&wd_lock);
	if (f->prev) {
		g_ptr_array_remove_fast(wd_frames, f->prev);
		f->prev->remaining = f->prev->deadline - now;
	}
	f->deadline = now + timeout_us;
	g_ptr_array_add(wd_frames, f);
	g_cond_signal(&wd_cond);
	g_mutex_unlock(&wd_lock);
}

static void watch_pop(struct guard_frame *f)
{
	struct guard_frame *prev = f->prev;

	g_mutex_lock(&wd_lock);
	g_ptr_array_remove_fast(wd_frames, f);
	if (prev) {
		prev->deadline = g_get_monotonic_time() + prev->remaining;
		g_ptr_array_add(wd_frames, prev);
		g_cond_signal(&wd_cond);
	}
	g_mutex_unlock(&wd_lock);
	/* Its signal came while @f ran and was dropped: send it again. */
	if (prev && __atomic_load_n(&prev->expired, __ATOMIC_ACQUIRE))
		pthread_kill(pthread_self(), timeout_sig);
}

static void guard_sigset(sigset_t *set, bool faults)
{
	sigemptyset(set);
	if (faults)
		for (unsigned int i = 0; i < G_N_ELEMENTS(guarded_signals); i++)
			sigaddset(set, guarded_signals[i]);
	if (timeout_sig)
		sigaddset(set, timeout_sig);
}

/* Leave @f's frame; the timeout signal stays blocked meanwhile. */
static void frame_leave(struct guard_frame *f)
{
	sigset_t set;

	guard_sigset(&set, false);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	guard_top = f->prev;
	if (timeout_us)
		watch_pop(f);
}

int mh_guard_call(mh_guarded_fn fn, void *arg, struct mh_guard_fault *fault)
{
	struct guard_frame f = { .prev = guard_top, .thread = pthread_self() };
	sigset_t caller_mask, set;
	int ret;

	/* What the caller had blocked, restored on either way out. */
	pthread_sigmask(SIG_SETMASK, NULL, &caller_mask);
	if (sigsetjmp(f.jb, 1)) {
		frame_leave(&f);
		pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);
		*fault = f.fault;
		switch (fault->kind) {
		case MH_GUARD_EXIT:
			return -ECANCELED;
		case MH_GUARD_TIMEOUT:
			return -ETIMEDOUT;
		default:
			return -EFAULT;
		}
	}
	guard_sigset(&set, false);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (timeout_us)
		watch_push(&f);
	guard_top = &f;
	guard_sigset(&set, true);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	ret = fn(arg);

	frame_leave(&f);
	pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);
	memset(fault, 0, sizeof(*fault));
	return ret;
}

/*
 * The catchers a module's calls to exit() and friends are bound to.  In a
 * hook they leave it; anywhere else (a vCPU callback at run time, a thread
 * of the module's) they do what the module asked for.
 */
static void caught(const char *fn, int status)
{
	struct guard_frame *f = guard_top;

	if (!f)
		return;
	f->fault.kind = MH_GUARD_EXIT;
	f->fault.fn = fn;
	f->fault.status = status;
	guard_jump(f);
}

static void catch_exit(int status)
{
	caught("exit", status);
	exit(status);
}

static void catch__exit(int status)
{
	caught("_exit", status);
	_exit(status);
}

static void catch_Exit(int status)
{
	caught("_Exit", status);
	_Exit(status);
}

static void catch_quick_exit(int status)
{
	caught("quick_exit", status);
	quick_exit(status);
}

static void catch_pthread_exit(void *retval)
{
	caught("pthread_exit", 0);
	pthread_exit(retval);
}

static const struct {
	const char *name;
	void *fn;
} catchers[] = {
	{ "exit", catch_exit },
	{ "_exit", catch__exit },
	{ "_Exit", catch_Exit },
	{ "quick_exit", catch_quick_exit },
	{ "pthread_exit", catch_pthread_exit },
};

void *mh_guard_catcher(const char *name)
{
	for (unsigned int i = 0; i < G_N_ELEMENTS(catchers); i++)
		if (!strcmp(catchers[i].name, name))
			return catchers[i].fn;
	return NULL;
}

char *mh_guard_describe(const char *hook, const struct mh_guard_fault *f)
{
	switch (f->kind) {
	case MH_GUARD_SIGNAL:
		if (f->signo == SIGABRT)
			return g_strdup_printf("%s called abort()", hook);
		return g_strdup_printf("%s crashed (%s)", hook,
				       g_strsignal(f->signo));
	case MH_GUARD_EXIT:
		if (!strcmp(f->fn, "pthread_exit"))
			return g_strdup_printf("%s called pthread_exit()", hook);
		return g_strdup_printf("%s called %s(%d)", hook, f->fn,
				       f->status);
	case MH_GUARD_TIMEOUT:
		return g_strdup_printf("%s did not return within %u s", hook,
				       mh_guard_timeout());
	default:
		return NULL;
	}
}
