/* SPDX-License-Identifier: MIT */
/*
 * modhost guest hypercalls: freestanding C for i386 and x86_64 guests.
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

#if !defined(__i386__) && !defined(__x86_64__)
#error "modhost/guest.h: hypercalls exist for i386 and x86_64 guests only"
#endif

/* A guest register: the width of the guest's mode. */
typedef unsigned long mh_hc_word;

#if defined(__x86_64__)

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

static inline mh_hc_word mh_hypercall_cpuid0(uint32_t magic)
{
	return mh_hypercall_cpuid6(magic, 0, 0, 0, 0, 0, 0);
}

static inline mh_hc_word mh_hypercall_cpuid2(uint32_t magic, mh_hc_word a1,
					     mh_hc_word a2)
{
	return mh_hypercall_cpuid6(magic, a1, a2, 0, 0, 0, 0);
}

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
