// SPDX-License-Identifier: MIT
/*
 * dwarfp's lookup of pc -> line and innermost function
 * (modules/dwarfp/addrmap.c): on made-up rows and segments, against a
 * plain search of them, for every address at, around and between the
 * rows.  The map packs file, line and discriminator into 32 bits with
 * widths taken from the binary: values past them (a file index past
 * 65535, a line past 2^20, a discriminator past the bits left) must come
 * back whole, as must the rows of a binary whose span needs 64-bit
 * offsets.
 */
#include <inttypes.h>

#include "../../modules/dwarfp/index.h"
#include "unit.h"

/* A made-up binary: its rows, files and innermost-function segments. */
struct fake {
	struct dw_binary b;
	GArray *segs;			/* struct dw_seg: the reference's copy */
	struct dw_func *fns;
	guint row_at, seg_at;		/* the reference's last answers */
	GArray *asked;			/* uint64_t: every address checked */
};

static void fake_free(struct fake *f)
{
	dw_pcmap_free(f->b.pc_map);
	g_array_free(f->b.rows, TRUE);
	g_ptr_array_free(f->b.files, TRUE);
	g_array_free(f->segs, TRUE);
	g_array_free(f->asked, TRUE);
	g_free(f->fns);
	g_free(f);
}

/*
 * The row at or below @addr, as the map must find it: NULL if none or an
 * end.  Walked to from the last answer (the checks go mostly upwards),
 * not searched as the map searches.
 */
static const struct dw_row *ref_row(struct fake *f, uint64_t addr)
{
	const struct dw_row *rows = (const struct dw_row *)f->b.rows->data;
	guint i = f->row_at;		/* the rows at or below the last address */

	while (i && rows[i - 1].addr > addr)
		i--;
	while (i < f->b.rows->len && rows[i].addr <= addr)
		i++;
	f->row_at = i;
	return i && !rows[i - 1].end ? &rows[i - 1] : NULL;
}

static const struct dw_func *ref_fn(struct fake *f, uint64_t addr)
{
	const struct dw_seg *s = (const struct dw_seg *)f->segs->data;
	guint i = f->seg_at;

	while (i && s[i - 1].lo > addr)
		i--;
	while (i < f->segs->len && s[i].lo <= addr)
		i++;
	f->seg_at = i;
	return i && addr < s[i - 1].hi ? s[i - 1].fn : NULL;
}

/* Each lookup of @addr answers what the plain search does. */
static void check_addr(struct fake *f, uint64_t addr)
{
	const struct dw_row *r = ref_row(f, addr), *got_row = dw_row_at(&f->b, addr);
	const struct dw_func *want = ref_fn(f, addr), *fn = (void *)1;
	struct dw_line ln = { 0 }, ln2 = { 0 };
	bool found = dw_pc_at(&f->b, addr, &ln, &fn);

	g_array_append_val(f->asked, addr);
	if (found != !!r || dw_line_at(&f->b, addr, &ln2) != !!r || fn != want ||
	    dw_func_at(&f->b, addr, true) != want || got_row != r)
		g_error("0x%" PRIx64 ": line %s (want %s), function %p (want %p)",
			addr, found ? "found" : "none", r ? "one" : "none",
			(void *)fn, (void *)want);
	if (!r)
		return;
	if (g_strcmp0(ln.file, dw_file(&f->b, r->file)) || ln.line != r->line ||
	    ln.discr != r->discr || ln.file != ln2.file || ln.line != ln2.line ||
	    ln.discr != ln2.discr)
		g_error("0x%" PRIx64 ": %s:%" PRIu32 " discr %" PRIu32 ", want %s:%" PRIu32
			" discr %" PRIu32, addr, ln.file, ln.line, ln.discr,
			dw_file(&f->b, r->file), r->line, r->discr);
}

