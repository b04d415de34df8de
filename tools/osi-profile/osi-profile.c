// SPDX-License-Identifier: MIT
/*
 * osi-profile - write osi_linux's kernel profile of a kernel image.
 *
 *   osi-profile IMAGE [OUT]
 *
 * IMAGE is a bzImage with an LZ4 payload (Debian's /boot/vmlinuz-*) or a
 * vmlinux ELF, built with CONFIG_DEBUG_INFO_BTF.  The profile (key=value
 * lines: structure offsets and the per-CPU offset of the current task) goes
 * to OUT, or stdout; osi_linux.profile=OUT uses it.  Exit 0, or 1 with one
 * line saying what is missing.
 */
#include <stdio.h>

#include "osi_linux.h"

int main(int argc, char **argv)
{
	g_autoptr(GHashTable) prof = NULL;
	g_autofree char *text = NULL, *err = NULL;
	struct osil_layout l;
	GError *gerr = NULL;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: osi-profile IMAGE [OUT]\n");
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
	if (argc == 2) {
		fputs(text, stdout);
		return fflush(stdout) ? 1 : 0;
	}
	if (!g_file_set_contents(argv[2], text, -1, &gerr)) {
		fprintf(stderr, "osi-profile: %s\n", gerr->message);
		g_error_free(gerr);
		return 1;
	}
	return 0;
}
