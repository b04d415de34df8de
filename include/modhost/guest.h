/* SPDX-License-Identifier: MIT */
/*
 * modhost guest hypercalls: freestanding C for i386, x86_64, aarch64 and
 * arm (ARM and Thumb) guests.
 *
 * Include this in guest code (a kernel, a boot stub, a static user
 * program): it needs no libc, only <stdint.h>, which every freestanding
 * compiler has.  Documentation/hypercall-abi.rst is the reference.
 *
 * A hypercall puts a 32-bit magic in eax/rax and up to six arguments in
 * Xen's registers (x86_64: rdi rsi rdx r10 r8 r9; i386: ebx ecx edx esi edi
 * ebp), then runs one of two instructions the host recognises:
 *
 *  - the marked NOP (default, mh_hypercall*()): "nopl MARK(%rax,%rax,1)",
 *    bytes 0f 1f 84 00 4d 48 43 4c.  A NOP on TCG, KVM and real hardware:
 *    it changes no register and no flag, so code runs the same with or
 *    without modhost.
 *  - cpuid (mh_hypercall_cpuid*()): what PANDA's hypercaller and its guest
 *    library use.  cpuid still runs afterwards and overwrites eax, ebx,
 *    ecx and edx with the leaf's values.
 *
 * On aarch64 and arm the magic is in x8 / r7 and the arguments in x0..x5 /
 * r0..r5 (Xen's Arm order); the two forms are the marked hints (default)
 * and PANDA's instruction (mh_hypercall_panda*()), see below.
 *
 * The host reads the registers before the instruction runs.  Hypercalls
 * are one-way on QEMU 10.0: the NOP form then returns @magic unchanged.
 * Where QEMU lets plugins write registers (10.1 and later), the NOP form
 * returns the handler's result.
 */
#ifndef MODHOST_GUEST_H
#define MODHOST_GUEST_H

#include <stdint.h>

/* The magics and the NOP form's bytes, shared with the host. */
#include <modhost/hypercall.h>

#if !defined(__i386__) && !defined(__x86_64__) && !defined(__aarch64__) && \
	!defined(__arm__)
#error "modhost/guest.h: hypercalls exist for i386, x86_64, aarch64 and arm guests only"
#endif

/* A guest register: the width of the guest's mode. */
typedef unsigned long mh_hc_word;

#if defined(__aarch64__) || defined(__arm__)

/*
 * The marked form on Arm: four HINT instructions whose immediates are the
 * bytes of MH_HC_NOP_MARK in memory order, 'M' 'H' 'C' 'L'.  Hints the
 * architecture does not allocate execute as NOPs (on TCG, KVM and
 * hardware): no register, flag or memory changes.  The host matches the
 * four exact encodings, in the state (A64, A32, T32) the code runs in,
 * and reads the registers before the last one.
 */
#define MH_HC_MARK_BYTE(i)	((MH_HC_NOP_MARK >> (8 * (i))) & 0xff)
#if defined(__aarch64__)
#define MH_HC_HINT_INSN(i)	".inst 0xd503201f | (%c[b" #i "] << 5)\n\t"
#elif defined(__thumb__)
#define MH_HC_HINT_INSN(i)	".inst.w 0xf3af8000 | %c[b" #i "]\n\t"
#else
#define MH_HC_HINT_INSN(i)	".inst 0xe320f000 | %c[b" #i "]\n\t"
#endif
#define MH_HC_MARKED_INSNS						\
	MH_HC_HINT_INSN(0) MH_HC_HINT_INSN(1) MH_HC_HINT_INSN(2)	\
	MH_HC_HINT_INSN(3)
#define MH_HC_MARK_OPERANDS						\
	[b0] "i"(MH_HC_MARK_BYTE(0)), [b1] "i"(MH_HC_MARK_BYTE(1)),	\
	[b2] "i"(MH_HC_MARK_BYTE(2)), [b3] "i"(MH_HC_MARK_BYTE(3))

