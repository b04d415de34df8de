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
 *    handler jumps if leaving the hook there is safe, and otherwise
 *    returns: the watchdog asks again every TIMEOUT_RETRY_US.
 *
 * Leaving a hook by a jump abandons whatever its thread holds.  A fault or
 * a catcher comes from the module's own call, but the timeout's signal
 * lands anywhere: inside malloc() (its arena lock then stays held, and the
 * next allocation on that arena blocks forever), stdio, glib, the dynamic
 * loader's lazy binding, or the host.  So the handler jumps only when the
 * interrupted pc is in the module's own code and no word on the stack
 * between it and the guard points into any other code: no library frame
 * that could hold a lock (stdio calling back into the module, qsort, a
 * glib foreach, dl_iterate_phdr) lies between them.  The executable
 * segments of every loaded object are listed before the hook runs (the
 * handler only reads that list), and the stack the hook will use is
 * cleared first, so no stale return address on it is mistaken for a frame.
 * A hook that loops through libc calls comes back to its own code between
 * them and is ended there.  To find that moment at once rather than by
 * luck, on x86-64 a handler that finds the hook elsewhere sets the trap
 * flag in the interrupted context: the thread then single-steps (a
 * SIGTRAP after every instruction, up to STEP_BURST of them for each
 * signal of the watchdog) and the SIGTRAP handler jumps at the first safe
 * instruction.  Elsewhere the watchdog's signal, every TIMEOUT_RETRY_US, is
 * the only sample.  A hook that never comes back to its own code is
 * reported after a grace (TIMEOUT_GRACE), and left to run until the last
 * resort (TIMEOUT_LAST): then it is ended wherever it is, as a hook was
 * before this care, so that QEMU never waits forever (its shutdown waits
 * for the vCPU the hook holds); what it held stays held, which the error
 * says.
 *
 * The signals are unblocked only while a hook runs (QEMU's vCPU threads
 * start with every signal blocked).  Anything raised outside a frame goes
 * to the handler installed before ours, or kills the process as usual.
 * After a jump the module may hold broken state: the caller marks its
 * instance tainted and never dlclose()s it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

/* How often the watchdog asks a hook past its timeout again. */
#define TIMEOUT_RETRY_US (10 * 1000)
/* A hook not ended this long after its timeout is reported (times the timeout). */
#define TIMEOUT_GRACE 1
/* ... and ended wherever it is this long after its timeout (times the timeout). */
#define TIMEOUT_LAST 4
/* The stack a hook will use, cleared before it runs (bytes). */
#define SCRUB_BYTES (64 * 1024)
/* A stack deeper than this between the hook and its guard is not scanned. */
#define SCAN_MAX_BYTES (8u << 20)
/* Instructions single-stepped for each of the watchdog's signals. */
#define STEP_BURST 4096

#if defined(__x86_64__)
#define CAN_STEP 1
#define EFLAGS_TF 0x100UL
#else
#define CAN_STEP 0
#endif

/* Executable code of one loaded object: [lo, hi). */
struct code_range {
	uintptr_t lo, hi;
	bool own;			/* the hook's module's */
};

struct guard_frame {
	sigjmp_buf jb;
	struct guard_frame *prev;	/* the thread's enclosing hook, or NULL */
	struct mh_guard_fault fault;
	pthread_t thread;
	int64_t deadline;		/* monotonic us; 0: no bound */
	int64_t remaining;		/* while an inner hook runs */
	int expired;			/* set by the watchdog, atomically:
					 * 1 past the timeout, 2 past the
					 * last resort */
	int reported;			/* 1: to report, 2: reported; wd_lock */
	/* For the timeout handler, which only reads them: */
	GArray *code;			/* struct code_range, sorted by lo */
	uintptr_t stack_hi;		/* the guard's frame: scanned below */
	char module[64], hook[32];	/* for the report */
};

static const int guarded_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
				       SIGABRT };
static struct sigaction old_actions[G_N_ELEMENTS(guarded_signals)];
static struct sigaction old_trap;
/*
 * Read by the signal handlers: static TLS, so that reading it never goes
 * through __tls_get_addr(), which may allocate.
 */
static __thread struct guard_frame *guard_top
	__attribute__((tls_model("initial-exec")));
