// SPDX-License-Identifier: MIT
/*
 * elfsrc.c - libdwarf's view of a linked ELF file through one read-only
 * mapping of it (libdwarf's object access interface), instead of
 * dwarf_init_path()'s own reader.
 *
 * Why: the ELF reader of Debian's libdwarf copies every section it loads
 * into memory of its own and then applies the section's relocations.  On
 * the Linux kernel's vmlinux (590 MB) that is 164 MB of .debug_info copied
 * and 255 MB of .rela.debug_info read and applied, a second of CPU before
 * the first DIE.  The relocations of a linked file (ET_EXEC, ET_DYN: the
 * kernel keeps them with --emit-relocs) hold what the linker has already
 * written into the section, so the mapping is read as it is.  Files this
 * does not cover (relocatable objects, compressed sections) go to
 * dwarf_init_path() as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index.h"

struct dw_elfsrc {
	/*
	 * libdwarf's dwarf_finish() looks at the first byte of the object
	 * to tell its own readers' objects ('E', 'F', 'M') from a caller's:
	 * this one must start with none of those.
	 */
	char kind;
	int fd;
	Elf *elf;
	const uint8_t *map;
	size_t map_len;
	size_t n_sections;
	size_t shstrndx;
	bool msb;
	uint8_t ptr_size;
	Dwarf_Obj_Access_Interface iface;
};

static int src_section_info(void *obj, Dwarf_Half i, Dwarf_Obj_Access_Section *out,
			    int *error)
{
	struct dw_elfsrc *s = obj;
	GElf_Shdr sh;
	Elf_Scn *scn;
	const char *name;

	if (i >= s->n_sections)
		return DW_DLV_NO_ENTRY;
	scn = elf_getscn(s->elf, i);
	if (!scn || !gelf_getshdr(scn, &sh)) {
		*error = DW_DLE_ELF_SECT_ERR;
		return DW_DLV_ERROR;
	}
	name = elf_strptr(s->elf, s->shstrndx, sh.sh_name);
	memset(out, 0, sizeof(*out));
	out->addr = sh.sh_addr;
	out->type = sh.sh_type;
	out->size = sh.sh_type == SHT_NOBITS ? 0 : sh.sh_size;
	out->name = name ? name : "";
	out->link = sh.sh_link;
	out->info = sh.sh_info;
	out->entrysize = sh.sh_entsize;
	return DW_DLV_OK;
}

static Dwarf_Endianness src_byte_order(void *obj)
{
	return ((struct dw_elfsrc *)obj)->msb ? DW_OBJECT_MSB : DW_OBJECT_LSB;
}

static Dwarf_Small src_ptr_size(void *obj)
{
	return ((struct dw_elfsrc *)obj)->ptr_size;
}

static Dwarf_Unsigned src_section_count(void *obj)
{
	return ((struct dw_elfsrc *)obj)->n_sections;
}

/* A section's bytes: a pointer into the mapping, nothing copied. */
static int src_load_section(void *obj, Dwarf_Half i, Dwarf_Small **data, int *error)
{
	struct dw_elfsrc *s = obj;
	GElf_Shdr sh;
	Elf_Scn *scn;

	if (i >= s->n_sections)
		return DW_DLV_NO_ENTRY;
	scn = elf_getscn(s->elf, i);
	if (!scn || !gelf_getshdr(scn, &sh)) {
		*error = DW_DLE_ELF_SECT_ERR;
		return DW_DLV_ERROR;
	}
	if (sh.sh_type == SHT_NOBITS || !sh.sh_size)
		return DW_DLV_NO_ENTRY;
	if (sh.sh_offset > s->map_len || sh.sh_size > s->map_len - sh.sh_offset) {
		*error = DW_DLE_SECTION_SIZE_OR_OFFSET_LARGE;
		return DW_DLV_ERROR;
	}
	*data = (Dwarf_Small *)(s->map + sh.sh_offset);
	return DW_DLV_OK;
}

static const Dwarf_Obj_Access_Methods src_methods = {
	.get_section_info = src_section_info,
	.get_byte_order = src_byte_order,
	/* The ELF class's sizes, as libdwarf's own ELF reader gives them. */
	.get_length_size = src_ptr_size,
	.get_pointer_size = src_ptr_size,
	.get_section_count = src_section_count,
	.load_section = src_load_section,
	.relocate_a_section = NULL,	/* read as linked: see above */
};

