// SPDX-License-Identifier: MIT
/*
 * elfpatch - change one field of a section header of a 64-bit ELF file in
 * place, to craft damaged modules for the conformance suite:
 *
 *   elfpatch FILE SECTION size|offset VALUE
 *
 * VALUE is a decimal number, or +N / -N to change the field by N.  Prints
 * the new value.  A plain reader on purpose: it must not trust or fix the
 * file the way a library would.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *file, const char *why)
{
	fprintf(stderr, "elfpatch: %s: %s\n", file, why);
	return 1;
}

int main(int argc, char **argv)
{
	const char *file = argv[1], *name = argv[2], *field = argv[3];
	unsigned char *img;
	Elf64_Ehdr *eh;
	Elf64_Shdr *sh, *strs;
	uint64_t *slot;
	struct stat st;
	int fd;

	if (argc != 5 || (strcmp(field, "size") && strcmp(field, "offset"))) {
		fprintf(stderr, "usage: elfpatch FILE SECTION size|offset VALUE\n");
		return 2;
	}
	fd = open(file, O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		return fail(file, strerror(errno));
	if ((size_t)st.st_size < sizeof(*eh))
		return fail(file, "too short for an ELF header");
	img = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (img == MAP_FAILED)
		return fail(file, strerror(errno));
	eh = (Elf64_Ehdr *)img;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(*sh) || eh->e_shstrndx >= eh->e_shnum ||
	    eh->e_shoff > (uint64_t)st.st_size ||
	    eh->e_shnum > (st.st_size - eh->e_shoff) / sizeof(*sh))
		return fail(file, "not a 64-bit ELF file with a section table");
	sh = (Elf64_Shdr *)(img + eh->e_shoff);
	strs = &sh[eh->e_shstrndx];
	for (unsigned int i = 0; i < eh->e_shnum; i++) {
		uint64_t off = strs->sh_offset + sh[i].sh_name;

		if (off >= (uint64_t)st.st_size ||
		    strncmp((char *)img + off, name, st.st_size - off))
			continue;
		slot = !strcmp(field, "size") ? &sh[i].sh_size : &sh[i].sh_offset;
		if (argv[4][0] == '+')
			*slot += strtoull(argv[4] + 1, NULL, 0);
		else if (argv[4][0] == '-')
			*slot -= strtoull(argv[4] + 1, NULL, 0);
		else
			*slot = strtoull(argv[4], NULL, 0);
		printf("%" PRIu64 "\n", *slot);
		return munmap(img, st.st_size) || close(fd);
	}
	return fail(file, "no such section");
}
