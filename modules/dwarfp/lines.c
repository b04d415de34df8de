// SPDX-License-Identifier: MIT
/*
 * lines.c - dwarfp's line tables: each CU's table read in one pass
 * (dw_lines_read()), the rows of every CU merged into one row per address
 * (dw_lines_merge(): what addr2line reports), and the post-prologue
 * address of a function found in the merged rows (dw_post_prologue():
 * where gdb's "break FUNC" stops).
 *
 * dw_open() is on the path of every dwarfp load, so each table is read
 * once and a file's name is asked of libdwarf once per CU, not per row.
 */
#include <stdlib.h>
#include <string.h>

#include "index.h"

enum {
	PF_PROLOGUE_END = 1,	/* some row here is flagged prologue_end */
	PF_MULTI = 2,		/* the table starts two rows with a line here */
};

/* A line-table row as read, before the rows are merged by address. */
struct raw_row {
	uint64_t addr;
	const char *file;
	uint32_t line;
	uint32_t order;			/* in table order: the sort is stable */
	uint8_t is_stmt, end, pflags;
};

/* A sequence: rows [start, start + n) of the raw rows, from address lo. */
struct raw_seq {
	uint64_t lo;
	uint32_t start, n;
};

void dw_lines_init(struct dw_build *bd, struct dw_binary *b)
{
	bd->b = b;
	bd->raw = g_array_new(FALSE, FALSE, sizeof(struct raw_row));
	bd->seqs = g_array_new(FALSE, FALSE, sizeof(struct raw_seq));
	bd->files = g_ptr_array_new();
	bd->pflags = NULL;
}

void dw_lines_free(struct dw_build *bd)
{
	g_array_free(bd->raw, TRUE);
	g_array_free(bd->seqs, TRUE);
	g_ptr_array_free(bd->files, TRUE);
	g_free(bd->pflags);
}

/*
 * The name of file @fno of the CU's table, asked of libdwarf once per CU:
 * dwarf_linesrc() builds a new string (directory and name) every call.
 */
static const char *file_name(struct dw_build *bd, Dwarf_Line line,
			     Dwarf_Unsigned fno)
{
	GPtrArray *files = bd->files;
	g_auto(Dwarf_Error) err = NULL;
	const char *name = NULL;
	char *src;

	if (fno < files->len && files->pdata[fno])
		return files->pdata[fno];
	if (dwarf_linesrc(line, &src, dw_err(&err)) == DW_DLV_OK) {
		name = dw_intern(bd->b, src);
		dwarf_dealloc(bd->b->dbg, src, DW_DLA_STRING);
	}
	if (name && fno < 65536) {	/* a bad number costs a call, not memory */
		if (fno >= files->len)
			g_ptr_array_set_size(files, fno + 1);
		files->pdata[fno] = (void *)name;
	}
	return name;
}

static void end_seq(struct dw_build *bd, uint32_t start)
{
	struct raw_seq s = { .start = start, .n = bd->raw->len - start };

	if (!s.n)
		return;
	s.lo = g_array_index(bd->raw, struct raw_row, start).addr;
	g_array_append_val(bd->seqs, s);
}

/*
 * Read the CU's line table in one pass: each row, whether it is flagged
 * prologue_end, and whether it is the second row with a line at its
 * address (PF_MULTI, GCC's views).
 */
void dw_lines_read(struct dw_build *bd, Dwarf_Die cu_die)
{
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Unsigned version;
	Dwarf_Small count;
	Dwarf_Line_Context ctx;
	Dwarf_Line *lines;
	Dwarf_Signed n;
	uint64_t prev_addr = 0;
	bool prev_ok = false;
	uint32_t seq = bd->raw->len;

	if (dwarf_srclines_b(cu_die, &version, &count, &ctx, dw_err(&err)) != DW_DLV_OK)
		return;
	g_ptr_array_set_size(bd->files, 0);
	if (dwarf_srclines_from_linecontext(ctx, &lines, &n, dw_err(&err)) != DW_DLV_OK)
		n = 0;
	for (Dwarf_Signed i = 0; i < n; i++) {
		struct raw_row row = { .order = bd->raw->len };
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
		row.is_stmt = stmt;
		row.end = end;
		if (dwarf_line_srcfileno(lines[i], &fno, dw_err(&err)) == DW_DLV_OK)
			row.file = file_name(bd, lines[i], fno);
		if (dwarf_prologue_end_etc(lines[i], &pend, &ebeg, &isa, &disc,
					   dw_err(&err)) == DW_DLV_OK && pend)
			row.pflags |= PF_PROLOGUE_END;
		if (!end && lno && prev_ok && prev_addr == addr)
			row.pflags |= PF_MULTI;
		prev_ok = !end && lno;
		prev_addr = addr;
		g_array_append_val(bd->raw, row);
		if (end) {
			end_seq(bd, seq);
			seq = bd->raw->len;
		}
	}
	end_seq(bd, seq);
	dwarf_srclines_dealloc_b(ctx);
}