/*
 * Can the mapping stand for the file: linked, whole (a cut file goes to
 * libdwarf's reader, which says what is wrong with it), and no section
 * that libdwarf's reader would have to unpack?
 */
static bool src_plain(struct dw_elfsrc *s, const GElf_Ehdr *eh, uint64_t size)
{
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return false;
	if (eh->e_shoff > size ||
	    (uint64_t)s->n_sections * eh->e_shentsize > size - eh->e_shoff)
		return false;
	for (size_t i = 1; i < s->n_sections; i++) {
		Elf_Scn *scn = elf_getscn(s->elf, i);
		const char *name;
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh))
			return false;
		name = elf_strptr(s->elf, s->shstrndx, sh.sh_name);
		if ((sh.sh_flags & SHF_COMPRESSED) ||
		    (name && g_str_has_prefix(name, ".zdebug")))
			return false;
	}
	return true;
}

const uint8_t *dw_elfsrc_section(const struct dw_elfsrc *s, const char *name,
				 size_t *size)
{
	if (!s || s->msb)
		return NULL;
	for (size_t i = 1; i < s->n_sections; i++) {
		Elf_Scn *scn = elf_getscn(s->elf, i);
		const char *n;
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(s->elf, s->shstrndx, sh.sh_name);
		if (!n || strcmp(n, name))
			continue;
		if (sh.sh_offset > s->map_len || sh.sh_size > s->map_len - sh.sh_offset)
			return NULL;
		*size = sh.sh_size;
		return s->map + sh.sh_offset;
	}
	return NULL;
}

void dw_elfsrc_close(struct dw_elfsrc *s)
{
	if (!s)
		return;
	if (s->elf)
		elf_end(s->elf);
	if (s->map)
		munmap((void *)s->map, s->map_len);
	if (s->fd >= 0)
		close(s->fd);
	g_free(s);
}

int dw_elfsrc_open(const char *path, Dwarf_Debug *dbg, struct dw_elfsrc **out,
		   char **err)
{
	struct dw_elfsrc *s = g_new0(struct dw_elfsrc, 1);
	Dwarf_Error derr = NULL;
	struct stat st;
	GElf_Ehdr eh;
	int rc;

	s->kind = 'm';
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0 || elf_version(EV_CURRENT) == EV_NONE ||
	    fstat(s->fd, &st) || !st.st_size)
		goto unsupported;
	s->elf = elf_begin(s->fd, ELF_C_READ_MMAP, NULL);
	if (!s->elf || elf_kind(s->elf) != ELF_K_ELF || !gelf_getehdr(s->elf, &eh) ||
	    elf_getshdrnum(s->elf, &s->n_sections) ||
	    elf_getshdrstrndx(s->elf, &s->shstrndx) || s->n_sections > UINT16_MAX ||
	    !src_plain(s, &eh, st.st_size))
		goto unsupported;
	s->map_len = st.st_size;
	s->map = mmap(NULL, s->map_len, PROT_READ, MAP_PRIVATE, s->fd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		goto unsupported;
	}
	s->msb = eh.e_ident[EI_DATA] == ELFDATA2MSB;
	s->ptr_size = gelf_getclass(s->elf) == ELFCLASS32 ? 4 : 8;
	s->iface.object = s;
	s->iface.methods = &src_methods;
	rc = dwarf_object_init_b(&s->iface, NULL, NULL, DW_GROUPNUMBER_ANY, dbg,
				 &derr);
	if (rc != DW_DLV_OK) {
		*err = g_strdup_printf("%s: %s", path, rc == DW_DLV_NO_ENTRY ?
				       "no DWARF debug information" :
				       dwarf_errmsg(derr));
		if (rc == DW_DLV_ERROR)
			dwarf_dealloc_error(NULL, derr);
		dw_elfsrc_close(s);
		return -EINVAL;
	}
	*out = s;
	return 0;

unsupported:
	dw_elfsrc_close(s);
	return -ENOTSUP;
}
