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
 * enc=0 is the cpuid form, enc=1 the marked NOP.
 */
#include <modhost/guest.h>

#include "hcall-pattern.h"
#include "libguest.h"

#define WIDTH (unsigned int)(sizeof(long) * 8)

/* Mapped in neither guest: no RAM there, and the x86_64 guest maps 1 GiB. */
#define UNMAPPED ((const char *)0xc0000000ul)

static unsigned int enc;

#define COM2_LSR	(0x2f8 + 5)
#define UART_LSR_DR	0x01	/* a received byte is waiting */

static mh_hc_word call6(uint32_t magic, const mh_hc_word a[6])
{
	if (enc)
		return mh_hypercall6(magic, a[0], a[1], a[2], a[3], a[4], a[5]);
	return mh_hypercall_cpuid6(magic, a[0], a[1], a[2], a[3], a[4], a[5]);
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
	case 9:
		/* The test says when to stop: a byte on COM2, polled every
		 * 256 calls so the stream stays dense. */
		for (n = 0;; n++) {
			if (!(n & 0xff) && (inb(COM2_LSR) & UART_LSR_DR))
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
