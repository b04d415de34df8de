// SPDX-License-Identifier: MIT
/*
 * osi-profile - write osi_linux's kernel profile of a kernel image.
 *
 *   osi-profile IMAGE [OUT]
 *   osi-profile --system-map IMAGE [OUT]
 *
 * IMAGE is a bzImage with an LZ4 payload (Debian's /boot/vmlinuz-*) or a
 * vmlinux ELF, built with CONFIG_DEBUG_INFO_BTF.  The profile (key=value
 * lines: structure offsets and the per-CPU offset of the current task) goes
 * to OUT, or stdout; osi_linux.profile=OUT uses it.  Exit 0, or 1 with one
 * line saying what is missing.
 *
 * --system-map writes instead a System.map of IMAGE from the kernel's own
 * kallsyms tables (CONFIG_KALLSYMS: every function, and with
 * CONFIG_KALLSYMS_ALL every variable), at link-time addresses, for
 * callstack_instr.symbols= and any other reader of System.map files:
 * kernel frames named without the distribution's debug package.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kernel_image.h"
#include "osi_linux.h"

/*
 * @text to @out, or stdout without one: the exit status.  A file is
 * replaced whole (written aside, renamed); a device, a FIFO or a symbolic
 * link (/dev/null, /dev/stdout) is written through, left in place.
 */
static int put(const char *out, const char *text)
{
	GError *gerr = NULL;
	struct stat st;
	FILE *f;

	if (!out) {
		fputs(text, stdout);
		return fflush(stdout) ? 1 : 0;
	}
	if (!lstat(out, &st) && !S_ISREG(st.st_mode)) {
		bool bad;

		f = fopen(out, "w");
		bad = !f || fputs(text, f) < 0;
		if (f && fclose(f))
			bad = true;
		if (bad) {
			fprintf(stderr, "osi-profile: %s: %s\n", out,
				g_strerror(errno));
			return 1;
		}
		return 0;
	}
	if (!g_file_set_contents(out, text, -1, &gerr)) {
		fprintf(stderr, "osi-profile: %s\n", gerr->message);
		g_error_free(gerr);
		return 1;
	}
	return 0;
}

static int system_map(const char *image, const char *out)
{
	g_autofree char *text = NULL, *err = NULL;

	text = kimage_system_map(image, &err);
	if (!text) {
		fprintf(stderr, "osi-profile: %s\n", err);
		return 1;
	}
	return put(out, text);
}

int main(int argc, char **argv)
{
	g_autoptr(GHashTable) prof = NULL;
	g_autofree char *text = NULL, *err = NULL;
	struct osil_layout l;

	if (argc >= 2 && !strcmp(argv[1], "--system-map")) {
		if (argc < 3 || argc > 4) {
			fprintf(stderr, "usage: osi-profile --system-map IMAGE [OUT]\n");
			return 2;
		}
		return system_map(argv[2], argc == 4 ? argv[3] : NULL);
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: osi-profile [--system-map] IMAGE [OUT]\n");
		return 2;
	}
	prof = osil_kimage_profile(argv[1], &err);
	if (!prof) {
		fprintf(stderr, "osi-profile: %s\n", err);
		return 1;
	}
	/* Refuse to write a profile osi_linux would refuse to load. */
	if (osil_layout_from_profile(prof, &l, &err)) {
		fprintf(stderr, "osi-profile: %s: %s\n", argv[1], err);
		return 1;
	}
	osil_layout_clear(&l);
	text = osil_profile_write(prof);
	return put(argc == 3 ? argv[2] : NULL, text);
}