/* -- one row per address ------------------------------------------------ */

static int raw_cmp(const void *a, const void *b)
{
	const struct raw_row *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int seq_cmp(const void *a, const void *b)
{
	const struct raw_seq *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * The raw rows by (address, table order).  Each sequence is sorted, so
 * the sequences are sorted by their first address and laid end to end;
 * where sequences overlap, only the rows of each group of overlapping
 * ones are sorted (the Linux kernel's vmlinux: 135 groups, 0.6 of its 4.2
 * million rows; sorting them all took a quarter of a second).  A table
 * that goes backwards inside a sequence is caught by the check after,
 * and then all rows are sorted.
 */
static GArray *sorted_raw(struct dw_build *bd)
{
	GArray *in = bd->raw, *out;
	const struct raw_row *prev = NULL;
	guint group = 0, n_group = 0;
	uint64_t group_hi = 0;
	bool sorted = true;

	g_array_sort(bd->seqs, seq_cmp);
	out = g_array_sized_new(FALSE, FALSE, sizeof(struct raw_row), in->len);
	for (guint i = 0; i <= bd->seqs->len; i++) {
		const struct raw_seq *s = i < bd->seqs->len ?
			&g_array_index(bd->seqs, struct raw_seq, i) : NULL;
		const struct raw_row *last;

		/* A group ends where a sequence starts above all before it. */
		if (!s || !n_group || s->lo > group_hi) {
			if (n_group > 1)
				qsort(&g_array_index(out, struct raw_row, group),
				      out->len - group, sizeof(struct raw_row), raw_cmp);
			if (!s)
				break;
			group = out->len;
			n_group = 0;
			group_hi = 0;
		}
		g_array_append_vals(out, &g_array_index(in, struct raw_row, s->start), s->n);
		last = &g_array_index(out, struct raw_row, out->len - 1);
		group_hi = MAX(group_hi, last->addr);
		n_group++;
	}
	for (guint i = 0; i < out->len && sorted; i++) {
		const struct raw_row *r = &g_array_index(out, struct raw_row, i);

		sorted = !prev || raw_cmp(prev, r) < 0;
		prev = r;
	}
	if (!sorted)
		qsort(out->data, out->len, sizeof(struct raw_row), raw_cmp);
	return out;
}

/*
 * Keep one row per address: the last, as binutils does, except that an
 * end_sequence never hides a row that starts another sequence there.  The
 * statement line of an address is its last statement row's.
 */
void dw_lines_merge(struct dw_build *bd)
{
	g_autoptr(GArray) raw = sorted_raw(bd);
	struct dw_binary *b = bd->b;
	struct dw_row *rows;
	guint o = 0;

	g_array_set_size(b->rows, raw->len);
	rows = (struct dw_row *)b->rows->data;
	bd->pflags = g_malloc0(raw->len ? raw->len : 1);
	for (guint i = 0; i < raw->len; i++) {
		const struct raw_row *cur = &g_array_index(raw, struct raw_row, i);
		struct dw_row r = {
			.addr = cur->addr, .file = cur->file, .line = cur->line,
			.is_stmt = cur->is_stmt, .end = cur->end,
			.sfile = cur->file, .sline = cur->line,
		};

		if (o && rows[o - 1].addr == cur->addr) {
			struct dw_row keep = rows[o - 1];

			bd->pflags[o - 1] |= cur->pflags;
			if (cur->end && !keep.end)
				continue;
			if (!cur->is_stmt && keep.is_stmt && !keep.end) {
				r.is_stmt = 1;
				r.sfile = keep.sfile;
				r.sline = keep.sline;
			}
			rows[o - 1] = r;
			continue;
		}
		bd->pflags[o] = cur->pflags;
		rows[o++] = r;
	}
	g_array_set_size(b->rows, o);
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
		const struct dw_row *r = dw_line_at(b, f->lo);

		f->post_prologue = f->lo;
		f->pp_file = r ? r->sfile : NULL;
		f->pp_line = r ? r->sline : 0;
		return;
	}
	f->post_prologue = pick->addr;
	f->pp_file = pick->sfile;
	f->pp_line = pick->sline;
}
