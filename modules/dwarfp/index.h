/* SPDX-License-Identifier: MIT */
/*
 * What the parts of dwarfp's index share, and nothing else: index.c
 * (dw_open(), dw_close() and the DIE walks), dies.c (dwarfp's own reader
 * of .debug_info), elfsrc.c (the file as libdwarf reads it), lines.c (the
 * line tables) and addrmap.c (the address maps and lookups).  eval.c and
 * dwarfp.c see only dwarfp.h.
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
 * Read a LEB128 number at *@p, before @end, into *@v (sign-extended if
 * @sign: an SLEB128) and step *@p past it; false if it runs past @end or
 * is longer than any 64-bit value's (10 bytes).
 */
static inline bool dw_leb(const uint8_t **p, const uint8_t *end, uint64_t *v,
			  bool sign)
{
	const uint8_t *q = *p;
	unsigned int shift = 0;
	uint64_t x = 0;

	while (q < end && shift < 70) {
		uint8_t c = *q++;

		if (shift < 64)
			x |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
		if (!(c & 0x80)) {
			if (sign && shift < 64 && (c & 0x40))
				x |= ~(uint64_t)0 << shift;
			*p = q;
			*v = x;
			return true;
		}
	}
	return false;
}

/* Add @text to what dw_open() tells its caller to log once (b->warning). */
static inline void dw_warn(struct dw_binary *b, const char *text)
{
	char *had = b->warning;

	b->warning = had ? g_strdup_printf("%s; %s", had, text) : g_strdup(text);
	g_free(had);
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

/* dies.c: dwarfp's own reader of .debug_info, for dw_open()'s walk */

struct dw_dies;
struct abbrev_table;

/* A unit of .debug_info (offsets are the section's). */
struct dw_unit {
	uint64_t off, end;		/* its header; the next unit's */
	uint64_t die_off;		/* its unit DIE */
	uint64_t abbrev_off;
	uint8_t version, unit_type, addr_size, offset_size;
	bool bases_read, bases_ok;	/* the unit DIE read (dw_dies_unit()) */
	bool has_str_offsets_base, has_addr_base, has_rnglists_base;
	uint64_t str_offsets_base, addr_base, rnglists_base;
	const struct abbrev_table *table;	/* NULL until read, or after _done() */
};

/* An attribute's value as read: its form, a number, a string or block. */
struct dw_aval {
	uint16_t form;
	uint64_t v;
	const uint8_t *ptr;
};

enum {
	DW_HAVE_SIBLING = 1 << 0,
	DW_HAVE_NAME = 1 << 1,
	DW_HAVE_LOW_PC = 1 << 2,
	DW_HAVE_HIGH_PC = 1 << 3,
	DW_HAVE_RANGES = 1 << 4,
	DW_HAVE_ENTRY_PC = 1 << 5,
	DW_HAVE_ORIGIN = 1 << 6,
	DW_HAVE_SPEC = 1 << 7,
	DW_HAVE_LOCATION = 1 << 8,
	DW_HAVE_CONST_VALUE = 1 << 9,
	DW_HAVE_TYPE = 1 << 10,
};

/*
 * One DIE as read: its tag and the attributes the index wants (those of
 * the DW_HAVE_* bits in @have; of a tag the walk steps over, only its
 * sibling).
 */
struct dw_die {
	uint64_t off;
	uint64_t next;			/* its first child, or what follows it */
	uint16_t tag;
	bool children;
	uint32_t have;
	struct dw_aval sibling, name, low_pc, high_pc, ranges, entry_pc, origin, spec;
	struct dw_aval location, type;
};

/*
 * The DIE reader of @src's sections, with every unit header read; NULL
 * if @src is NULL or lacks .debug_info or .debug_abbrev (or is
 * big-endian): then libdwarf walks the DIEs.
 */
struct dw_dies *dw_dies_new(const struct dw_elfsrc *src);
void dw_dies_free(struct dw_dies *d);
/* The unit whose header dw_dies_new() read holding offset @off, or NULL. */
struct dw_unit *dw_dies_unit_of(struct dw_dies *d, uint64_t off);
/* Read @u's abbreviations and unit DIE (once): false if they are broken. */
bool dw_dies_unit_ready(struct dw_dies *d, struct dw_unit *u);
/* Let go of @u's abbreviations until it is read again (parsed again then). */
void dw_dies_unit_done(struct dw_dies *d, struct dw_unit *u);
/* dw_dies_unit_of() if dw_dies_unit_ready(), else NULL. */
struct dw_unit *dw_dies_unit(struct dw_dies *d, uint64_t off);
/*
 * Read the DIE at @off of a ready @u: 1, 0 for a null entry (its
 * siblings end there), -1 if it cannot be read.  dw_die_read() keeps the
 * attributes of the tags the index walks into (of variables and
 * parameters too if @vars), and only the sibling of others;
 * dw_die_read_all() keeps them whatever the tag (the DIE a reference
 * leads to).
 */
int dw_die_read(const struct dw_dies *d, struct dw_unit *u, uint64_t off,
		struct dw_die *die, bool vars);
int dw_die_read_all(const struct dw_dies *d, struct dw_unit *u, uint64_t off,
		    struct dw_die *die);
/* The offset after @die and its subtree; 0 if the subtree is broken. */
uint64_t dw_die_skip(const struct dw_dies *d, struct dw_unit *u,
		     const struct dw_die *die);
/* A string attribute's value, in its section; NULL if it cannot be read. */
const char *dw_die_str(const struct dw_dies *d, const struct dw_unit *u,
		       const struct dw_aval *v);
/* An address-class value (addr, addrx ...), if @have. */
bool dw_die_addr(const struct dw_dies *d, const struct dw_unit *u,
		 const struct dw_aval *v, bool have, uint64_t *out);
/* A constant-class value, unsigned as dwarf_formudata() gives it, if @have. */
bool dw_die_const(const struct dw_aval *v, bool have, uint64_t *out);
/* The section offset of the DIE a reference points to, if @have. */
bool dw_die_ref(const struct dw_dies *d, const struct dw_unit *u,
		const struct dw_aval *v, bool have, uint64_t *out);
/*
 * Append @die's DW_AT_ranges to @r (.debug_ranges before DWARF 5,
 * .debug_rnglists from it; @base the unit's base address); false, and
 * nothing appended, if there is no list or it cannot be read.
 */
bool dw_die_ranges(const struct dw_dies *d, const struct dw_unit *u,
		   const struct dw_die *die, uint64_t base, GArray *r);

/* lines.c */

/* What dw_open() keeps while it reads the line tables; freed before it returns. */
struct dw_build {
	struct dw_binary *b;
	struct raw_row *raw;		/* lines.c's raw rows, in table order */
	uint32_t n_raw, cap_raw;
	GArray *seqs;			/* lines.c's sequences of them */
	GHashTable *name_idx;		/* b->files: interned name -> its index */
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
/*
 * All tables read: fill bd->b->rows, one row per address, by address
 * (their file names are in bd->b->files, from the start).
 */
void dw_lines_merge(struct dw_build *bd);
/* Set @f's post_prologue, pp_file and pp_line from the merged rows. */
void dw_post_prologue(const struct dw_build *bd, struct dw_func *f);

/* addrmap.c */

/* A map over @n items of @stride bytes, each starting with its address. */
struct dw_amap *dw_amap_new(const void *items, size_t stride, guint n);
void dw_amap_free(struct dw_amap *m);
/*
 * The lookup of line and innermost function (dw_line_at(), dw_func_at()
 * innermost) over @b's merged rows and files and @segs (from
 * dw_segs_build(b, true)), which it takes.
 */
struct dw_pcmap *dw_pcmap_new(const struct dw_binary *b, GArray *segs);
void dw_pcmap_free(struct dw_pcmap *m);
/*
 * The functions' ranges flattened into disjoint struct dw_seg, by address,
 * each with the innermost function holding it (@innermost) or the
 * out-of-line one.
 */
GArray *dw_segs_build(struct dw_binary *b, bool innermost);

#endif /* DWARFP_INDEX_H */
