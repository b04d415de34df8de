/*
 * libguest: tiny freestanding helpers for the test guests.
 */
#include "libguest.h"

#if defined(__i386__) || defined(__x86_64__)

#define COM1		0x3f8
#define UART_THR	0	/* transmit holding register (DLAB = 0) */
#define UART_DLL	0	/* divisor latch, low byte (DLAB = 1) */
#define UART_IER	1	/* interrupt enable (DLAB = 0) */
#define UART_DLM	1	/* divisor latch, high byte (DLAB = 1) */
#define UART_FCR	2	/* FIFO control */
#define UART_LCR	3	/* line control */
#define UART_MCR	4	/* modem control */
#define UART_LSR	5	/* line status */
#define UART_LCR_8N1	0x03
#define UART_LCR_DLAB	0x80
#define UART_LSR_THRE	0x20	/* transmitter can take another byte */

#define DEBUG_EXIT_PORT	0xf4

/* 115200 baud, 8N1, FIFOs on, no interrupts: we only ever poll. */
void serial_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, UART_LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, UART_LCR_8N1);
	outb(COM1 + UART_FCR, 0x07);	/* enable and clear both FIFOs */
	outb(COM1 + UART_MCR, 0x03);	/* DTR + RTS */
}

void serial_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
		;
	outb(COM1 + UART_THR, c);
}

/*
 * Writing to isa-debug-exit makes QEMU exit with status (code << 1) | 1.
 * If the device is missing (e.g. someone boots us by hand), halt forever.
 */
void guest_exit(unsigned code)
{
	outl(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

#define COM2_LSR	(0x2f8 + UART_LSR)
#define UART_LSR_DR	0x01	/* a received byte is waiting */

int guest_stop_requested(void)
{
	return inb(COM2_LSR) & UART_LSR_DR;
}
#endif /* x86; the Arm guests' serial and exit are in arm/libguest-arm.c */

/* No "\n" -> "\r\n" translation: tests compare the output byte for byte. */
void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void put_dec(unsigned val)
{
	char buf[10];	/* enough for 4294967295 */
	int n = 0;

	do {
		buf[n++] = '0' + val % 10;
		val /= 10;
	} while (val);
	while (n)
		serial_putc(buf[--n]);
}

/* Lower-case hex without a "0x" prefix or leading zeros. */
void put_hex(unsigned val)
{
	int shift = 28;

	while (shift > 0 && !(val >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		serial_putc("0123456789abcdef"[(val >> shift) & 0xf]);
}

/*
 * Compilers may emit calls to these even in freestanding code (for
 * struct copies or loops that look like them), so provide them.
 */
void *memset(void *dst, int c, unsigned long n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = c;
	return dst;
}

void *memcpy(void *dst, const void *src, unsigned long n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse a decimal or 0x-prefixed hex number ending at a space or NUL. */
static int parse_uint(const char *s, unsigned *out)
{
	unsigned base = 10, val = 0, digit;
	const char *start;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (start = s; *s && !is_space(*s); s++) {
		if (*s >= '0' && *s <= '9')
			digit = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			digit = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			digit = *s - 'A' + 10;
		else
			return 0;
		val = val * base + digit;
	}
	if (s == start)
		return 0;
	*out = val;
	return 1;
}

/*
 * Look up "key=NUMBER" in the multiboot command line and return NUMBER,
 * or def if the key is absent or its value is malformed.  QEMU passes
 * the kernel's file name followed by the -append string, so we match
 * whole space-separated words only ("tick=" must not match "ticks=").
 */
unsigned cmdline_uint(const struct mb_info *info, const char *key,
		      unsigned def)
{
	const char *p, *k;
	unsigned val;

	if (!info || !(info->flags & MB_INFO_CMDLINE) || !info->cmdline)
		return def;

	p = (const char *)info->cmdline;
	while (*p) {
		while (is_space(*p))
			p++;
		for (k = key; *k && *p == *k; k++)
			p++;
		if (!*k && *p == '=' && parse_uint(p + 1, &val))
			return val;
		while (*p && !is_space(*p))
			p++;
	}
	return def;
}