/* dw_pc_at_n() of every address checked answers as dw_pc_at() of each. */
static void check_batch(struct fake *f)
{
	const uint64_t *a = (const uint64_t *)f->asked->data;
	g_autofree struct dw_pc *pc = g_new(struct dw_pc, f->asked->len + 1);

	/* The last answer's neighbour must stay as it was. */
	pc[f->asked->len].found = true;
	dw_pc_at_n(&f->b, a, f->asked->len, pc);
	g_assert_true(pc[f->asked->len].found);
	for (guint i = 0; i < f->asked->len; i++) {
		struct dw_line ln = { 0 };
		const struct dw_func *fn;
		bool found = dw_pc_at(&f->b, a[i], &ln, &fn);

		if (pc[i].found != found || pc[i].fn != fn ||
		    (found && (pc[i].line.file != ln.file || pc[i].line.line != ln.line ||
			       pc[i].line.discr != ln.discr)))
			g_error("0x%" PRIx64 " (%u of %u): dw_pc_at_n() answers otherwise",
				a[i], i, f->asked->len);
	}
}

static void check_all(struct fake *f)
{
	const struct dw_row *rows = (const struct dw_row *)f->b.rows->data;
	guint n = f->b.rows->len;

	check_addr(f, 0);
	check_addr(f, UINT64_MAX);
	for (guint i = 0; i < n; i++) {
		check_addr(f, rows[i].addr - 1);
		check_addr(f, rows[i].addr);
		check_addr(f, rows[i].addr + 1);
		if (i + 1 < n)
			check_addr(f, rows[i].addr + (rows[i + 1].addr - rows[i].addr) / 2);
	}
	for (guint i = 0; i < f->segs->len; i++) {
		const struct dw_seg *s = &g_array_index(f->segs, struct dw_seg, i);

		check_addr(f, s->lo - 1);
		check_addr(f, s->lo);
		check_addr(f, s->hi - 1);
		check_addr(f, s->hi);
	}
	if (n)
		check_addr(f, rows[n - 1].addr + 4096);
	check_batch(f);
}

/* A random number below @n (> 0). */
static uint32_t below(GRand *rnd, uint32_t n)
{
	return g_rand_int_range(rnd, 0, (gint32)MIN(n, (uint32_t)G_MAXINT32));
}

/*
 * @n_rows rows from @base, @gap bytes apart at most (1 to @gap), with
 * @n_files files; lines up to @max_line and discriminators up to
 * @max_discr, each kind of large value now and then; every 50th row ends
 * a sequence; functions over stretches of them, with holes between.
 */
static struct fake *fake_new(uint64_t base, guint n_rows, uint32_t gap,
			     guint n_files, uint32_t max_line, uint32_t max_discr,
			     uint64_t jump_at, uint64_t jump)
{
	struct fake *f = g_new0(struct fake, 1);
	g_autoptr(GRand) rnd = g_rand_new_with_seed(n_rows ^ n_files ^ max_line);
	uint64_t a = base;
	guint n_fns = (n_rows + 7) / 8;

	f->asked = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	f->b.rows = g_array_new(FALSE, TRUE, sizeof(struct dw_row));
	f->b.files = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(f->b.files, NULL);
	for (guint i = 1; i < n_files; i++)
		g_ptr_array_add(f->b.files, g_strdup_printf("/src/file%u.c", i));
	for (guint i = 0; i < n_rows; i++) {
		struct dw_row r = { .addr = a };
		uint32_t pick = below(rnd, 10);

		/* Mostly small values, some at the top of each range. */
		r.file = pick == 0 ? n_files - 1 - below(rnd, MIN(n_files, 8)) :
			 below(rnd, MIN(n_files, 40));
		r.line = pick == 1 ? max_line - below(rnd, 4) :
			 below(rnd, MIN(max_line, 3000) + 1);
		r.discr = pick == 2 ? max_discr :
			  pick == 3 ? below(rnd, MIN(max_discr, 7) + 1) : 0;
		r.sfile = r.file;
		r.sline = r.line;
		r.is_stmt = 1;
		r.end = i % 50 == 49 || i == n_rows - 1;
		g_array_append_val(f->b.rows, r);
		a += 1 + below(rnd, gap);
		if (i == jump_at)
			a += jump;
	}
	f->fns = g_new0(struct dw_func, n_fns);
	f->segs = g_array_new(FALSE, FALSE, sizeof(struct dw_seg));
	for (guint k = 0; k < n_fns; k++) {
		const struct dw_row *rows = (const struct dw_row *)f->b.rows->data;
		guint i = k * 8, j = MIN(i + 1 + below(rnd, 7), n_rows - 1);
		/* Some start between rows, some end past the next row. */
		struct dw_seg s = { rows[i].addr + (k % 3 == 1), rows[j].addr + (k % 4 == 2),
				    &f->fns[k] };

		if (k % 5 == 4 || s.hi <= s.lo)
			continue;
		f->fns[k].name = "fn";
		g_array_append_val(f->segs, s);
	}
	f->b.pc_map = dw_pcmap_new(&f->b, g_array_copy(f->segs));
	return f;
}

