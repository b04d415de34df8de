// SPDX-License-Identifier: MIT
/*
 * lines.c - dwarfp's line tables: each CU's table read in one pass
 * (dw_lines_read()), the rows of every CU merged into one row per address
 * (dw_lines_merge(): what addr2line reports), and the post-prologue
 * address of a function found in the merged rows (dw_post_prologue():
 * where gdb's "break FUNC" stops).
 *
 * dw_open() is on the path of every dwarfp load, so each table is read
 * once, by a decoder of dwarfp's own over the mapped .debug_line
 * (dw_lines_read_at(): no object per row, a file's name built once per
 * file entry), or by libdwarf for a file that is not mapped (a
 * relocatable object, compressed sections, big-endian).  Both give the
 * same rows and names (tests/integration/dwarfp-lines.t): where libdwarf
 * 20210528 departs from the standard, so does the decoder (DWARF 5's
 * file register, see regs_reset()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

enum {
	PF_PROLOGUE_END = 1,	/* some row here is flagged prologue_end */
	PF_MULTI = 2,		/* the table starts two rows with a line here */
	RF_STMT = 4,		/* a raw row's is_stmt */
	RF_END = 8,		/* a raw row's end_sequence */
};

/*
 * A line-table row as read, before the rows are merged by address, or
 * the rows of one sequence at one address folded into one (GCC's views:
 * the Linux kernel's 4.2 million rows are 1.6 million addresses): the
 * last row's file, line and discriminator, the last statement row's
 * (@sfile, @sline; RF_STMT if there is one), the flags of them all.  Its
 * table order is its place in bd->raw.
 */
struct raw_row {
	uint64_t addr;
	uint32_t line, sline;
	uint32_t file, sfile;		/* in b->files */
	uint32_t discr;			/* the discriminator, 0: none */
	uint8_t flags;			/* PF_* and RF_* */
};

/* A file entry of the current line table (bd->fents). */
struct lt_file {
	const char *name;		/* in the section, as written */
	uint64_t dir;			/* its directory's number */
	uint32_t idx;			/* in b->files, once a row names it; 0: not yet */
};

/*
 * A sequence: rows [start, start + n) of the raw rows, their lowest and
 * highest address, and whether the addresses never go down.
 */
struct raw_seq {
	uint64_t lo, hi;
	uint32_t start, n;
	bool sorted;
};

void dw_lines_init(struct dw_build *bd, struct dw_binary *b)
{
	memset(bd, 0, sizeof(*bd));
	bd->b = b;
	bd->seqs = g_array_new(FALSE, FALSE, sizeof(struct raw_seq));
	bd->name_idx = g_hash_table_new(g_direct_hash, g_direct_equal);
	b->files = g_ptr_array_new();
	g_ptr_array_add(b->files, NULL);	/* file 0: none */
	bd->files = g_array_new(FALSE, TRUE, sizeof(uint32_t));
	bd->fents = g_array_new(FALSE, FALSE, sizeof(struct lt_file));
	bd->dirs = g_ptr_array_new();
	bd->path = g_string_new(NULL);
	/* A test's switch: the rows as libdwarf decodes them, to compare. */
	bd->use_libdwarf = !g_strcmp0(g_getenv("DWARFP_LINES"), "libdwarf");
}

void dw_lines_free(struct dw_build *bd)
{
	g_free(bd->raw);
	g_array_free(bd->seqs, TRUE);
	g_hash_table_destroy(bd->name_idx);
	g_array_free(bd->files, TRUE);
	g_array_free(bd->fents, TRUE);
	g_ptr_array_free(bd->dirs, TRUE);
	g_string_free(bd->path, TRUE);
	g_free(bd->pflags);
	g_free(bd->broken);
}

/*
 * The index in b->files of @name (interned): one per name, so that
 * dwarfp's lookups can pack it in a few bits (addrmap.c).
 */
static uint32_t name_index(struct dw_build *bd, const char *name)
{
	GPtrArray *files = bd->b->files;
	gpointer idx;

	if (!name || files->len >= UINT32_MAX)
		return 0;
	if ((idx = g_hash_table_lookup(bd->name_idx, name)))
		return GPOINTER_TO_UINT(idx);
	g_ptr_array_add(files, (void *)name);
	g_hash_table_insert(bd->name_idx, (void *)name, GUINT_TO_POINTER(files->len - 1));
	return files->len - 1;
}

/*
 * Room for @n raw rows in all; false if there is not (the sizes come
 * from the file: a failed allocation is the file's error, not an abort).
 */
