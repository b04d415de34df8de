/*
 * libguest: tiny freestanding helpers for the test guests.
 *
 * The x86 guests are multiboot kernels booted by QEMU with -kernel; they
 * talk to the outside world through COM1 and leave through the
 * isa-debug-exit device.  The Arm guests (arm/, -M virt) write to the
 * PL011 UART and leave through semihosting; their crt0 hands kmain() the
 * command line in the same struct mb_info, so a guest program builds for
 * every target from one source.
 */
#ifndef LIBGUEST_H
#define LIBGUEST_H

/* The part of the multiboot v1 information structure that we use. */
struct mb_info {
	unsigned flags;		/* which of the fields below are valid */
	unsigned mem_lower;	/* KiB of memory below 1 MiB (flags bit 0) */
	unsigned mem_upper;	/* KiB of memory above 1 MiB (flags bit 0) */
	unsigned boot_device;	/* flags bit 1 */
	unsigned cmdline;	/* physical address of a C string (flags bit 2) */
};

#define MB_BOOT_MAGIC	0x2BADB002	/* what the loader passes in %eax */
#define MB_INFO_CMDLINE	(1u << 2)

/*
 * Every guest provides this.  crt0.S calls it and, if it returns, passes
 * the return value to guest_exit().
 */
unsigned kmain(unsigned magic, struct mb_info *info);

#if defined(__i386__) || defined(__x86_64__)
static inline void outb(unsigned short port, unsigned char val)
{
	__asm__ volatile("outb %0, %1" : : "a"(val), "Nd"(port));
}

static inline unsigned char inb(unsigned short port)
{
	unsigned char val;

	__asm__ volatile("inb %1, %0" : "=a"(val) : "Nd"(port));
	return val;
}

static inline void outl(unsigned short port, unsigned val)
{
	__asm__ volatile("outl %0, %1" : : "a"(val), "Nd"(port));
}
#endif

void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);
void put_dec(unsigned val);
void put_hex(unsigned val);

__attribute__((noreturn)) void guest_exit(unsigned code);
/*
 * Has the test asked the guest to stop (a byte on COM2)?  The Arm guests
 * have one UART: never.
 */
int guest_stop_requested(void);

void *memset(void *dst, int c, unsigned long n);
void *memcpy(void *dst, const void *src, unsigned long n);

unsigned cmdline_uint(const struct mb_info *info, const char *key,
		      unsigned def);

#endif /* LIBGUEST_H */