/* Everything packs: the code's usual case. */
static void test_small(void)
{
	struct fake *f = fake_new(0x401000, 5000, 16, 30, 900, 5, UINT64_MAX, 0);

	check_all(f);
	fake_free(f);
}

/* Dense rows: buckets of many rows. */
static void test_dense(void)
{
	struct fake *f = fake_new(0xffffffff81000000ull, 20000, 2, 300, 20000, 3,
				  10000, 1 << 20);

	check_all(f);
	fake_free(f);
}

/* A file index past 65535: the file's width stops at 16 bits. */
static void test_many_files(void)
{
	struct fake *f = fake_new(0x1000, 4000, 8, 70000, 500, 2, UINT64_MAX, 0);

	check_all(f);
	fake_free(f);
}

/* A line past 2^20 and discriminators that fill the bits left. */
static void test_big_values(void)
{
	struct fake *f = fake_new(0x1000, 4000, 8, 100, (1u << 20) + 7, 1u << 12,
				  UINT64_MAX, 0);

	check_all(f);
	fake_free(f);
	/* Line and discriminator at the top of 32 bits. */
	f = fake_new(0x1000, 3000, 8, 5000, UINT32_MAX, UINT32_MAX, UINT64_MAX, 0);
	check_all(f);
	fake_free(f);
}

/*
 * Rows whose fields at the top of their widths would pack into the two
 * values the map keeps for "no line" and "see the row".
 */
static void test_reserved(void)
{
	struct fake *f = fake_new(0x1000, 400, 8, 16, 1023, 0, UINT64_MAX, 0);
	struct dw_row *rows = (struct dw_row *)f->b.rows->data;

	/* 4 bits of file (16 files), 10 of line (1023), 18 of discriminator. */
	for (guint i = 0; i < 6; i++) {
		rows[10 + i] = (struct dw_row){ .addr = rows[10 + i].addr, .file = 15,
						.line = 1023 - i % 3, .discr = (1u << 18) - 1,
						.is_stmt = 1 };
		rows[10 + i].sfile = rows[10 + i].file;
		rows[10 + i].sline = rows[10 + i].line;
	}
	dw_pcmap_free(f->b.pc_map);
	f->b.pc_map = dw_pcmap_new(&f->b, g_array_copy(f->segs));
	check_all(f);
	fake_free(f);
}

/* A span past 32-bit offsets: the rows and segments searched as they are. */
static void test_wide(void)
{
	struct fake *f = fake_new(0x1000, 3000, 8, 100, 900, 3, 1500, 1ull << 33);

	check_all(f);
	fake_free(f);
}

/* No rows, no functions; rows without functions. */
static void test_empty(void)
{
	struct fake *f = fake_new(0x1000, 1, 8, 1, 0, 0, UINT64_MAX, 0);

	check_all(f);
	fake_free(f);
	f = g_new0(struct fake, 1);
	f->asked = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	f->b.rows = g_array_new(FALSE, TRUE, sizeof(struct dw_row));
	f->b.files = g_ptr_array_new();
	g_ptr_array_add(f->b.files, NULL);
	f->segs = g_array_new(FALSE, FALSE, sizeof(struct dw_seg));
	f->b.pc_map = dw_pcmap_new(&f->b, g_array_copy(f->segs));
	check_addr(f, 0);
	check_addr(f, 0x1000);
	check_addr(f, UINT64_MAX);
	check_batch(f);
	fake_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dwarfp/pcmap/small", test_small);
	g_test_add_func("/dwarfp/pcmap/dense", test_dense);
	g_test_add_func("/dwarfp/pcmap/many-files", test_many_files);
	g_test_add_func("/dwarfp/pcmap/big-values", test_big_values);
	g_test_add_func("/dwarfp/pcmap/reserved", test_reserved);
	g_test_add_func("/dwarfp/pcmap/wide", test_wide);
	g_test_add_func("/dwarfp/pcmap/empty", test_empty);
	return g_test_run();
}
