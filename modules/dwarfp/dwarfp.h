/* SPDX-License-Identifier: MIT */
/*
 * dwarfp internals: the index of one binary's DWARF (index.c, lines.c,
 * addrmap.c; what they share besides is index.h), the functions only the
 * ELF symbol table names (bare.c), the evaluation of
 * location expressions (eval.c) and the module glue (dwarfp.c).  The index
 * and eval.c use neither the module API nor QEMU, so
 * tests/stpi/dwarfp-query links them directly.
 *
 * Addresses in the index are the binary's own (link-time) addresses; the
 * load bias is added where an address leaves dwarfp.
 */
#ifndef DWARFP_H
#define DWARFP_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>

#include <modhost/stpi.h>

/* One operation of a location expression, as libdwarf decodes it. */
struct dw_op {
	uint8_t atom;
	uint64_t op1, op2;
};

/* One entry of a location list: the expression that holds in [lo, hi). */
struct dw_locexpr {
	uint64_t lo, hi;
	uint32_t n_ops;
	struct dw_op *ops;
};

/* A location: one expression valid everywhere, or a location list. */
struct dw_loc {
	bool whole;		/* a single expression, valid at any pc */
	bool is_const;		/* DW_AT_const_value: @value, no expression */
	uint64_t value;
	uint32_t n;
	struct dw_locexpr *e;
};

struct dw_range {
	uint64_t lo, hi;
};

/* A variable or parameter and the scope (lexical block) it is visible in. */
struct dw_var {
	const char *name;
	const char *type;
	bool is_param;
	uint32_t n_scope;		/* 0: the whole function */
	struct dw_range *scope;
	struct dw_loc loc;
};

/* A function: out of line (a subprogram) or an inlined instance. */
struct dw_func {
	const char *name;
	uint64_t lo, hi;		/* entry and end of the range holding it */
	uint64_t post_prologue;		/* 0 for inlined instances */
	const char *pp_file;		/* the line at post_prologue */
	uint32_t pp_line;
	bool inlined;
	struct dw_func *outer;		/* the out-of-line function holding it */
	struct dw_cu *cu;		/* index.c: where @vars are read from */
	uint32_t n_ranges;
	struct dw_range *ranges;
	struct dw_loc frame_base;
	/*
	 * struct dw_var, in DIE order.  Those of the inlined instances in an
	 * out-of-line function are in its @vars too, scoped to the
	 * instance's ranges; an inlined instance's own @vars is empty.
	 */
	GArray *vars;			/* NULL until dw_read_vars() */
	uint8_t addr_size;
};

/*
 * One line-table row, whole (b->rows); a lookup answers from a compact
 * copy of its file, line and discriminator (dw_line_at()).
 */
struct dw_row {
	uint64_t addr;
	/*
	 * @file/@line come from the address's last row (what addr2line
	 * reports); @sfile/@sline from its last statement row (where gdb
	 * stops for a line, what the line events report).  Files are
	 * indices in the binary's @files (dw_file()), 0: none.
	 */
	uint32_t file, sfile;
	uint32_t line, sline;
	uint32_t discr;			/* @line's discriminator (addr2line's), 0: none */
	uint8_t is_stmt;		/* some row at this address is a statement */
	uint8_t end;			/* end_sequence: no line from here */
};

/* What dw_line_at() answers: an address's file and line, as addr2line's. */
struct dw_line {
	const char *file;		/* NULL: none */
	uint32_t line;
	uint32_t discr;			/* 0: none */
};

/* A piece of the address space whose innermost function is @fn. */
struct dw_seg {
	uint64_t lo, hi;
	struct dw_func *fn;
};

struct dw_amap;		/* addrmap.c's address search over a sorted array */
struct dw_pcmap;	/* addrmap.c's lookup of line and innermost function */
struct dw_cu;		/* index.c's record of a compile unit */
struct dw_late;		/* index.c's state for reading variables late */
struct dw_elfsrc;	/* elfsrc.c's mapping of the file, if libdwarf reads one */

struct dw_binary {
	char *path;
	uint64_t bias;
	uint8_t addr_size;		/* of the first CU with code: 4 or 8 */
	uint16_t machine;		/* ELF e_machine: its DWARF registers */
	Dwarf_Debug dbg;
	struct dw_elfsrc *src;
	Dwarf_Cie *cies;
	Dwarf_Fde *fdes;
	Dwarf_Signed n_cies, n_fdes;
	bool cfi_read;			/* cies and fdes read (dw_cfi_read_locked()) */
	GMutex cfi_lock;		/* libdwarf is not thread-safe: taken by
					   every call into it after dw_open() */
	GStringChunk *strs;
	GArray *rows;			/* struct dw_row, by address, one per address */
	GPtrArray *files;		/* the rows' file names, each once; 0: NULL */
	GArray *osegs;			/* out-of-line function, by address */
	struct dw_amap *oseg_map;	/* its lookup */
	struct dw_pcmap *pc_map;	/* line and innermost function, by address */
	GPtrArray *funcs;		/* struct dw_func *, owned */
	GArray *globals;		/* struct dw_var */
	struct dw_late *late;
	/*
	 * What dw_open() skipped and the caller should log once (broken line
	 * tables, unreadable compile units), or NULL; see dw_warn().
	 */
	char *warning;
	uint32_t units_own, units_libdwarf;	/* whose walk read each CU */
};

