/* SPDX-License-Identifier: MIT */
/*
 * What the parts of dwarfp's index share, and nothing else: index.c
 * (dw_open(), dw_close() and the DIE walk), elfsrc.c (the file as libdwarf
 * reads it), lines.c (the line tables) and addrmap.c (the address maps
 * and lookups).  eval.c and dwarfp.c see only
 * dwarfp.h.
 */
#ifndef DWARFP_INDEX_H
#define DWARFP_INDEX_H

#include "dwarfp.h"

/* A string kept as long as @b, stored once however often it is asked. */
static inline const char *dw_intern(struct dw_binary *b, const char *s)
{
	return s ? g_string_chunk_insert_const(b->strs, s) : NULL;
}

/*
 * libdwarf's error objects are the caller's to free: dw_open() turns
 * libdwarf's record of its objects off, so nothing else would.  An error
 * slot declared g_auto(Dwarf_Error) frees its error when it goes out of
 * scope, and passed as dw_err(&err) frees the one a previous call left
 * there (libdwarf overwrites the slot).
 */
static inline void dw_error_clear(Dwarf_Error *err)
{
	if (*err)
		dwarf_dealloc_error(NULL, *err);
	*err = NULL;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Dwarf_Error, dw_error_clear)

static inline Dwarf_Error *dw_err(Dwarf_Error *err)
{
	dw_error_clear(err);
	return err;
}

/* elfsrc.c */

struct dw_elfsrc;
/*
 * Open @path for libdwarf through a read-only mapping (sections read in
 * place, relocations not applied again: a linked file only).  Return 0
 * and set *@dbg and *@src; -ENOTSUP if the file needs dwarf_init_path()
 * (a relocatable object, compressed sections, not ELF); another negative
 * errno with *@err set if libdwarf refuses it.
 */
int dw_elfsrc_open(const char *path, Dwarf_Debug *dbg, struct dw_elfsrc **src,
		   char **err);
/*
 * The bytes of @src's section @name, in place, and their count in *@size;
 * NULL if there is no such section with contents, or if the file is
 * big-endian (the decoders of dwarfp's own read little-endian only, and
 * leave other files to libdwarf).
 */
const uint8_t *dw_elfsrc_section(const struct dw_elfsrc *src, const char *name,
				 size_t *size);
/* Unmap @src; after dwarf_finish() of the Dwarf_Debug made from it. */
void dw_elfsrc_close(struct dw_elfsrc *src);

/* lines.c */

/* What dw_open() keeps while it reads the line tables; freed before it returns. */
struct dw_build {
	struct dw_binary *b;
	struct raw_row *raw;		/* lines.c's raw rows, in table order */
	uint32_t n_raw, cap_raw;
	GArray *seqs;			/* lines.c's sequences of them */
	GPtrArray *names;		/* the rows' file names, by index; 0: none */
	GArray *files;			/* libdwarf's: the CU's names' indices, by number */
	uint8_t *pflags;		/* lines.c's PF_* of b->rows[i] */
	/* dwarfp's own decoder: the mapped sections, found on first use */
	bool looked, use_libdwarf;
	const uint8_t *line, *line_str, *str;
	size_t line_size, line_str_size, str_size;
	GArray *fents;			/* the current table's file entries */
	GPtrArray *dirs;		/* and its directories */
	GString *path;			/* a file name being built */
	unsigned int n_broken;		/* tables skipped as broken ... */
	char *broken;			/* ... and why the first was */
};

void dw_lines_init(struct dw_build *bd, struct dw_binary *b);
void dw_lines_free(struct dw_build *bd);
/*
 * Append the rows of @cu_die's line table: decoded by dw_lines_read_at()
 * where the file is mapped (b->src), else by libdwarf.  Set the
 * environment variable DWARFP_LINES=libdwarf to have libdwarf decode
 * every table (the tests compare the two).
 */
void dw_lines_read(struct dw_build *bd, Dwarf_Die cu_die);
/*
 * Decode the line table at offset @off of the mapped .debug_line and
 * append its rows, with file names as libdwarf's dwarf_linesrc() builds
 * them (relative ones under @comp_dir, the unit's DW_AT_comp_dir; NULL
 * if it has none).  @cu_name (NULL: unknown) names the unit in the
 * message about a broken table; @addr_size is the unit's.  Return 0;
 * -ENOTSUP if there is no mapped .debug_line (use libdwarf: no b->src,
 * a big-endian file, or DWARFP_LINES=libdwarf); -EINVAL if the table is
 * broken: none of its rows are kept, and dw_lines_merge() leaves a
 * warning in b->warning.
 */
int dw_lines_read_at(struct dw_build *bd, uint64_t off, const char *comp_dir,
		     const char *cu_name, unsigned int addr_size);
/* All tables read: fill bd->b->rows, one row per address, by address. */
void dw_lines_merge(struct dw_build *bd);
/* Set @f's post_prologue, pp_file and pp_line from the merged rows. */
void dw_post_prologue(const struct dw_build *bd, struct dw_func *f);

/* addrmap.c */

/* A map over @n items of @stride bytes, each starting with its address. */
struct dw_amap *dw_amap_new(const void *items, size_t stride, guint n);
void dw_amap_free(struct dw_amap *m);
/*
 * The functions' ranges flattened into disjoint struct dw_seg, by address,
 * each with the innermost function holding it (@innermost) or the
 * out-of-line one.
 */
GArray *dw_segs_build(struct dw_binary *b, bool innermost);

#endif /* DWARFP_INDEX_H */