/*
 * PANDA's instruction: aarch64 "msr S0_0_c5_c0_0, xzr"; arm a coprocessor
 * 7 write, "mcr p7, 0, r0, c0, c0, 0" (ARM or Thumb).  Undefined anywhere
 * but PANDA: after the host has read the registers the guest takes an
 * undefined-instruction exception, which it must step over (PANDA guests
 * run unchanged only where they handle it).
 */
#if defined(__aarch64__)
#define MH_HC_PANDA_INSN	".inst 0xd500501f\n\t"
#else
#define MH_HC_PANDA_INSN	"mcr p7, 0, r0, c0, c0, 0\n\t"
#endif

#if defined(__aarch64__)
/* The magic in x8, the arguments in x0..x5. */
#define MH_HC_ARM_CALL(insn, extra...)					\
	register mh_hc_word x8 __asm__("x8") = magic;			\
	register mh_hc_word x0 __asm__("x0") = a1;			\
	register mh_hc_word x1 __asm__("x1") = a2;			\
	register mh_hc_word x2 __asm__("x2") = a3;			\
	register mh_hc_word x3 __asm__("x3") = a4;			\
	register mh_hc_word x4 __asm__("x4") = a5;			\
	register mh_hc_word x5 __asm__("x5") = a6;			\
									\
	__asm__ volatile(insn						\
			 : "+r"(x8)					\
			 : "r"(x0), "r"(x1), "r"(x2), "r"(x3), "r"(x4),	\
			   "r"(x5) extra					\
			 : "memory");					\
	return x8
#else
/*
 * The magic in r7, the arguments in r0..r5.  r7 is Thumb's frame pointer,
 * so it cannot be an operand: the magic travels in r6 and the asm moves
 * it to r7 around the instruction, saving r7 on the stack.
 */
#define MH_HC_ARM_CALL(insn, extra...)					\
	register mh_hc_word r6 __asm__("r6") = magic;			\
	register mh_hc_word r0 __asm__("r0") = a1;			\
	register mh_hc_word r1 __asm__("r1") = a2;			\
	register mh_hc_word r2 __asm__("r2") = a3;			\
	register mh_hc_word r3 __asm__("r3") = a4;			\
	register mh_hc_word r4 __asm__("r4") = a5;			\
	register mh_hc_word r5 __asm__("r5") = a6;			\
									\
	__asm__ volatile("push {r7}\n\t"				\
			 "mov r7, r6\n\t"				\
			 insn						\
			 "mov r6, r7\n\t"				\
			 "pop {r7}"					\
			 : "+r"(r6)					\
			 : "r"(r0), "r"(r1), "r"(r2), "r"(r3), "r"(r4),	\
			   "r"(r5) extra					\
			 : "memory");					\
	return r6
#endif

/**
 * mh_hypercall6() - a hypercall in the no-clobber (marked hints) form
 * @magic: the route's magic (x8 / r7)
 * @a1: first argument (x0 / r0) ... @a6: sixth argument (x5 / r5)
 *
 * Return: the handler's result where the host can write registers, else
 * @magic.
 */
static inline mh_hc_word mh_hypercall6(uint32_t magic, mh_hc_word a1,
				       mh_hc_word a2, mh_hc_word a3,
				       mh_hc_word a4, mh_hc_word a5,
				       mh_hc_word a6)
{
	MH_HC_ARM_CALL(MH_HC_MARKED_INSNS, , MH_HC_MARK_OPERANDS);
}

/**
 * mh_hypercall_panda6() - a hypercall in PANDA's form
 * @magic: the route's magic (x8 / r7, where PANDA's hypercaller reads it)
 * @a1: first argument (x0 / r0) ... @a6: sixth argument (x5 / r5)
 *
 * The guest must step over the undefined-instruction exception that
 * follows (see MH_HC_PANDA_INSN).
 *
 * Return: what the magic's register holds afterwards.
 */