/* index.c */
struct dw_binary *dw_open(const char *path, uint64_t bias, char **err);
/*
 * dw_open() with @flags: DW_OPEN_LIBDWARF_WALK walks the DIEs with
 * libdwarf even where dwarfp's own reader could (to compare the two).
 */
#define DW_OPEN_LIBDWARF_WALK 1u
struct dw_binary *dw_open_flags(const char *path, uint64_t bias, unsigned int flags,
				char **err);
void dw_close(struct dw_binary *b);
/*
 * Read @f's variables into @f->vars if not yet done: dw_open() leaves
 * them, CU by CU, to the first question about one of the CU's functions.
 * Thread-safe (takes cfi_lock the first time).
 */
void dw_read_vars(const struct dw_binary *b, const struct dw_func *f);
/* Read @b's CFI (cies, fdes) if not yet done.  Call with cfi_lock held. */
void dw_cfi_read_locked(struct dw_binary *b);

/* The name of file @i of @b's rows (struct dw_row's @file, @sfile). */
static inline const char *dw_file(const struct dw_binary *b, uint32_t i)
{
	return g_ptr_array_index(b->files, i);
}

/* addrmap.c */
/*
 * The file and line of @addr (unbiased) into *@out: false if no row
 * holds it (or it is past a sequence's end).  The fast one.
 */
bool dw_line_at(const struct dw_binary *b, uint64_t addr, struct dw_line *out);
/*
 * The whole row that holds @addr (unbiased), or NULL: as dw_line_at(),
 * slower (a binary search of the rows, for their other fields).
 */
const struct dw_row *dw_row_at(const struct dw_binary *b, uint64_t addr);
/*
 * dw_line_at() and dw_func_at(@b, @addr, true) in one search: the line
 * into *@out (the return value says if there is one) and the innermost
 * function, or NULL, into *@fn.
 */
bool dw_pc_at(const struct dw_binary *b, uint64_t addr, struct dw_line *out,
	      const struct dw_func **fn);
/* One answer of dw_pc_at_n(): what dw_pc_at() gives for that address. */
struct dw_pc {
	struct dw_line line;		/* if @found */
	const struct dw_func *fn;	/* NULL: none */
	bool found;
};
/*
 * dw_pc_at() of each of @n addresses, into @out[0 .. @n): the same
 * answers, faster when the index is larger than the cache (a kernel's),
 * as the memory of several lookups is fetched at once.
 */
void dw_pc_at_n(const struct dw_binary *b, const uint64_t *addrs, size_t n,
		struct dw_pc *out);
/*
 * The innermost (or out-of-line) function holding @addr, or NULL.  An
 * out-of-line function comes with its @vars read (dw_read_vars()).
 */
const struct dw_func *dw_func_at(const struct dw_binary *b, uint64_t addr,
				 bool innermost);
/* Is @var visible at @addr (its lexical block holds it)? */
bool dw_var_in_scope(const struct dw_var *var, uint64_t addr);

/* bare.c */

/* Above this, an x86_64 address is the kernel's. */
#define USER_TOP 0x0000800000000000ull

struct symtab;		/* ../lib/symtab.c's function symbols */

/* Is @b an x86_64 kernel image: linked in the upper half, where KASLR moves it? */
bool dw_is_kernel(const struct dw_binary *b);
/*
 * The functions of @t (@b's ELF symbols; NULL: none) that have no DWARF
 * function in @b: struct dw_func by address, named and started at the
 * symbol, with the line there, as addr2line names them.
 */
GArray *dw_bare_build(const struct dw_binary *b, const struct symtab *t);
/* The function of @bare (from dw_bare_build()) holding @addr, or NULL. */
const struct dw_func *dw_bare_at(const GArray *bare, uint64_t addr);

/* eval.c */

/*
 * How eval reads the guest: @reg reads DWARF register @regno (in the
 * binary's numbering), @mem guest memory.  Both return 0 or -1.  @bias is
 * the binary's load bias in the address space read: its @bias for a
 * binary at a fixed place, the run-time base of a program placed by osi.
 */
struct dw_guest {
	int (*reg)(void *ctx, unsigned int regno, uint64_t *val);
	int (*mem)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *ctx;
	uint64_t bias;
};

/*
 * Where @loc puts the variable when the pc is @addr (unbiased) in @fn
 * (NULL for a global).  Return 0 and set *@type and *@val (biased), or -1
 * when the variable has no location at @addr (optimized out there).
 */
int dw_eval(struct dw_binary *b, const struct dw_func *fn,
	    const struct dw_loc *loc, uint64_t addr, const struct dw_guest *g,
	    LocType *type, uint64_t *val);
/* The CFA at @addr (unbiased), through the CFI; 0 or -1. */
int dw_cfa(struct dw_binary *b, uint64_t addr, const struct dw_guest *g,
	   uint64_t *cfa);

#endif /* DWARFP_H */