/* Instructions left to single-step in this thread's burst. */
static __thread unsigned int steps_left
	__attribute__((tls_model("initial-exec")));

static int64_t timeout_us;
static int timeout_sig;
/*
 * wd_lock guards wd_frames (the innermost frame of each thread in a hook)
 * and the frames' reported; wd_cond wakes the watchdog, report_cond the
 * reporter.
 */
static GMutex wd_lock;
static GCond wd_cond, report_cond;
static GPtrArray *wd_frames;
static mh_guard_stuck_fn report_stuck;

/* The linker's bounds of the MH_GUARD_ENTRY functions. */
extern const char __start_mh_guard_entry[] __attribute__((visibility("hidden")));
extern const char __stop_mh_guard_entry[] __attribute__((visibility("hidden")));

/*
 * Stop stepping this thread's own code, now.  The kernel may hand a
 * handler the trap flag of the context it interrupted (seen here): a
 * handler stepped itself would recurse, and a jump would carry the flag
 * out to code that runs with SIGTRAP blocked, where the trap kills QEMU.
 */
static inline void stepping_off_here(void)
{
#if CAN_STEP
	__asm__ volatile("pushfq\n\tandq %0, (%%rsp)\n\tpopfq"
			 : : "i"(~EFLAGS_TF) : "cc", "memory");
#endif
}

/* Leave the hook: back to mh_guard_call() with @f's fault filled in. */
static G_NORETURN void guard_jump(struct guard_frame *f)
{
	stepping_off_here();
	siglongjmp(f->jb, 1);
}

/* Not ours: @sig goes to the handler @old installed before, or its default. */
static void chain(const struct sigaction *old, int sig, siginfo_t *info,
		  void *uctx)
{
	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, info, uctx);
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
	} else {
		/*
		 * Returning re-runs a fault with the default action; SIGABRT
		 * is not re-raised by returning, and a breakpoint's SIGTRAP
		 * returns past the breakpoint.
		 */
		signal(sig, SIG_DFL);
		if (sig == SIGABRT || sig == SIGTRAP)
			raise(sig);
	}
}

static void fault_handler(int sig, siginfo_t *info, void *uctx)
{
	struct guard_frame *f = guard_top;

	if (f) {
		f->fault.kind = MH_GUARD_SIGNAL;
		f->fault.signo = sig;
		guard_jump(f);
	}
	for (unsigned int i = 0; i < G_N_ELEMENTS(guarded_signals); i++)
		if (guarded_signals[i] == sig)
			chain(&old_actions[i], sig, info, uctx);
}

/* -- where a hook may be left (signal handler: no calls, no allocation) -- */

enum code_kind { CODE_NONE, CODE_OWN, CODE_GUARD, CODE_OTHER };

static enum code_kind code_kind(const struct guard_frame *f, uintptr_t a)
{
	const struct code_range *r = (const struct code_range *)f->code->data;
	guint lo = 0, hi = f->code->len;

	if (a >= (uintptr_t)__start_mh_guard_entry &&
	    a < (uintptr_t)__stop_mh_guard_entry)
		return CODE_GUARD;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (a < r[mid].lo)
			hi = mid;
		else if (a >= r[mid].hi)
			lo = mid + 1;
		else
			return r[mid].own ? CODE_OWN : CODE_OTHER;
	}
	return CODE_NONE;
}

/*
 * May the hook of @f, interrupted at @uc, be left by a jump?  Only in its
 * module's own code, with nothing but its own and the guard's frames up to
 * the guard: every word of the stack is looked at, return address or not,
 * so a code pointer in a local says no too (it errs on the side of waiting).
 */
static bool leave_is_safe(const struct guard_frame *f, const ucontext_t *uc)
{
	uintptr_t pc, sp, lr = 0;

#if defined(__x86_64__)
	pc = uc->uc_mcontext.gregs[REG_RIP];
	sp = uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	pc = uc->uc_mcontext.pc;
	sp = uc->uc_mcontext.sp;
	lr = uc->uc_mcontext.regs[30];	/* a leaf's return address */
#else
	(void)uc;
	return false;
#endif
	if (code_kind(f, pc) != CODE_OWN || code_kind(f, lr) == CODE_OTHER)
		return false;
	if (sp > f->stack_hi || f->stack_hi - sp > SCAN_MAX_BYTES)
		return false;		/* another stack: not the guard's */
	for (uintptr_t p = sp & ~(uintptr_t)(sizeof(uintptr_t) - 1);
	     p < f->stack_hi; p += sizeof(uintptr_t))
		if (code_kind(f, *(const uintptr_t *)p) == CODE_OTHER)
			return false;
	return true;
}

