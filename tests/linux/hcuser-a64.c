// SPDX-License-Identifier: MIT
/*
 * hcuser-a64: hcuser.c's hypercalls from an aarch64 Linux user program,
 * for tests/linux/arm64.t.  There is no aarch64 libc to link with, so it
 * is freestanding: its own _start, and the few system calls it needs made
 * with svc.  It makes N hypercalls (default 1000) through
 * include/modhost/guest.h with tests/guest/hcall-pattern.h's arguments,
 * half in each form:
 *
 *  - the marked form (mh_hypercall6(), four unallocated hints): NOPs, at
 *    EL0 as anywhere;
 *  - PANDA's form (mh_hypercall_panda6(), "msr S0_0_c5_c0_0, xzr"): an
 *    undefined instruction outside PANDA, also at EL0, where the kernel
 *    turns it into SIGILL.  The host reads the registers first; the
 *    SIGILL handler below then steps over the instruction, as a PANDA
 *    guest must where PANDA is not there.
 *
 * It prints "hcuser: sent N, stepped over S" (S: the SIGILLs taken, one
 * per PANDA-form call) and exits 0, or says what went wrong and exits 1.
 *
 * Usage: hcuser-a64 [N]
 */
#include <stddef.h>
#include <stdint.h>

#include <modhost/guest.h>

#include "hcall-pattern.h"

#define MAGIC 0x12345600u

/* asm-generic/unistd.h's numbers, which aarch64 uses. */
#define NR_write	64
#define NR_exit_group	94
#define NR_rt_sigaction	134

#define SIGILL		4
#define SA_SIGINFO	4

/* PANDA's form as guest.h emits it (MH_HC_PANDA_INSN). */
#define PANDA_INSN	0xd500501fu

/*
 * The kernel's aarch64 struct sigaction (asm-generic/signal.h with
 * SA_RESTORER defined); without SA_RESTORER in sa_flags the kernel
 * returns through the vDSO's sigreturn trampoline.
 */
struct k_sigaction {
	void (*handler)(int, void *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/*
 * The start of the kernel's aarch64 struct ucontext: the 1024-bit signal
 * mask area glibc reserves, then struct sigcontext (16-byte aligned),
 * whose pc is what the handler moves on.
 */
struct k_ucontext {
	unsigned long flags;
	void *link;
	struct {
		void *sp;
		int flags;
		size_t size;
	} stack;
	uint8_t sigmask[1024 / 8];
	struct {
		uint64_t fault_address;
		uint64_t regs[31];
		uint64_t sp;
		uint64_t pc;
		uint64_t pstate;
	} mcontext __attribute__((aligned(16)));
};

static volatile unsigned long sigills;	/* PANDA-form calls stepped over */

static long sys4(long nr, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3)
			 : "memory", "cc");
	return x0;
}

static __attribute__((noinline)) void say(const char *s)
{
	sys4(NR_write, 1, (long)s, (long)mh_hc_strlen(s), 0);
}

static __attribute__((noinline)) void say_num(unsigned long v)
{
	char buf[24];
	int i = sizeof(buf);

	do
		buf[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	sys4(NR_write, 1, (long)(buf + i), sizeof(buf) - i, 0);
}

static __attribute__((noreturn)) void leave(int code)
{
	for (;;)
		sys4(NR_exit_group, code, 0, 0, 0);
}

/*
 * SIGILL: step over PANDA's instruction, and nothing else (any other
 * undefined instruction is a real fault: say so and leave).
 */
static void on_sigill(int sig, void *info, void *ctx)
{
	struct k_ucontext *uc = ctx;

	(void)sig;
	(void)info;
	if (*(const uint32_t *)uc->mcontext.pc != PANDA_INSN) {
		say("hcuser: SIGILL not at PANDA's instruction\n");
		leave(1);
	}
	sigills++;
	uc->mcontext.pc += 4;
}

static unsigned long parse_count(const char *s)
{
	unsigned long n = 0;

	if (!s || !*s)
		return 1000;
	for (; *s >= '0' && *s <= '9'; s++)
		n = n * 10 + (unsigned long)(*s - '0');
	return n;
}

/* Called by _start with the initial stack: argc, then argv[]. */
__attribute__((noreturn, used)) void hcuser_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	unsigned long n = parse_count(argc > 1 ? argv[1] : NULL);
	struct k_sigaction sa = { .handler = on_sigill, .flags = SA_SIGINFO };

	if (sys4(NR_rt_sigaction, SIGILL, (long)&sa, 0, sizeof(sa.mask))) {
		say("hcuser: rt_sigaction failed\n");
		leave(1);
	}
	for (unsigned long i = 0; i < n; i++) {
		mh_hc_word a[6];

		for (unsigned int k = 0; k < 6; k++)
			a[k] = hc_pattern(64, k, (uint32_t)i);
		if (i & 1)
			mh_hypercall6(MAGIC, a[0], a[1], a[2], a[3], a[4], a[5]);
		else
			mh_hypercall_panda6(MAGIC, a[0], a[1], a[2], a[3], a[4],
					    a[5]);
	}
	say("hcuser: sent ");
	say_num(n);
	say(", stepped over ");
	say_num(sigills);
	say("\n");
	leave(sigills == (n + 1) / 2 ? 0 : 1);
}

/* The kernel enters with sp at argc; the frame chain ends here. */
__asm__(".globl _start\n"
	".type _start, %function\n"
	"_start:\n\t"
	"mov x29, #0\n\t"
	"mov x30, #0\n\t"
	"mov x0, sp\n\t"
	"bl hcuser_main\n"
	".size _start, . - _start\n");