static bool raw_reserve(struct dw_build *bd, uint64_t n)
{
	struct raw_row *raw;

	n = MIN(n, UINT32_MAX);
	if (n <= bd->cap_raw)
		return true;
	raw = g_try_renew(struct raw_row, bd->raw, n);
	if (!raw)
		return false;
	bd->raw = raw;
	bd->cap_raw = n;
	return true;
}

/* Room for one more raw row: its slot, or NULL (2^32 - 1 rows, no memory). */
static inline struct raw_row *raw_push(struct dw_build *bd)
{
	if (bd->n_raw == bd->cap_raw &&
	    (bd->cap_raw == UINT32_MAX ||
	     !raw_reserve(bd, bd->cap_raw ? 2 * (uint64_t)bd->cap_raw : 4096)))
		return NULL;
	return &bd->raw[bd->n_raw++];
}

/* Close the sequence of rows [start, n_raw), if it has any. */
static void end_seq(struct dw_build *bd, uint32_t start)
{
	struct raw_seq s = {
		.start = start, .n = bd->n_raw - start, .lo = UINT64_MAX,
		.sorted = true,
	};
	uint64_t prev = 0;

	if (!s.n)
		return;
	for (uint32_t i = start; i < bd->n_raw; i++) {
		uint64_t a = bd->raw[i].addr;

		s.lo = MIN(s.lo, a);
		s.hi = MAX(s.hi, a);
		s.sorted &= a >= prev;
		prev = a;
	}
	g_array_append_val(bd->seqs, s);
}

/*
 * Append a row to the raw rows; @prev_* carry, across the CU's table,
 * whether the row before had a line at the same address (PF_MULTI,
 * GCC's views).
 */
static inline bool add_row(struct dw_build *bd, const struct raw_row *row,
			   bool *prev_ok, uint64_t *prev_addr, uint32_t *seq)
{
	bool end = row->flags & RF_END, stmt = row->flags & RF_STMT;
	uint8_t pf = row->flags & PF_PROLOGUE_END;
	struct raw_row *r;

	if (!end && row->line && *prev_ok && *prev_addr == row->addr)
		pf |= PF_MULTI;
	*prev_ok = !end && row->line;
	*prev_addr = row->addr;
	/*
	 * The row before in the sequence has this address: fold this one
	 * into it, as dw_lines_merge() would fold them (an end_sequence
	 * there hides nothing).
	 */
	if (bd->n_raw > *seq && bd->raw[bd->n_raw - 1].addr == row->addr) {
		r = &bd->raw[bd->n_raw - 1];
		r->flags |= pf;
		if (!end) {
			r->line = row->line;
			r->file = row->file;
			r->discr = row->discr;
			if (stmt || !(r->flags & RF_STMT)) {
				r->sline = row->line;
				r->sfile = row->file;
			}
			r->flags |= stmt ? RF_STMT : 0;
		}
	} else {
		if (!(r = raw_push(bd)))
			return false;
		*r = *row;
		r->sline = row->line;
		r->sfile = row->file;
		r->flags |= pf;
	}
	if (end) {
		end_seq(bd, *seq);
		*seq = bd->n_raw;
	}
	return true;
}

/* -- libdwarf's decoder: files dwarfp does not map ------------------------ */

/*
 * The name of file @fno of the CU's table (its index in b->files),
 * asked of libdwarf once per CU: dwarf_linesrc() builds a new string
 * (directory and name) every call.
 */
static uint32_t file_name(struct dw_build *bd, Dwarf_Line line,
			  Dwarf_Unsigned fno)
{
	GArray *files = bd->files;
	g_auto(Dwarf_Error) err = NULL;
	uint32_t idx = 0;
	char *src;

	if (fno < files->len && g_array_index(files, uint32_t, fno))
		return g_array_index(files, uint32_t, fno);
	if (dwarf_linesrc(line, &src, dw_err(&err)) == DW_DLV_OK) {
		idx = name_index(bd, dw_intern(bd->b, src));
		dwarf_dealloc(bd->b->dbg, src, DW_DLA_STRING);
	}
	if (idx && fno < 65536) {	/* a bad number costs a call, not memory */
		if (fno >= files->len)
			g_array_set_size(files, fno + 1);
		g_array_index(files, uint32_t, fno) = idx;
	}
	return idx;
}