/* Single-step the interrupted context from here on, or stop. */
static void set_stepping(void *uctx, bool on)
{
#if CAN_STEP
	ucontext_t *uc = uctx;

	if (on)
		uc->uc_mcontext.gregs[REG_EFL] |= EFLAGS_TF;
	else
		uc->uc_mcontext.gregs[REG_EFL] &= ~EFLAGS_TF;
#else
	(void)uctx;
	(void)on;
#endif
}

static void timeout_handler(int sig, siginfo_t *info, void *uctx)
{
	struct guard_frame *f = guard_top;
	int expired;
	bool safe;

	(void)sig;
	(void)info;
	stepping_off_here();
	/* A late signal for a hook that has returned is dropped. */
	if (!f || !(expired = __atomic_load_n(&f->expired, __ATOMIC_ACQUIRE)))
		return;
	/* Past the last resort (expired 2) it is left wherever it is. */
	safe = leave_is_safe(f, uctx);
	if (safe || expired > 1) {
		f->fault.kind = MH_GUARD_TIMEOUT;
		f->fault.unsafe = !safe;
		guard_jump(f);
	}
	/* Not here: step to a place where it is, or wait to be asked again. */
	steps_left = STEP_BURST;
	set_stepping(uctx, true);
}

/*
 * After each stepped instruction.  Any other SIGTRAP (a breakpoint) goes
 * where it went before.
 */
static void trap_handler(int sig, siginfo_t *info, void *uctx)
{
	struct guard_frame *f = guard_top;

	stepping_off_here();
	if (info->si_code != TRAP_TRACE) {
		chain(&old_trap, sig, info, uctx);
		return;
	}
	if (f && __atomic_load_n(&f->expired, __ATOMIC_ACQUIRE) &&
	    leave_is_safe(f, uctx)) {
		f->fault.kind = MH_GUARD_TIMEOUT;
		guard_jump(f);
	}
	if (!f || !__atomic_load_n(&f->expired, __ATOMIC_ACQUIRE) ||
	    !steps_left || !--steps_left)
		set_stepping(uctx, false);
}

struct code_walk {
	GArray *code;		/* struct code_range, filled */
	const GArray *own;	/* uintptr_t: load bases of the module's objects */
};

/* @info's object: its executable segments join w->code. */
static int add_object_code(struct dl_phdr_info *info, size_t size, void *p)
{
	struct code_walk *w = p;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		struct code_range r;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || !ph->p_memsz)
			continue;
		r.lo = info->dlpi_addr + ph->p_vaddr;
		r.hi = r.lo + ph->p_memsz;
		r.own = false;
		for (guint j = 0; j < w->own->len; j++)
			if (g_array_index(w->own, uintptr_t, j) == info->dlpi_addr)
				r.own = true;
		g_array_append_val(w->code, r);
	}
	return 0;
}

