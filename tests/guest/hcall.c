/*
 * hcall: issues hypercalls for tests/integration/hypercall*.t, built both
 * as an i386 multiboot guest (hcall.elf) and as an x86_64 long-mode guest
 * (lm64-hcall.elf) from this one source, through include/modhost/guest.h.
 *
 * Command line (numbers, decimal or 0x hex):
 *   mode=1 n=N magic=M enc=E  N calls with hc_pattern() arguments, exit 0
 *   mode=2 n=N magic=M enc=E  N calls without arguments (unknown magic), exit 0
 *   mode=3 magic=M enc=E      calls with arguments forever ("tick K" lines)
 *   mode=4                    guest control: load, reload, unload "hcrec",
 *                             then every refused request; "hcall: done"
 *   mode=5 magic=M enc=E      a string route: ("hello", 42, &x), then an
 *                             unmapped string; then the same at M+1 and
 *                             M+2; "hcall: done"
 *   mode=6 magic=M enc=E      a string route, forever: ("tick", K, &x),
 *                             a few thousand blocks apart
 *   mode=7                    guest control with names that are not text:
 *                             bytes that are not UTF-8, control characters,
 *                             quotes, a NUL; "hcall: done"
 *   mode=8                    guest control, forever: good and bad requests
 *                             as fast as the vCPU goes ("tick K" lines)
 *   mode=9 magic=M enc=E      calls with arguments until a byte arrives on
 *                             COM2, then "hcall: sent N", exit 0: the count
 *                             tests/soak/soak.sh compares with the module's
 *   mode=10 magic=M           Arm: near misses of the marked form with the
 *                             magic in place (hints missing, out of order,
 *                             split, the mark in a constant, the other
 *                             state's encoding), then two real calls
 *                             (seq 0, and seq 1 split by a page boundary);
 *                             "hcall: done"
 * enc=0 is PANDA's form (cpuid on x86), enc=1 the marked form (NOP, hints).
 */
#include <modhost/guest.h>

#include "hcall-pattern.h"
#include "libguest.h"

#define WIDTH (unsigned int)(sizeof(long) * 8)

/* Mapped in neither guest: no RAM there, and the x86_64 guest maps 1 GiB. */
#define UNMAPPED ((const char *)0xc0000000ul)

static unsigned int enc;