/* Read the CU's line table through libdwarf, in one pass. */
static void read_libdwarf(struct dw_build *bd, Dwarf_Die cu_die)
{
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Unsigned version;
	Dwarf_Small count;
	Dwarf_Line_Context ctx;
	Dwarf_Line *lines;
	Dwarf_Signed n;
	uint64_t prev_addr = 0;
	bool prev_ok = false;
	uint32_t seq = bd->n_raw;

	if (dwarf_srclines_b(cu_die, &version, &count, &ctx, dw_err(&err)) != DW_DLV_OK)
		return;
	g_array_set_size(bd->files, 0);
	if (dwarf_srclines_from_linecontext(ctx, &lines, &n, dw_err(&err)) != DW_DLV_OK)
		n = 0;
	for (Dwarf_Signed i = 0; i < n; i++) {
		struct raw_row row = { 0 };
		Dwarf_Addr addr;
		Dwarf_Unsigned lno, fno, isa, disc;
		Dwarf_Bool stmt, end, pend, ebeg;

		if (dwarf_lineaddr(lines[i], &addr, dw_err(&err)) != DW_DLV_OK ||
		    dwarf_lineno(lines[i], &lno, dw_err(&err)) != DW_DLV_OK ||
		    dwarf_linebeginstatement(lines[i], &stmt, dw_err(&err)) != DW_DLV_OK ||
		    dwarf_lineendsequence(lines[i], &end, dw_err(&err)) != DW_DLV_OK)
			continue;
		row.addr = addr;
		row.line = lno;
		row.flags = (stmt ? RF_STMT : 0) | (end ? RF_END : 0);
		if (dwarf_line_srcfileno(lines[i], &fno, dw_err(&err)) == DW_DLV_OK)
			row.file = file_name(bd, lines[i], fno);
		if (dwarf_prologue_end_etc(lines[i], &pend, &ebeg, &isa, &disc,
					   dw_err(&err)) == DW_DLV_OK) {
			row.flags |= pend ? PF_PROLOGUE_END : 0;
			row.discr = disc;
		}
		if (!add_row(bd, &row, &prev_ok, &prev_addr, &seq))
			break;
	}
	end_seq(bd, seq);
	dwarf_srclines_dealloc_b(ctx);
}

/* -- dwarfp's own decoder, over the mapped sections ----------------------- */

/*
 * A bounded little-endian reader.  A read past @end sets @bad and moves
 * @p to @end, so every loop over the data ends; the caller checks @bad.
 */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static inline void rd_fail(struct rd *r)
{
	r->bad = true;
	r->p = r->end;
}