static gint range_cmp(gconstpointer a, gconstpointer b)
{
	const struct code_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/*
 * Every loaded object's code, @mod's marked own (its copy and, for a QEMU
 * plugin binary, the layer around it), for the timeout handler.
 */
static GArray *code_list(const struct mh_module *mod)
{
	g_autoptr(GArray) own = g_array_new(false, false, sizeof(uintptr_t));
	struct code_walk w = {
		.code = g_array_new(false, false, sizeof(struct code_range)),
		.own = own,
	};
	void *handles[] = { mod ? mod->handle : NULL, mod ? mod->layer : NULL };

	for (unsigned int i = 0; i < G_N_ELEMENTS(handles); i++) {
		struct link_map *lm;

		if (handles[i] && !dlinfo(handles[i], RTLD_DI_LINKMAP, &lm))
			g_array_append_val(own, lm->l_addr);
	}
	dl_iterate_phdr(add_object_code, &w);
	g_array_sort(w.code, range_cmp);
	return w.code;
}

/* -- the watchdog ----------------------------------------------------- */

/*
 * It never allocates nor logs: a hook it waits on may hold the allocator's
 * or the log's lock.  The reporter does that, on a thread of its own.
 */
static gpointer watchdog(gpointer unused)
{
	int64_t grace = timeout_us * TIMEOUT_GRACE, last = timeout_us * TIMEOUT_LAST;

	(void)unused;
	g_mutex_lock(&wd_lock);
	for (;;) {
		int64_t now = g_get_monotonic_time(), next = G_MAXINT64;

		for (guint i = 0; i < wd_frames->len; i++) {
			struct guard_frame *f = g_ptr_array_index(wd_frames, i);

			if (f->deadline > now) {
				next = MIN(next, f->deadline);
				continue;
			}
			__atomic_store_n(&f->expired, now >= f->deadline + last ? 2 : 1,
					 __ATOMIC_RELEASE);
			pthread_kill(f->thread, timeout_sig);
			next = MIN(next, now + TIMEOUT_RETRY_US);
			if (!f->reported && now >= f->deadline + grace) {
				f->reported = 1;
				g_cond_signal(&report_cond);
			}
		}
		if (next == G_MAXINT64)
			g_cond_wait(&wd_cond, &wd_lock);
		else
			g_cond_wait_until(&wd_cond, &wd_lock, next);
	}
	return NULL;
}

/* Says, once for each, which hooks the watchdog cannot end safely. */
static gpointer reporter(gpointer unused)
{
	(void)unused;
	for (;;) {
		char module[sizeof(((struct guard_frame *)0)->module)] = "";
		char hook[sizeof(((struct guard_frame *)0)->hook)];
		g_autofree char *line = NULL;

		g_mutex_lock(&wd_lock);
		while (!module[0]) {
			for (guint i = 0; i < wd_frames->len && !module[0]; i++) {
				struct guard_frame *f = g_ptr_array_index(wd_frames, i);

				if (f->reported == 1) {
					f->reported = 2;
					memcpy(module, f->module, sizeof(module));
					memcpy(hook, f->hook, sizeof(hook));
				}
			}
			if (!module[0])
				g_cond_wait(&report_cond, &wd_lock);
		}
		g_mutex_unlock(&wd_lock);
		/* If this blocks on a lock the hook holds, only this thread waits. */
		line = g_strdup_printf("%s did not return within %u s and cannot "
				       "be ended safely: for %u s more it never "
				       "ran its own code outside a call into a "
				       "library or the host; it is ended "
				       "wherever it is %u s after its timeout",
				       hook, mh_guard_timeout(),
				       (unsigned int)(timeout_us * TIMEOUT_GRACE /
						      G_USEC_PER_SEC),
				       (unsigned int)(timeout_us * TIMEOUT_LAST /
						      G_USEC_PER_SEC));
		report_stuck(module, line);
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

int mh_guard_init(unsigned int hook_timeout_s, mh_guard_stuck_fn stuck,
		  char **err)
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
	sa.sa_sigaction = timeout_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(timeout_sig, &sa, NULL);
	if (CAN_STEP) {
		sa.sa_sigaction = trap_handler;
		sigaction(SIGTRAP, &sa, &old_trap);
	}
	timeout_us = (int64_t)hook_timeout_s * G_USEC_PER_SEC;
	report_stuck = stuck;
	wd_frames = g_ptr_array_new();
	/* Never joined: they sleep on their conditions while no hook runs. */
	g_thread_unref(g_thread_new("modhost-watchdog", watchdog, NULL));
	g_thread_unref(g_thread_new("modhost-wdreport", reporter, NULL));
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
	/* Ahead of time: the array must not grow while a hook may be cut. */
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
		/* Expired already: the watchdog asks it again at once. */
		prev->deadline = g_get_monotonic_time() + prev->remaining;
		g_ptr_array_add(wd_frames, prev);
		g_cond_signal(&wd_cond);
	}
	g_mutex_unlock(&wd_lock);
}

static void guard_sigset(sigset_t *set, bool faults)
{
	sigemptyset(set);
	if (faults)
		for (unsigned int i = 0; i < G_N_ELEMENTS(guarded_signals); i++)
			sigaddset(set, guarded_signals[i]);
	/*
	 * Unblocked while a hook runs, as the faults: a trap from stepping
	 * that is blocked kills the process.  Stepping ends in frame_leave(),
	 * before the caller's mask (which blocks it) comes back.
	 */
	if (faults && CAN_STEP && timeout_sig)
		sigaddset(set, SIGTRAP);
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
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/* A hook that returned by itself while stepped. */
	stepping_off_here();
	if (timeout_us)
		watch_pop(f);
	g_clear_pointer(&f->code, g_array_unref);
}

#if !defined(__x86_64__)
/* Clear the stack below the caller: this frame goes when it returns. */
MH_GUARD_ENTRY static void scrub_below(void)
{
	volatile uintptr_t below[SCRUB_BYTES / sizeof(uintptr_t)];

	for (size_t i = 0; i < G_N_ELEMENTS(below); i++)
		below[i] = 0;
}
#endif

/*
 * Call @fn for @f on a cleared stack: the timeout handler reads every word
 * from the interrupted stack pointer up to f->stack_hi, and a return
 * address left there by an earlier call into a library would read as a
 * live frame.  No call between the clearing and @fn, which would leave its
 * own.  f->stack_hi is set below everything this frame holds (the
 * registers it saved may hold any code pointer of the callers).
 */
MH_GUARD_ENTRY static int scrub_and_call(struct guard_frame *f,
					 mh_guarded_fn fn, void *arg)
{
	int ret;

#if defined(__x86_64__)
	/*
	 * f->stack_hi is the stack pointer @fn is called with; the
	 * SCRUB_BYTES below it are cleared by one string store, with no
	 * frame of its own: a C array there would leave as they were the
	 * words the compiler puts around it (registers it saves, alignment,
	 * a sanitizer's redzones), and the hook's first frames lie exactly
	 * there.  (No red zone below the stack pointer to spare: this
	 * function calls.)  The callers' values in the callee-saved
	 * registers (a code pointer of QEMU's, say) would be saved in the
	 * hook's frames and read as frames: the hook starts with them
	 * cleared (this frame saves them, above f->stack_hi).
	 */
	__asm__ volatile("movq %%rsp, %[hi]\n\t"
			 "leaq %c[below](%%rsp), %%rdi\n\t"
			 "movl %[words], %%ecx\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "rep stosq\n\t"
			 "xorl %%ebx, %%ebx\n\txorl %%r12d, %%r12d\n\t"
			 "xorl %%r13d, %%r13d\n\txorl %%r14d, %%r14d\n\t"
			 "xorl %%r15d, %%r15d"
			 : [hi] "=m"(f->stack_hi)
			 : [below] "i"(-SCRUB_BYTES),
			   [words] "i"(SCRUB_BYTES / sizeof(uintptr_t))
			 : "rax", "rcx", "rdi", "rbx", "r12", "r13", "r14",
			   "r15", "cc", "memory");
#else
	/* aarch64: the frame record, with the saved registers above it. */
	f->stack_hi = (uintptr_t)__builtin_frame_address(0);
	scrub_below();
#endif
	ret = fn(arg);
	/* Not a sibling call: this frame, the guard's, stays under @fn's. */
	__asm__ volatile("" : : : "memory");
	return ret;
}

MH_GUARD_ENTRY int mh_guard_call(const struct mh_module *mod, const char *hook,
				 mh_guarded_fn fn, void *arg,
				 struct mh_guard_fault *fault)
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
	if (timeout_us) {
		f.code = code_list(mod);
		g_strlcpy(f.module, mod && mod->meta ? mod->meta->name : "?",
			  sizeof(f.module));
		g_strlcpy(f.hook, hook, sizeof(f.hook));
		watch_push(&f);
	}
	guard_top = &f;
	guard_sigset(&set, true);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	ret = scrub_and_call(&f, fn, arg);

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
		if (f->unsafe)
			return g_strdup_printf("%s did not return within %u s and "
					       "was ended inside a library or "
					       "the host %u s later: a lock it "
					       "held may stay held", hook,
					       mh_guard_timeout(),
					       mh_guard_timeout() * TIMEOUT_LAST);
		return g_strdup_printf("%s did not return within %u s", hook,
				       mh_guard_timeout());
	default:
		return NULL;
	}
}