static mh_hc_word call6(uint32_t magic, const mh_hc_word a[6])
{
	if (enc)
		return mh_hypercall6(magic, a[0], a[1], a[2], a[3], a[4], a[5]);
	return mh_hypercall_panda6(magic, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void call_seq(uint32_t magic, uint32_t seq)
{
	mh_hc_word a[6];

	for (unsigned int k = 0; k < 6; k++)
		a[k] = (mh_hc_word)hc_pattern(WIDTH, k, seq);
	call6(magic, a);
}

/* Keep the vCPU running blocks, so the host's doorbell is answered. */
static __attribute__((noreturn)) void spin(void)
{
	volatile unsigned int x = 0;

	for (;;)
		x++;
}

static void control(uint32_t magic, const char *name, mh_hc_word len)
{
	mh_hc_word a[6] = { (mh_hc_word)name, len, 0, 0, 0, 0 };

	call6(magic, a);
}

static void guest_control(void)
{
	static const char longname[] =
		"a123456789b123456789c123456789d123456789e123456789f123456789g1234";

	/* What a well-behaved guest does, one request after the other. */
	mh_guest_load("hcrec");
	mh_guest_reload("hcrec");
	mh_guest_unload("hcrec");
	/* A module that is not in dir: the host tries, and says why not. */
	mh_guest_load("nosuch");
	/* Refused before anything is opened. */
	control(MH_HC_LOAD, "../hcrec", 8);
	control(MH_HC_LOAD, "sub/hcrec", 9);
	control(MH_HC_LOAD, longname, sizeof(longname) - 1);
	control(MH_HC_LOAD, "hcrec", 0);
	control(MH_HC_RELOAD, UNMAPPED, 5);
	control(MH_HC_UNLOAD, "hc rec", 6);
	serial_puts("hcall: done\n");
}

/* Names a log must carry as valid JSON (tests/integration/guest-log.t). */
static void odd_names(void)
{
	static const char bytes[] = "f\x83\xe6?f\x81\xce\x80";
	static const char ctrl[] = "q\"b\\s\x01\x7f\n\x1b";
	static const char nul[] = "hc\0rec";

	control(MH_HC_LOAD, bytes, sizeof(bytes) - 1);
	control(MH_HC_UNLOAD, ctrl, sizeof(ctrl) - 1);
	control(MH_HC_RELOAD, nul, sizeof(nul) - 1);
	serial_puts("hcall: done\n");
}

/* A guest flooding guest control (tests/integration/guest-log.t). */
static __attribute__((noreturn)) void flood(void)
{
	static const char bad[] = "\xff\xfe";

	for (unsigned int i = 0, k = 0;; i++) {
		mh_guest_load("hcrec");
		mh_guest_unload("hcrec");
		mh_guest_load("nosuch");
		control(MH_HC_RELOAD, bad, sizeof(bad) - 1);
		if ((i & 0xfff) == 0xfff) {
			serial_puts("tick ");
			put_dec(++k);
			serial_putc('\n');
		}
	}
}

#if defined(__aarch64__) || defined(__arm__)
/*
 * Run @insns with the magic in the magic's register and call @seq's
 * arguments in theirs, as a hypercall would: if the host took any of the
 * near misses for a hypercall, hcrec would see a call out of sequence.
 * On arm the magic goes through r6 to r7 (guest.h says why).
 */
#define ARGS(seq)							\
	mh_hc_word a[6];						\
									\
	for (unsigned int k = 0; k < 6; k++)				\
		a[k] = (mh_hc_word)hc_pattern(WIDTH, k, seq)
#if defined(__aarch64__)
#define WITH_MAGIC(insns)						\
	do {								\
		register mh_hc_word x8 __asm__("x8") = magic;		\
		register mh_hc_word x0 __asm__("x0") = a[0];		\
		register mh_hc_word x1 __asm__("x1") = a[1];		\
		register mh_hc_word x2 __asm__("x2") = a[2];		\
		register mh_hc_word x3 __asm__("x3") = a[3];		\
		register mh_hc_word x4 __asm__("x4") = a[4];		\
		register mh_hc_word x5 __asm__("x5") = a[5];		\
									\
		__asm__ volatile(insns : "+r"(x8) : "r"(x0), "r"(x1),	\
				 "r"(x2), "r"(x3), "r"(x4), "r"(x5),	\
				 MH_HC_MARK_OPERANDS : "memory", "cc");	\
	} while (0)
#define HINT(b)		"hint %c[" #b "]\n\t"
#define NOP_RUN		".rept 1022\n\tnop\n\t.endr\n\t"	/* 4088 bytes */
#else
#define WITH_MAGIC(insns)						\
	do {								\
		register mh_hc_word r6 __asm__("r6") = magic;		\
		register mh_hc_word r0 __asm__("r0") = a[0];		\
		register mh_hc_word r1 __asm__("r1") = a[1];		\
		register mh_hc_word r2 __asm__("r2") = a[2];		\
		register mh_hc_word r3 __asm__("r3") = a[3];		\
		register mh_hc_word r4 __asm__("r4") = a[4];		\
		register mh_hc_word r5 __asm__("r5") = a[5];		\
									\
		__asm__ volatile("push {r7}\n\tmov r7, r6\n\t" insns	\
				 "pop {r7}" : "+r"(r6) : "r"(r0), "r"(r1),	\
				 "r"(r2), "r"(r3), "r"(r4), "r"(r5),	\
				 MH_HC_MARK_OPERANDS : "memory", "cc");	\
	} while (0)
#if defined(__thumb__)
#define HINT(b)		".inst.w 0xf3af8000 | %c[" #b "]\n\t"
#define NOP_RUN		".rept 2044\n\tnop\n\t.endr\n\t"	/* 16-bit nops */
#else
#define HINT(b)		".inst 0xe320f000 | %c[" #b "]\n\t"
#define NOP_RUN		".rept 1022\n\tnop\n\t.endr\n\t"
#endif
#endif

static __attribute__((noinline)) void near_misses(uint32_t magic)
{
	ARGS(1000);

	/* 'H' 'C' 'L' without 'M'; 'M' 'H' 'L'; reversed; one in between. */
	WITH_MAGIC(HINT(b1) HINT(b2) HINT(b3));
	WITH_MAGIC(HINT(b0) HINT(b1) HINT(b3));
	WITH_MAGIC(HINT(b3) HINT(b2) HINT(b1) HINT(b0));
	WITH_MAGIC(HINT(b0) HINT(b1) "nop\n\t" HINT(b2) HINT(b3));
	/* The mark as a constant, in immediates and in a literal. */
#if defined(__aarch64__)
	WITH_MAGIC("movz x9, #0x484d\n\tmovk x9, #0x4c43, lsl #16\n\t"
		   "ldr w9, =0x4c43484d\n\t" "b 1f\n\t.ltorg\n1:\n\t");
#else
	WITH_MAGIC("movw r12, #0x484d\n\tmovt r12, #0x4c43\n\t"
		   "ldr r12, =0x4c43484d\n\t" "b 1f\n\t.ltorg\n1:\n\t");
#endif
#if defined(__arm__) && !defined(__thumb__)
	/*
	 * The Thumb form's bytes in ARM state: "subhi pc, sp, ..." words,
	 * not run (cmp leaves HI false); they must not count either.
	 */
	WITH_MAGIC("cmp r0, r0\n\t.inst 0x804df3af\n\t.inst 0x8048f3af\n\t"
		   ".inst 0x8043f3af\n\t.inst 0x804cf3af\n\t");
#endif
}

/* The real thing, split by a page boundary: two blocks. */
static __attribute__((noinline)) void split_call(uint32_t magic)
{
	ARGS(1);

	WITH_MAGIC(".balign 4096\n\t" NOP_RUN HINT(b0) HINT(b1) HINT(b2)
		   HINT(b3));
}
#endif

unsigned kmain(unsigned magic_mb, struct mb_info *info)
{
	unsigned int mode, n, magic;
	static unsigned int x = 7;

	(void)magic_mb;
	serial_init();
	mode = cmdline_uint(info, "mode", 1);
	n = cmdline_uint(info, "n", 1000);
	magic = cmdline_uint(info, "magic", 0x12345600);
	enc = cmdline_uint(info, "enc", 1);
	serial_puts("hcall: start\n");

	switch (mode) {
	case 1:
		for (unsigned int i = 0; i < n; i++)
			call_seq(magic, i);
		break;
	case 2:
		for (unsigned int i = 0; i < n; i++) {
			mh_hc_word a[6] = { 0 };

			call6(magic, a);
		}
		break;
	case 3:
		for (unsigned int i = 0, k = 0;; i++) {
			call_seq(magic, i);
			if ((i & 0x3fff) == 0x3fff) {
				serial_puts("tick ");
				put_dec(++k);
				serial_putc('\n');
			}
		}
	case 4:
		guest_control();
		spin();
	case 5: {
		mh_hc_word a[6] = { (mh_hc_word)"hello, host", 42,
				    (mh_hc_word)&x, 0, 0, 0 };

		call6(magic, a);
		a[0] = (mh_hc_word)UNMAPPED;
		a[1] = 43;
		call6(magic, a);
		call6(magic + 1, a);
		call6(magic + 2, a);
		serial_puts("hcall: done\n");
		spin();
	}
	case 7:
		odd_names();
		spin();
	case 8:
		flood();
	case 6:
		for (mh_hc_word k = 0;; k++) {
			mh_hc_word a[6] = { (mh_hc_word)"tick", k,
					    (mh_hc_word)&x, 0, 0, 0 };
			volatile unsigned int d = 0;

			call6(magic, a);
			while (d < 20000)
				d++;
		}
#if defined(__aarch64__) || defined(__arm__)
	case 10:
		near_misses(magic);
		call_seq(magic, 0);
		split_call(magic);
		serial_puts("hcall: done\n");
		spin();
#endif
	case 9:
		/* The test says when to stop: a byte on COM2, polled every
		 * 256 calls so the stream stays dense. */
		for (n = 0;; n++) {
			if (!(n & 0xff) && guest_stop_requested())
				break;
			call_seq(magic, n);
		}
		break;
	}
	serial_puts("hcall: sent ");
	put_dec(n);
	serial_putc('\n');
	return 0;
}