static inline uint64_t rd_u(struct rd *r, unsigned int n)
{
	uint64_t v = 0;

	if ((size_t)(r->end - r->p) < n) {
		rd_fail(r);
		return 0;
	}
	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

static inline uint8_t rd_u8(struct rd *r)
{
	if (r->p >= r->end) {
		rd_fail(r);
		return 0;
	}
	return *r->p++;
}

/* A LEB128 number; sign-extended if @sign (an SLEB128). */
static inline uint64_t rd_leb(struct rd *r, bool sign)
{
	uint64_t v;

	if (!dw_leb(&r->p, r->end, &v, sign)) {
		rd_fail(r);
		return 0;
	}
	return v;
}

static inline uint64_t rd_uleb(struct rd *r)
{
	return rd_leb(r, false);
}

static inline int64_t rd_sleb(struct rd *r)
{
	return (int64_t)rd_leb(r, true);
}

static inline void rd_skip(struct rd *r, uint64_t n)
{
	if ((uint64_t)(r->end - r->p) < n)
		rd_fail(r);
	else
		r->p += n;
}

/* A NUL-terminated string in place. */
static const char *rd_str(struct rd *r)
{
	const uint8_t *nul = r->p < r->end ? memchr(r->p, 0, r->end - r->p) : NULL;
	const char *s = (const char *)r->p;

	if (!nul) {
		rd_fail(r);
		return NULL;
	}
	r->p = nul + 1;
	return s;
}

/* The string at @off of a string section, or NULL. */
static const char *sec_str(const uint8_t *sec, size_t size, uint64_t off)
{
	if (!sec || off >= size || !memchr(sec + off, 0, size - off))
		return NULL;
	return (const char *)sec + off;
}

/* What the program needs of a line table's header. */
struct lt_hdr {
	uint16_t version;
	uint8_t off_size;		/* 4: 32-bit DWARF, 8: 64-bit */
	uint8_t min_inst, max_ops, default_is_stmt, line_range, opcode_base;
	int8_t line_base;
	const uint8_t *std_len;		/* opcode_base - 1 operand counts */
	const char *comp_dir;
};

/*
 * One value of a DWARF 5 directory or file entry in form @form: a string
 * in *@str, a constant in *@val, or skipped.  False if the form is not
 * one a line table may use.
 */
static bool read_form(struct dw_build *bd, struct rd *r, const struct lt_hdr *h,
		      uint64_t form, const char **str, uint64_t *val)
{
	*str = NULL;
	*val = 0;
	switch (form) {
	case DW_FORM_string:
		*str = rd_str(r);
		return true;
	case DW_FORM_line_strp:
		*str = sec_str(bd->line_str, bd->line_str_size, rd_u(r, h->off_size));
		return *str || r->bad;
	case DW_FORM_strp:
		*str = sec_str(bd->str, bd->str_size, rd_u(r, h->off_size));
		return *str || r->bad;
	case DW_FORM_udata:
		*val = rd_uleb(r);
		return true;
	case DW_FORM_sdata:
		*val = rd_sleb(r);
		return true;
	case DW_FORM_data1:
		*val = rd_u(r, 1);
		return true;
	case DW_FORM_data2:
		*val = rd_u(r, 2);
		return true;
	case DW_FORM_data4:
		*val = rd_u(r, 4);
		return true;
	case DW_FORM_data8:
		*val = rd_u(r, 8);
		return true;
	case DW_FORM_data16:
		rd_skip(r, 16);
		return true;
	case DW_FORM_block:
		rd_skip(r, rd_uleb(r));
		return true;
	case DW_FORM_block1:
		rd_skip(r, rd_u(r, 1));
		return true;
	case DW_FORM_block2:
		rd_skip(r, rd_u(r, 2));
		return true;
	case DW_FORM_block4:
		rd_skip(r, rd_u(r, 4));
		return true;
	default:
		return false;
	}
}

/*
 * A DWARF 5 directory or file table (@files): its entry format, then its
 * entries.  Of each entry, the path and directory index are kept (in
 * bd->dirs or bd->fents); NULL, or what is wrong.
 */
static const char *read_entries(struct dw_build *bd, struct rd *r,
				const struct lt_hdr *h, bool files)
{
	uint64_t fmt[2 * 16];
	uint8_t n_fmt = rd_u8(r);
	uint64_t n;

	if (n_fmt > 16)
		return "too many entry formats";
	for (unsigned int i = 0; i < 2u * n_fmt; i++)
		fmt[i] = rd_uleb(r);
	n = rd_uleb(r);
	if (r->bad)
		return "header cut short";
	/* Each entry takes a byte at least, but one of no fields: no loop on those. */
	if (n && !n_fmt)
		return "entries without a format";
	if (n > (uint64_t)(r->end - r->p))
		return "more entries than bytes";
	for (uint64_t e = 0; e < n && !r->bad; e++) {
		struct lt_file fe = { 0 };

		for (unsigned int i = 0; i < n_fmt; i++) {
			const char *s;
			uint64_t v;

			if (!read_form(bd, r, h, fmt[2 * i + 1], &s, &v))
				return "a directory or file entry that cannot be read";
			if (fmt[2 * i] == DW_LNCT_path)
				fe.name = s;
			else if (fmt[2 * i] == DW_LNCT_directory_index)
				fe.dir = v;
		}
		if (files)
			g_array_append_val(bd->fents, fe);
		else
			g_ptr_array_add(bd->dirs, (void *)fe.name);
	}
	return r->bad ? "header cut short" : NULL;
}

/* DWARF 2-4: the include directories and files, each list ended by a 0. */
static const char *read_v4_tables(struct dw_build *bd, struct rd *r)
{
	while (!r->bad) {
		const char *d = rd_str(r);

		if (!d || !*d)
			break;
		g_ptr_array_add(bd->dirs, (void *)d);
	}
	while (!r->bad) {
		struct lt_file fe = { 0 };

		fe.name = rd_str(r);
		if (!fe.name || !*fe.name)
			break;
		fe.dir = rd_uleb(r);
		rd_uleb(r);		/* modification time */
		rd_uleb(r);		/* length */
		g_array_append_val(bd->fents, fe);
	}
	return r->bad ? "header cut short" : NULL;
}

/* Append directory @dir (NULL, "": none) and a '/' unless it ends in one. */
static void path_add(GString *p, const char *dir)
{
	if (!dir || !*dir)
		return;
	g_string_append(p, dir);
	if (p->str[p->len - 1] != '/')
		g_string_append_c(p, '/');
}

/*
 * The name of file entry @i, built once per entry, the way libdwarf's
 * dwarf_linesrc() builds it: an absolute name as it is; else under its
 * directory if that is absolute; else under the compilation directory
 * and the (relative) directory.  Directory 0 is the compilation
 * directory in DWARF 2-4 and, as libdwarf reads it, in DWARF 5 too (the
 * other numbers index the directory table from its second entry then).
 */
static uint32_t file_at(struct dw_build *bd, const struct lt_hdr *h, uint64_t i)
{
	struct lt_file *fe;
	const char *dir = "";
	GString *p = bd->path;

	if (i >= bd->fents->len)
		return 0;
	fe = &g_array_index(bd->fents, struct lt_file, i);
	if (fe->idx || !fe->name)
		return fe->idx;
	if (fe->name[0] == '/') {
		fe->idx = name_index(bd, dw_intern(bd->b, fe->name));
		return fe->idx;
	}
	/* DWARF 5 numbers the directories from 0, the compilation directory. */
	if (h->version >= 5) {
		if (fe->dir >= bd->dirs->len)
			return 0;
		dir = g_ptr_array_index(bd->dirs, fe->dir);
	} else if (fe->dir) {
		if (fe->dir > bd->dirs->len)
			return 0;
		dir = g_ptr_array_index(bd->dirs, fe->dir - 1);
	}
	if (!dir)
		dir = "";
	g_string_truncate(p, 0);
	if (dir[0] != '/')
		path_add(p, h->comp_dir);
	path_add(p, dir);
	g_string_append(p, fe->name);
	fe->idx = name_index(bd, dw_intern(bd->b, p->str));
	return fe->idx;
}

/* Read the header at @r (the unit's bytes after unit_length and version). */
static const char *read_header(struct dw_build *bd, struct rd *r, struct lt_hdr *h)
{
	uint64_t hlen;
	const char *why;
	struct rd hr;

	if (h->version >= 5) {
		rd_u8(r);		/* address_size: set_address says its own */
		if (rd_u8(r))
			return "segment selectors are not supported";
	}
	hlen = rd_u(r, h->off_size);
	if (r->bad || hlen > (uint64_t)(r->end - r->p))
		return "header_length past the unit's end";
	hr = (struct rd){ r->p, r->p + hlen, false };
	r->p += hlen;			/* the program */
	h->min_inst = rd_u8(&hr);
	h->max_ops = h->version >= 4 ? rd_u8(&hr) : 1;
	h->default_is_stmt = rd_u8(&hr) != 0;
	h->line_base = (int8_t)rd_u8(&hr);
	h->line_range = rd_u8(&hr);
	h->opcode_base = rd_u8(&hr);
	h->std_len = hr.p;
	if (h->opcode_base)
		rd_skip(&hr, h->opcode_base - 1u);
	if (hr.bad)
		return "header cut short";
	if (!h->line_range)
		return "line_range 0";
	if (!h->max_ops)
		return "maximum_operations_per_instruction 0";
	g_ptr_array_set_size(bd->dirs, 0);
	g_array_set_size(bd->fents, 0);
	if (h->version < 5)
		return read_v4_tables(bd, &hr);
	why = read_entries(bd, &hr, h, false);
	return why ? why : read_entries(bd, &hr, h, true);
}

/* The line-number state machine's registers. */
struct lt_regs {
	uint64_t addr, file, line;
	uint32_t op_index, discr;
	bool is_stmt, pend;
};

/*
 * The registers at the start of a sequence.  DWARF 5's file register
 * starts at 0 here, the unit's primary file, where the standard says 1:
 * so libdwarf 20210528 and binutils 2.40's addr2line read it, and gas
 * 2.40 writes tables whose file 1 is another file at times (a header:
 * the rows before any set_file are the primary file's code).
 */
static void regs_reset(struct lt_regs *s, const struct lt_hdr *h)
{
	*s = (struct lt_regs){
		.file = h->version >= 5 ? 0 : 1, .line = 1,
		.is_stmt = h->default_is_stmt,
	};
}

/* Advance the address by @adv operations (DWARF 4's op_index for VLIW). */
static inline void advance(struct lt_regs *s, const struct lt_hdr *h, uint64_t adv)
{
	if (h->max_ops == 1) {
		s->addr += adv * h->min_inst;
	} else {
		uint64_t ops = s->op_index + adv;

		s->addr += h->min_inst * (ops / h->max_ops);
		s->op_index = ops % h->max_ops;
	}
}

/* Run the program of @r; the rows go to bd->raw.  NULL, or what is wrong. */
static const char *run_program(struct dw_build *bd, struct rd *r,
			       const struct lt_hdr *h)
{
	/* File numbers start at 1 before DWARF 5, at 0 since. */
	uint64_t first = h->version >= 5 ? 0 : 1;
	uint64_t prev_addr = 0, cached_fno = UINT64_MAX;
	uint32_t cached = 0;
	bool prev_ok = false;
	uint32_t seq = bd->n_raw;
	struct lt_regs s;

	regs_reset(&s, h);
	while (r->p < r->end) {
		uint8_t op = *r->p++;
		bool emit = false, end = false;

		if (op >= h->opcode_base) {
			uint8_t adj = op - h->opcode_base;

			advance(&s, h, adj / h->line_range);
			s.line += (int64_t)h->line_base + adj % h->line_range;
			emit = true;
		} else if (op == 0) {
			uint64_t len = rd_uleb(r);
			const uint8_t *next;
			uint8_t eop;

			if (!len || len > (uint64_t)(r->end - r->p))
				return r->bad ? "program cut short" :
				       "extended opcode past the unit's end";
			next = r->p + len;
			eop = *r->p++;
			switch (eop) {
			case DW_LNE_end_sequence:
				emit = end = true;
				break;
			case DW_LNE_set_address:
				if (len - 1 > 8)
					return "set_address of more than 8 bytes";
				s.addr = rd_u(r, len - 1);
				s.op_index = 0;
				break;
			case DW_LNE_define_file: {
				struct rd fr = { r->p, next, false };
				struct lt_file fe = { 0 };

				fe.name = rd_str(&fr);
				fe.dir = rd_uleb(&fr);
				if (fr.bad)
					return "define_file cut short";
				g_array_append_val(bd->fents, fe);
				cached_fno = UINT64_MAX;	/* it may be the current one */
				break;
			}
			case DW_LNE_set_discriminator:
				s.discr = rd_uleb(r);
				break;
			default:
				/* Vendors' opcodes: nothing a row keeps. */
				break;
			}
			r->p = next;
		} else {
			switch (op) {
			case DW_LNS_copy:
				emit = true;
				break;
			case DW_LNS_advance_pc:
				advance(&s, h, rd_uleb(r));
				break;
			case DW_LNS_advance_line:
				s.line += rd_sleb(r);
				break;
			case DW_LNS_set_file:
				s.file = rd_uleb(r);
				break;
			case DW_LNS_set_column:
				rd_uleb(r);
				break;
			case DW_LNS_negate_stmt:
				s.is_stmt = !s.is_stmt;
				break;
			case DW_LNS_set_basic_block:
				break;
			case DW_LNS_const_add_pc:
				advance(&s, h, (255u - h->opcode_base) / h->line_range);
				break;
			case DW_LNS_fixed_advance_pc:
				s.addr += rd_u(r, 2);
				s.op_index = 0;
				break;
			case DW_LNS_set_prologue_end:
				s.pend = true;
				break;
			case DW_LNS_set_epilogue_begin:
				break;
			case DW_LNS_set_isa:
				rd_uleb(r);
				break;
			default:
				/* An opcode of a later version: skip its operands. */
				for (unsigned int i = 0; i < h->std_len[op - 1] && !r->bad; i++)
					rd_uleb(r);
				break;
			}
		}
		if (r->bad)
			return "program cut short";
		if (emit) {
			struct raw_row row = {
				.addr = s.addr, .line = (uint32_t)s.line,
				.flags = (s.is_stmt ? RF_STMT : 0) | (end ? RF_END : 0) |
					 (s.pend ? PF_PROLOGUE_END : 0),
				.discr = s.discr,
			};

			if (s.file != cached_fno) {
				cached_fno = s.file;
				cached = s.file >= first ? file_at(bd, h, s.file - first) : 0;
			}
			row.file = cached;
			if (!add_row(bd, &row, &prev_ok, &prev_addr, &seq))
				return "more rows than dwarfp can keep";
			s.pend = false;
			s.discr = 0;
			if (end)
				regs_reset(&s, h);
		}
	}
	end_seq(bd, seq);
	return NULL;
}

/* Note a broken table: the first one's reason and how many. */
static void lines_broken(struct dw_build *bd, uint64_t off, const char *cu_name,
			 const char *why)
{
	if (!bd->n_broken++)
		bd->broken = g_strdup_printf(".debug_line at 0x%" PRIx64 " (unit %s): %s",
					     off, cu_name ? cu_name : "?", why);
}

/* Find the mapped sections the decoder reads, once. */
static void find_sections(struct dw_build *bd)
{
	if (bd->looked)
		return;
	bd->looked = true;
	if (bd->use_libdwarf)
		return;
	bd->line = dw_elfsrc_section(bd->b->src, ".debug_line", &bd->line_size);
	if (!bd->line)
		return;
	/*
	 * About 4 bytes of program a row, 2.7 rows an address (GCC's; clang
	 * has fewer rows an address): one allocation, mostly.
	 */
	raw_reserve(bd, bd->line_size / 8 + 64);
	bd->line_str = dw_elfsrc_section(bd->b->src, ".debug_line_str",
					 &bd->line_str_size);
	bd->str = dw_elfsrc_section(bd->b->src, ".debug_str", &bd->str_size);
}

int dw_lines_read_at(struct dw_build *bd, uint64_t off, const char *comp_dir,
		     const char *cu_name, unsigned int addr_size)
{
	uint32_t raw0 = bd->n_raw, seqs0 = bd->seqs->len;
	struct lt_hdr h = { .comp_dir = comp_dir };
	struct rd r;
	uint64_t len;
	const char *why;

	(void)addr_size;	/* each set_address says its size */
	find_sections(bd);
	if (!bd->line)
		return -ENOTSUP;
	if (off >= bd->line_size) {
		lines_broken(bd, off, cu_name, "past the section's end");
		return -EINVAL;
	}
	r = (struct rd){ bd->line + off, bd->line + bd->line_size, false };
	len = rd_u(&r, 4);
	h.off_size = 4;
	if (len == 0xffffffff) {
		len = rd_u(&r, 8);
		h.off_size = 8;
	} else if (len >= 0xfffffff0) {
		why = "reserved unit length";
		goto bad;
	}
	if (r.bad || len > (uint64_t)(r.end - r.p)) {
		why = "unit length past the section's end";
		goto bad;
	}
	r.end = r.p + len;
	h.version = rd_u(&r, 2);
	if (h.version < 2 || h.version > 5) {
		why = r.bad ? "header cut short" : "version not 2 to 5";
		goto bad;
	}
	why = read_header(bd, &r, &h);
	if (!why)
		why = run_program(bd, &r, &h);
	if (!why)
		return 0;
bad:
	/* Nothing of a broken table: its rows so far go too. */
	bd->n_raw = raw0;
	g_array_set_size(bd->seqs, seqs0);
	lines_broken(bd, off, cu_name, why);
	return -EINVAL;
}

/* A string attribute of @die, or NULL. */
static const char *attr_str(Dwarf_Die die, Dwarf_Half at)
{
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Attribute a;
	char *s = NULL;

	if (dwarf_attr(die, at, &a, dw_err(&err)) != DW_DLV_OK)
		return NULL;
	if (dwarf_formstring(a, &s, dw_err(&err)) != DW_DLV_OK)
		s = NULL;
	dwarf_dealloc_attribute(a);
	return s;
}

/*
 * Read the CU's line table in one pass: each row, whether it is flagged
 * prologue_end, and whether it is the second row with a line at its
 * address (PF_MULTI, GCC's views).  dwarfp's own decoder reads it where
 * the file is mapped; libdwarf's, if it is not (or if asked to).
 */
void dw_lines_read(struct dw_build *bd, Dwarf_Die cu_die)
{
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Attribute a;
	Dwarf_Off off;
	Dwarf_Half as = 0;
	int rc;

	find_sections(bd);
	if (!bd->line) {
		read_libdwarf(bd, cu_die);
		return;
	}
	if (dwarf_attr(cu_die, DW_AT_stmt_list, &a, dw_err(&err)) != DW_DLV_OK)
		return;
	rc = dwarf_global_formref(a, &off, dw_err(&err));
	dwarf_dealloc_attribute(a);
	if (rc != DW_DLV_OK)
		return;
	if (dwarf_get_die_address_size(cu_die, &as, dw_err(&err)) != DW_DLV_OK)
		as = 0;
	dw_lines_read_at(bd, off, attr_str(cu_die, DW_AT_comp_dir),
			 attr_str(cu_die, DW_AT_name), as);
}

/* -- one row per address ------------------------------------------------ */

static gint addr_cmp(gconstpointer a, gconstpointer b)
{
	const struct raw_row *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static gint seq_cmp(gconstpointer a, gconstpointer b)
{
	const struct raw_seq *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

static gint start_cmp(gconstpointer a, gconstpointer b)
{
	const struct raw_seq *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The merged rows so far: b->rows' first @o, and their PF_* flags. */
struct merge {
	struct dw_row *rows;
	uint8_t *pflags;
	guint o;
};

/*
 * Add @cur, the next raw row by (address, table order).  Keep one row
 * per address: the last, as binutils does, except that an end_sequence
 * never hides a row that starts another sequence there.  The statement
 * line of an address is its last statement row's.
 */
static inline void merge_row(struct merge *m, const struct raw_row *cur)
{
	struct dw_row r = {
		.addr = cur->addr, .file = cur->file, .line = cur->line,
		.is_stmt = !!(cur->flags & RF_STMT), .end = !!(cur->flags & RF_END),
		.sfile = cur->sfile, .sline = cur->sline,
		.discr = cur->discr,
	};
	uint8_t pf = cur->flags & (PF_PROLOGUE_END | PF_MULTI);

	if (m->o && m->rows[m->o - 1].addr == cur->addr) {
		struct dw_row *keep = &m->rows[m->o - 1];

		m->pflags[m->o - 1] |= pf;
		if (r.end && !keep->end)
			return;
		if (!r.is_stmt && keep->is_stmt && !keep->end) {
			r.is_stmt = 1;
			r.sfile = keep->sfile;
			r.sline = keep->sline;
		}
		*keep = r;
		return;
	}
	m->pflags[m->o] = pf;
	m->rows[m->o++] = r;
}

/*
 * All tables read: the raw rows by (address, table order), merged.  The
 * sequences are taken by their lowest address; each one that overlaps no
 * other and goes up (nearly all) is merged where it lies.  The rows of a
 * group of overlapping sequences (the Linux kernel's vmlinux: 135 groups,
 * 0.6 of its 4.2 million rows), or of one that goes backwards, are copied
 * in table order and sorted by address, stably: the groups span disjoint
 * addresses, so this is the order of a sort of all rows.
 */
void dw_lines_merge(struct dw_build *bd)
{
	g_autoptr(GArray) scratch = g_array_new(FALSE, FALSE, sizeof(struct raw_row));
	g_autoptr(GArray) group = g_array_new(FALSE, FALSE, sizeof(struct raw_seq));
	const struct raw_seq *seqs;
	struct dw_binary *b = bd->b;
	struct merge m = { 0 };
	guint n_seqs = bd->seqs->len;

	g_array_set_size(b->rows, bd->n_raw);
	m.rows = (struct dw_row *)b->rows->data;
	bd->pflags = g_malloc0(bd->n_raw ? bd->n_raw : 1);
	m.pflags = bd->pflags;
	g_array_sort(bd->seqs, seq_cmp);
	seqs = (const struct raw_seq *)bd->seqs->data;
	for (guint i = 0, j; i < n_seqs; i = j) {
		uint64_t hi = seqs[i].hi;

		/* A group ends where a sequence starts above all before it. */
		for (j = i + 1; j < n_seqs && seqs[j].lo <= hi; j++)
			hi = MAX(hi, seqs[j].hi);
		if (j == i + 1 && seqs[i].sorted) {
			for (uint32_t k = 0; k < seqs[i].n; k++)
				merge_row(&m, &bd->raw[seqs[i].start + k]);
			continue;
		}
		g_array_set_size(group, 0);
		g_array_append_vals(group, &seqs[i], j - i);
		g_array_sort(group, start_cmp);
		g_array_set_size(scratch, 0);
		for (guint k = 0; k < group->len; k++) {
			const struct raw_seq *s = &g_array_index(group, struct raw_seq, k);

			g_array_append_vals(scratch, &bd->raw[s->start], s->n);
		}
		/* GLib's sort is stable: rows at one address stay in table order. */
		g_array_sort(scratch, addr_cmp);
		for (guint k = 0; k < scratch->len; k++)
			merge_row(&m, &g_array_index(scratch, struct raw_row, k));
	}
	g_array_set_size(b->rows, m.o);
	if (bd->n_broken) {
		g_autofree char *w = g_strdup_printf("%u broken line table(s) "
			"skipped; the first: %s", bd->n_broken, bd->broken);

		dw_warn(b, w);
	}
}

/*
 * The address after the prologue: the first row in the function flagged
 * prologue_end if the compiler says (clang does), else the second row of
 * the function (the first with an address above the entry), except that
 * a function whose entry starts two rows has an empty prologue.  This is
 * what gdb's skip_prologue_using_sal finds for GCC's code ("break FUNC").
 */
void dw_post_prologue(const struct dw_build *bd, struct dw_func *f)
{
	struct dw_binary *b = bd->b;
	const struct dw_row *rows = (const struct dw_row *)b->rows->data;
	guint n = b->rows->len, lo = 0, hi = n;
	const struct dw_row *pick = NULL;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (rows[mid].addr < f->lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	/*
	 * GCC at -O1 and above describes an empty prologue with several rows
	 * at the entry (its "views"): the body starts at the entry, as gdb's
	 * skip_prologue_using_sal concludes from the same rows.
	 */
	if (lo < n && rows[lo].addr == f->lo && (bd->pflags[lo] & PF_MULTI))
		lo = n;
	for (guint i = lo; i < n && rows[i].addr < f->hi; i++) {
		if (rows[i].end || !rows[i].line)
			continue;
		if (bd->pflags[i] & PF_PROLOGUE_END) {
			pick = &rows[i];
			break;
		}
		if (!pick && rows[i].addr > f->lo && rows[i].is_stmt)
			pick = &rows[i];
	}
	if (!pick) {
		const struct dw_row *r = dw_row_at(b, f->lo);

		f->post_prologue = f->lo;
		f->pp_file = r ? dw_file(b, r->sfile) : NULL;
		f->pp_line = r ? r->sline : 0;
		return;
	}
	f->post_prologue = pick->addr;
	f->pp_file = dw_file(b, pick->sfile);
	f->pp_line = pick->sline;
}