static inline mh_hc_word mh_hypercall_panda6(uint32_t magic, mh_hc_word a1,
					     mh_hc_word a2, mh_hc_word a3,
					     mh_hc_word a4, mh_hc_word a5,
					     mh_hc_word a6)
{
	MH_HC_ARM_CALL(MH_HC_PANDA_INSN);
}

#elif defined(__x86_64__)

/**
 * mh_hypercall6() - a hypercall in the no-clobber (marked NOP) form
 * @magic: the route's magic
 * @a1: first argument (rdi) ... @a6: sixth argument (r9)
 *
 * Return: the handler's result where the host can write registers, else
 * @magic.
 */
static inline mh_hc_word mh_hypercall6(uint32_t magic, mh_hc_word a1,
				       mh_hc_word a2, mh_hc_word a3,
				       mh_hc_word a4, mh_hc_word a5,
				       mh_hc_word a6)
{
	mh_hc_word ret = magic;
	register mh_hc_word r10 __asm__("r10") = a4;
	register mh_hc_word r8 __asm__("r8") = a5;
	register mh_hc_word r9 __asm__("r9") = a6;

	/* "memory": the host may read what the arguments point to. */
	__asm__ volatile(MH_HC_NOP_INSN
			 : "+a"(ret)
			 : "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "memory");
	return ret;
}

/**
 * mh_hypercall_cpuid6() - a hypercall in the cpuid form (PANDA compatible)
 * @magic: the route's magic
 * @a1: first argument (rdi) ... @a6: sixth argument (r9)
 *
 * Return: what cpuid leaves in eax (it runs after the host has read the
 * arguments); rbx, rcx and rdx are overwritten too.
 */
static inline mh_hc_word mh_hypercall_cpuid6(uint32_t magic, mh_hc_word a1,
					     mh_hc_word a2, mh_hc_word a3,
					     mh_hc_word a4, mh_hc_word a5,
					     mh_hc_word a6)
{
	mh_hc_word ret = magic, b, c, d = a3;
	register mh_hc_word r10 __asm__("r10") = a4;
	register mh_hc_word r8 __asm__("r8") = a5;
	register mh_hc_word r9 __asm__("r9") = a6;

	__asm__ volatile("cpuid"
			 : "+a"(ret), "=b"(b), "=c"(c), "+d"(d)
			 : "D"(a1), "S"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "memory");
	(void)b;
	(void)c;
	return ret;
}

#else /* __i386__ */

/*
 * ebp cannot be an asm operand (it is the frame pointer), so the sixth
 * argument and the magic travel through a two-word block whose address is
 * in eax; the asm loads ebp and eax from it around the instruction.
 */
#define MH_HC_I386_BODY(insn)						\
	"pushl %%ebp\n\t"						\
	"movl 4(%%eax), %%ebp\n\t"					\
	"movl (%%eax), %%eax\n\t"					\
	insn "\n\t"							\
	"popl %%ebp"

static inline mh_hc_word mh_hypercall6(uint32_t magic, mh_hc_word a1,
				       mh_hc_word a2, mh_hc_word a3,
				       mh_hc_word a4, mh_hc_word a5,
				       mh_hc_word a6)
{
	mh_hc_word blk[2] = { magic, a6 };
	mh_hc_word ret = (mh_hc_word)blk;

	__asm__ volatile(MH_HC_I386_BODY(MH_HC_NOP_INSN)
			 : "+a"(ret)
			 : "b"(a1), "c"(a2), "d"(a3), "S"(a4), "D"(a5),
			   "m"(blk)
			 : "memory");
	return ret;
}

static inline mh_hc_word mh_hypercall_cpuid6(uint32_t magic, mh_hc_word a1,
					     mh_hc_word a2, mh_hc_word a3,
					     mh_hc_word a4, mh_hc_word a5,
					     mh_hc_word a6)
{
	mh_hc_word blk[2] = { magic, a6 };
	mh_hc_word ret = (mh_hc_word)blk, b = a1, c = a2, d = a3;

	__asm__ volatile(MH_HC_I386_BODY("cpuid")
			 : "+a"(ret), "+b"(b), "+c"(c), "+d"(d)
			 : "S"(a4), "D"(a5), "m"(blk)
			 : "memory");
	return ret;
}

#endif

#if defined(__i386__) || defined(__x86_64__)
/* PANDA's form on x86 is the cpuid form. */
static inline mh_hc_word mh_hypercall_panda6(uint32_t magic, mh_hc_word a1,
					     mh_hc_word a2, mh_hc_word a3,
					     mh_hc_word a4, mh_hc_word a5,
					     mh_hc_word a6)
{
	return mh_hypercall_cpuid6(magic, a1, a2, a3, a4, a5, a6);
}
#endif

/* Fewer arguments: the rest are zero. */
static inline mh_hc_word mh_hypercall0(uint32_t magic)
{
	return mh_hypercall6(magic, 0, 0, 0, 0, 0, 0);
}

static inline mh_hc_word mh_hypercall1(uint32_t magic, mh_hc_word a1)
{
	return mh_hypercall6(magic, a1, 0, 0, 0, 0, 0);
}

static inline mh_hc_word mh_hypercall2(uint32_t magic, mh_hc_word a1,
				       mh_hc_word a2)
{
	return mh_hypercall6(magic, a1, a2, 0, 0, 0, 0);
}

static inline mh_hc_word mh_hypercall3(uint32_t magic, mh_hc_word a1,
				       mh_hc_word a2, mh_hc_word a3)
{
	return mh_hypercall6(magic, a1, a2, a3, 0, 0, 0);
}

static inline mh_hc_word mh_hypercall4(uint32_t magic, mh_hc_word a1,
				       mh_hc_word a2, mh_hc_word a3,
				       mh_hc_word a4)
{
	return mh_hypercall6(magic, a1, a2, a3, a4, 0, 0);
}

static inline mh_hc_word mh_hypercall5(uint32_t magic, mh_hc_word a1,
				       mh_hc_word a2, mh_hc_word a3,
				       mh_hc_word a4, mh_hc_word a5)
{
	return mh_hypercall6(magic, a1, a2, a3, a4, a5, 0);
}

#if defined(__i386__) || defined(__x86_64__)
static inline mh_hc_word mh_hypercall_cpuid0(uint32_t magic)
{
	return mh_hypercall_cpuid6(magic, 0, 0, 0, 0, 0, 0);
}

static inline mh_hc_word mh_hypercall_cpuid2(uint32_t magic, mh_hc_word a1,
					     mh_hc_word a2)
{
	return mh_hypercall_cpuid6(magic, a1, a2, 0, 0, 0, 0);
}
#endif

static inline unsigned long mh_hc_strlen(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

/**
 * mh_guest_load() - ask the host to load module @name from its dir
 * @name: a bare module name, [A-Za-z0-9_-]{1,64}
 *
 * Needs guest_control=on.  Asynchronous: the host applies it at its next
 * quiesce; the event log says what happened (load, reject, guest_denied).
 * The string must be mapped (touch it first if it may be paged out).
 */
static inline void mh_guest_load(const char *name)
{
	mh_hypercall2(MH_HC_LOAD, (mh_hc_word)name, mh_hc_strlen(name));
}

/* Like mh_guest_load(), for an unload. */
static inline void mh_guest_unload(const char *name)
{
	mh_hypercall2(MH_HC_UNLOAD, (mh_hc_word)name, mh_hc_strlen(name));
}

/* Like mh_guest_load(), for a reload from the file in dir. */
static inline void mh_guest_reload(const char *name)
{
	mh_hypercall2(MH_HC_RELOAD, (mh_hc_word)name, mh_hc_strlen(name));
}

#endif /* MODHOST_GUEST_H */
