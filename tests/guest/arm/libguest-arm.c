/*
 * libguest for the Arm test guests (-M virt, aarch64 or arm): the PL011
 * UART for output, semihosting (QEMU's -semihosting) for the command line
 * and the exit status, and the exception handler crt0 calls.
 *
 * Built in ARM state for the arm guests (semihosting's "hlt #0xf000" is
 * the A32 form); guest programs may be Thumb and call in by interworking.
 */
#include <stdint.h>

#include <modhost/hypercall.h>

#include "../libguest.h"

#define PL011_BASE	0x09000000ul	/* virt's UART0 */
#define PL011_DR	0x00
#define PL011_FR	0x18
#define PL011_FR_TXFF	(1u << 5)	/* transmit FIFO full */

/* Semihosting operations (Arm's "Semihosting for AArch32 and AArch64"). */
#define SYS_GET_CMDLINE		0x15
#define SYS_EXIT		0x18
#define SYS_EXIT_EXTENDED	0x20
#define ADP_STOPPED_APP_EXIT	0x20026

static inline volatile uint32_t *pl011(unsigned long off)
{
	return (volatile uint32_t *)(PL011_BASE + off);
}

/* QEMU's PL011 needs no set-up. */
void serial_init(void)
{
}

void serial_putc(char c)
{
	while (*pl011(PL011_FR) & PL011_FR_TXFF)
		;
	*pl011(PL011_DR) = (unsigned char)c;
}

static long semihost(unsigned long op, void *arg)
{
#if defined(__aarch64__)
	register unsigned long x0 __asm__("x0") = op;
	register void *x1 __asm__("x1") = arg;

	__asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
	return (long)x0;
#else
	register unsigned long r0 __asm__("r0") = op;
	register void *r1 __asm__("r1") = arg;

	/* hlt #0xf000 (A32), an Armv8 encoding QEMU takes on v7 too */
	__asm__ volatile(".inst 0xe10f0070" : "+r"(r0) : "r"(r1) : "memory");
	return (long)r0;
#endif
}

/*
 * QEMU ends with status @code (semihosting's extended exit, on both
 * widths).  Without -semihosting the hlt is undefined: the guest stops in
 * its trap handler.
 */
void guest_exit(unsigned code)
{
	unsigned long block[2] = { ADP_STOPPED_APP_EXIT, code };

#if defined(__aarch64__)
	semihost(SYS_EXIT, block);
#else
	semihost(SYS_EXIT_EXTENDED, block);
#endif
	for (;;)
		__asm__ volatile("wfi");
}

int guest_stop_requested(void)
{
	return 0;
}

/*
 * The command line as QEMU's semihosting gives it: the -kernel file name,
 * then the -append string (what the x86 guests get from multiboot).
 */
static char cmdline[1024];

void arm_main(void);
void arm_main(void)
{
	static struct mb_info info;
	unsigned long block[2] = { (unsigned long)cmdline, sizeof(cmdline) - 1 };

	if (semihost(SYS_GET_CMDLINE, block) == 0) {
		info.flags = MB_INFO_CMDLINE;
		info.cmdline = (unsigned)(unsigned long)cmdline;
	}
	guest_exit(kmain(0, &info));
}

/* The PANDA-form hypercall instructions (Documentation/hypercall-abi.rst). */
#define A64_PANDA	0xd500501fu	/* msr S0_0_c5_c0_0, xzr */
#define A32_CP7_MASK	0xff000f10u	/* mcr/mrc p7, cond AL */
#define A32_CP7		0xee000710u

/* Is the undefined instruction at @pc a PANDA-form hypercall? */
static int panda_form(unsigned long pc, unsigned long status)
{
#if defined(__aarch64__)
	(void)status;
	return *(const uint32_t *)pc == A64_PANDA;
#else
	if (status & 0x20) {	/* Thumb: two halfwords, first one high */
		const uint16_t *h = (const uint16_t *)pc;

		return (((uint32_t)h[0] << 16 | h[1]) & A32_CP7_MASK) == A32_CP7;
	}
	return (*(const uint32_t *)pc & A32_CP7_MASK) == A32_CP7;
#endif
}

/*
 * crt0's exception handler: @kind (aarch64: the vector's index; arm: 1
 * undefined, 2 svc, 3 prefetch abort, 4 data abort), @status (ESR_EL1 or
 * SPSR), @pc (ELR_EL1, or the instruction that was undefined).  Returns
 * where to resume: after a PANDA-form hypercall, which is undefined
 * anywhere but PANDA.  Anything else ends the guest with status 0x7f.
 */
unsigned long arm_trap(unsigned long kind, unsigned long status,
		       unsigned long pc);
/*
 * A guest program's handler of svc (callgraph.c's: callstack_instr's
 * exception in the middle of a call chain); without one, svc ends the
 * guest like any other exception.
 */
void arm_svc(void) __attribute__((weak));

unsigned long arm_trap(unsigned long kind, unsigned long status,
		       unsigned long pc)
{
#if defined(__aarch64__)
	int undef = kind == 4 && (status >> 26) == 0;	/* EC 0: unknown */
	int svc = kind == 4 && (status >> 26) == 0x15;	/* EC 0x15: SVC64 */
#else
	int undef = kind == 1;
	int svc = kind == 2;
#endif

	if (undef && panda_form(pc, status))
		return pc + 4;
	/* @pc is already the instruction after the svc. */
	if (svc && arm_svc) {
		arm_svc();
		return pc;
	}
	serial_puts("guest: exception ");
	put_dec(kind);
	serial_puts(" status ");
	put_hex(status);
	serial_puts(" at ");
	put_hex(pc);
	serial_putc('\n');
	guest_exit(0x7f);
}
