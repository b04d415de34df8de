// SPDX-License-Identifier: MIT
/*
 * dwarfp-query - dwarfp's index (modules/dwarfp/index.c), without QEMU.
 *
 *   dwarfp-query rows ELF        every line-table address, one hex a line
 *   dwarfp-query lines ELF       every row of the merged line table (address,
 *                                file:line, statement flag, end of sequence,
 *                                the statement file:line, discriminator), then what `funcs`
 *                                prints: what the line tables give, to compare
 *                                dwarfp's decoder with libdwarf's
 *                                (DWARFP_LINES=libdwarf)
 *   dwarfp-query lookup ELF      for each hex address on stdin, two lines as
 *                                `addr2line -f -e ELF` prints them, with the
 *                                line's discriminator (in a
 *                                kernel image, a function without DWARF
 *                                named from the ELF symbols, as dwarfp does)
 *   dwarfp-query funcs ELF       name entry post-prologue file:line
 *   dwarfp-query dump ELF [ADDR]...  every function, inlined ones too,
 *                                with every field of the index (ranges,
 *                                outer function, compile unit, the lookup
 *                                of its entry), the globals with their
 *                                location expressions, then the variables
 *                                in scope at each hex ADDR: to compare two
 *                                ways of building the index
 *   dwarfp-query vars ELF [ADDR]...  the variables of each function (or
 *                                those in scope at each hex ADDR) and the
 *                                globals:
 *                                function kind name type scopes locations
 *   dwarfp-query bench ELF [FILE]  index time, and lookups/s (pc -> function
 *                                and line) over the hex addresses in FILE, or
 *                                the rows' addresses shuffled, as "index_ms N",
 *                                "lookups_per_s N" (in batches, dw_pc_at_n())
 *                                and "lookups_one_per_s N" (dw_pc_at()), CPU
 *                                time, not wall, and the process's anonymous
 *                                memory once the index is built,
 *                                "index_anon_kb N"
 *
 * DWARFP_QUERY_WALK=libdwarf in the environment makes dw_open() walk the
 * DIEs with libdwarf instead of its own reader (the two must agree).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../modules/dwarfp/dwarfp.h"
#include "../../modules/lib/symtab.h"

/* Addresses looked up at once by dw_pc_at_n() (lookup, bench). */
#define BATCH 1024

static void print_one(const GArray *bare, uint64_t a, const struct dw_pc *pc)
{
	const struct dw_line ln = pc->line;
	const struct dw_func *f = pc->fn;
	bool found = pc->found;

	if (!f && bare)
		f = dw_bare_at(bare, a);

	printf("%s\n", f && f->name ? f->name : "??");
	if (found && ln.file && ln.discr)
		printf("%s:%" PRIu32 " (discriminator %" PRIu32 ")\n", ln.file,
		       ln.line, ln.discr);
	else if (found && ln.file)
		printf("%s:%" PRIu32 "\n", ln.file, ln.line);
	else
		printf("??:0\n");
}

/* name entry post-prologue file:line of each out-of-line function */
static void print_funcs(const struct dw_binary *b)
{
	for (guint i = 0; i < b->funcs->len; i++) {
		const struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (f->inlined)
			continue;
		printf("%s %" PRIx64 " %" PRIx64 " %s:%" PRIu32 "\n",
		       f->name ? f->name : "??", f->lo, f->post_prologue,
		       f->pp_file ? f->pp_file : "??", f->pp_line);
	}
}

static void print_var(const char *fn, const struct dw_var *v)
{
	printf("%s %s %s %s %" PRIu32 " %s\n", fn, v->is_param ? "param" : "local",
	       v->name, v->type, v->n_scope,
	       v->loc.is_const ? "const" : v->loc.whole ? "expr" : "list");
}

static void print_vars(const struct dw_binary *b, char **at, bool globals)
{
	if (*at) {
		for (; *at; at++) {
			uint64_t a = strtoull(*at, NULL, 16);
			const struct dw_func *f = dw_func_at(b, a, false);

			for (guint i = 0; f && i < f->vars->len; i++) {
				const struct dw_var *v = &g_array_index(f->vars, struct dw_var, i);

				if (dw_var_in_scope(v, a))
					print_var(f->name ? f->name : "??", v);
			}
		}
	} else {
		for (guint i = 0; i < b->funcs->len; i++) {
			const struct dw_func *f = g_ptr_array_index(b->funcs, i);

			dw_read_vars(b, f);
			for (guint j = 0; j < f->vars->len; j++)
				print_var(f->name ? f->name : "??",
					  &g_array_index(f->vars, struct dw_var, j));
		}
	}
	for (guint i = 0; globals && i < b->globals->len; i++)
		print_var("-", &g_array_index(b->globals, struct dw_var, i));
}

static void dump_loc(const struct dw_loc *l)
{
	printf(" loc%s%s", l->whole ? " whole" : "", l->is_const ? " const" : "");
	if (l->is_const)
		printf(" %" PRIx64, l->value);
	for (uint32_t i = 0; i < l->n; i++) {
		printf(" [%" PRIx64 ",%" PRIx64 ")", l->e[i].lo, l->e[i].hi);
		for (uint32_t j = 0; j < l->e[i].n_ops; j++)
			printf(" %x:%" PRIx64 ":%" PRIx64, l->e[i].ops[j].atom,
			       l->e[i].ops[j].op1, l->e[i].ops[j].op2);
	}
}

/* Everything dw_open() builds, in its order; the CU records by ordinal. */
static void dump(const struct dw_binary *b)
{
	g_autoptr(GHashTable) cus = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_autoptr(GHashTable) idx = g_hash_table_new(g_direct_hash, g_direct_equal);

	for (guint i = 0; i < b->funcs->len; i++)
		g_hash_table_insert(idx, g_ptr_array_index(b->funcs, i), GUINT_TO_POINTER(i));
	printf("units walked: own %u libdwarf %u\n", b->units_own, b->units_libdwarf);
	printf("addr_size %u funcs %u rows %u\n", b->addr_size, b->funcs->len, b->rows->len);
	for (guint i = 0; i < b->funcs->len; i++) {
		const struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (!g_hash_table_contains(cus, f->cu))
			g_hash_table_insert(cus, f->cu,
					    GUINT_TO_POINTER(g_hash_table_size(cus)));
		printf("%u %s %s cu%u outer %d lo %" PRIx64 " hi %" PRIx64
		       " pp %" PRIx64 " %s:%" PRIu32 " as%u ranges", i,
		       f->name ? f->name : "??", f->inlined ? "inlined" : "func",
		       GPOINTER_TO_UINT(g_hash_table_lookup(cus, f->cu)),
		       f->outer ? (int)GPOINTER_TO_UINT(g_hash_table_lookup(idx, f->outer)) : -1,
		       f->lo, f->hi, f->post_prologue, f->pp_file ? f->pp_file : "??",
		       f->pp_line, f->addr_size);
		for (uint32_t j = 0; j < f->n_ranges; j++)
			printf(" [%" PRIx64 ",%" PRIx64 ")", f->ranges[j].lo, f->ranges[j].hi);
		if (!f->inlined) {
			/* What a lookup of its entry answers. */
			struct dw_line ln = { 0 };
			const struct dw_func *in = dw_func_at(b, f->lo, true);

			dw_line_at(b, f->lo, &ln);
			printf(" at %s %s:%" PRIu32, in && in->name ? in->name : "??",
			       ln.file ? ln.file : "??", ln.line);
		}
		printf("\n");
	}
	for (guint i = 0; i < b->globals->len; i++) {
		const struct dw_var *v = &g_array_index(b->globals, struct dw_var, i);

		printf("global %s %s", v->name, v->type);
		dump_loc(&v->loc);
		printf("\n");
	}
}

/*
 * CPU time in microseconds: the benchmark's figures should not depend on
 * what else the machine runs (bench-stpi times addr2line the same way).
 */
static gint64 cpu_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * G_GINT64_CONSTANT(1000000) + ts.tv_nsec / 1000;
}

/* The process's anonymous resident memory (its heap), in kB; -1 if unknown. */
static long anon_kb(void)
{
	g_autofree char *status = NULL;
	const char *p;

	if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL) ||
	    !(p = strstr(status, "\nRssAnon:")))
		return -1;
	return strtol(p + strlen("\nRssAnon:"), NULL, 10);
}

/* Lookups made and the CPU time they took. */
struct rate {
	uint64_t n;
	gint64 us;
};

static double rate_of(const struct rate *r)
{
	return r->us ? r->n / (r->us / 1e6) : 0;
}

/* The bench's lookups: SLICES slices of SLICE_US each way. */
#define SLICES 10
#define SLICE_US 50000

/*
 * Look up every address of @addrs (pc -> line and function), again and
 * again for SLICE_US of CPU time, one at a time (dw_pc_at()) or BATCH at
 * a time (dw_pc_at_n()), adding to *@r; *@sum keeps the answers used.
 */
static void lookup_slice(const struct dw_binary *b, const GArray *addrs,
			 bool batch, uint64_t *sum, struct rate *r)
{
	const uint64_t *a = (const uint64_t *)addrs->data;
	gint64 t = cpu_us(CLOCK_THREAD_CPUTIME_ID), now;

	do {
		for (size_t i = 0; i < addrs->len; i += BATCH) {
			size_t k = MIN(addrs->len - i, BATCH);
			struct dw_pc pc[BATCH];

			if (batch)
				dw_pc_at_n(b, a + i, k, pc);
			else
				for (size_t j = 0; j < k; j++)
					pc[j].found = dw_pc_at(b, a[i + j], &pc[j].line,
							       &pc[j].fn);
			for (size_t j = 0; j < k; j++)
				*sum += (pc[j].found ? pc[j].line.line : 0) + !!pc[j].fn;
		}
		r->n += addrs->len;
		now = cpu_us(CLOCK_THREAD_CPUTIME_ID);
	} while (now - t < SLICE_US);
	r->us += now - t;
}

int main(int argc, char **argv)
{
	struct dw_binary *b;
	char *err = NULL;
	char line[256];
	gint64 t0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s rows|lines|lookup|funcs|dump|vars|bench ELF\n", argv[0]);
		return 2;
	}
	t0 = cpu_us(CLOCK_PROCESS_CPUTIME_ID);
	b = dw_open_flags(argv[2], 0, g_strcmp0(g_getenv("DWARFP_QUERY_WALK"), "libdwarf") ?
			  0 : DW_OPEN_LIBDWARF_WALK, &err);
	if (!b) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (b->warning)
		fprintf(stderr, "%s: %s\n", argv[2], b->warning);
	if (!strcmp(argv[1], "rows")) {
		for (guint i = 0; i < b->rows->len; i++) {
			const struct dw_row *r = &g_array_index(b->rows, struct dw_row, i);

			if (!r->end)
				printf("%" PRIx64 "\n", r->addr);
		}
	} else if (!strcmp(argv[1], "lines")) {
		for (guint i = 0; i < b->rows->len; i++) {
			const struct dw_row *r = &g_array_index(b->rows, struct dw_row, i);

			const char *file = dw_file(b, r->file), *sfile = dw_file(b, r->sfile);

			printf("%" PRIx64 " %s:%" PRIu32 " %u %u %s:%" PRIu32 " %" PRIu32 "\n",
			       r->addr, file ? file : "??", r->line, r->is_stmt,
			       r->end, sfile ? sfile : "??", r->sline, r->discr);
		}
		print_funcs(b);
	} else if (!strcmp(argv[1], "lookup")) {
		struct symtab *syms = NULL;
		GArray *bare = NULL;

		/* dwarfp names a kernel's functions without DWARF from its symbols. */
		if (dw_is_kernel(b) && (syms = symtab_load(argv[2], &err)))
			bare = dw_bare_build(b, syms);
		g_clear_pointer(&err, g_free);
		for (bool more = true; more;) {
			uint64_t a[BATCH];
			struct dw_pc pc[BATCH];
			size_t k = 0;

			while (k < BATCH && (more = fgets(line, sizeof(line), stdin)))
				a[k++] = strtoull(line, NULL, 16);
			dw_pc_at_n(b, a, k, pc);
			for (size_t i = 0; i < k; i++)
				print_one(bare, a[i], &pc[i]);
		}
		if (bare)
			g_array_free(bare, TRUE);
		symtab_free(syms);
	} else if (!strcmp(argv[1], "funcs")) {
		print_funcs(b);
	} else if (!strcmp(argv[1], "dump")) {
		dump(b);
		if (argv[3])
			print_vars(b, argv + 3, false);
	} else if (!strcmp(argv[1], "vars")) {
		print_vars(b, argv + 3, true);
	} else if (!strcmp(argv[1], "bench")) {
		gint64 t1 = cpu_us(CLOCK_PROCESS_CPUTIME_ID);
		long anon = anon_kb();
		GArray *addrs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
		uint64_t sum = 0;
		struct rate rate[2] = { { 0 } };
		bool given = argc > 3;
		FILE *in = given ? fopen(argv[3], "r") : NULL;

		if (given && !in) {
			perror(argv[3]);
			return 1;
		}
		while (given && fgets(line, sizeof(line), in)) {
			uint64_t a = strtoull(line, NULL, 16);

			g_array_append_val(addrs, a);
		}
		if (given)
			fclose(in);
		for (guint i = 0; !given && i < b->rows->len; i++) {
			const struct dw_row *r = &g_array_index(b->rows, struct dw_row, i);

			if (!r->end)
				g_array_append_val(addrs, r->addr);
		}
		/* Shuffle: lookups of a run come in no particular order. */
		for (guint i = given ? 0 : addrs->len; i > 1; i--) {
			guint j = g_random_int_range(0, i);
			uint64_t t = g_array_index(addrs, uint64_t, i - 1);

			g_array_index(addrs, uint64_t, i - 1) = g_array_index(addrs, uint64_t, j);
			g_array_index(addrs, uint64_t, j) = t;
		}
		/* In turn: the machine's memory gets faster and slower within a second. */
		for (int i = 0; i < SLICES && addrs->len; i++)
			for (int batch = 0; batch < 2; batch++)
				lookup_slice(b, addrs, batch, &sum, &rate[batch]);
		printf("index_ms %.3f\n", (t1 - t0) / 1000.0);
		printf("index_anon_kb %ld\n", anon);
		printf("lookups_per_s %.0f\n", rate_of(&rate[1]));
		printf("lookups_one_per_s %.0f\n", rate_of(&rate[0]));
		printf("rows %u\n# %" PRIu64 "\n", addrs->len, sum);
		g_array_free(addrs, TRUE);
	} else {
		fprintf(stderr, "unknown command %s\n", argv[1]);
		return 2;
	}
	dw_close(b);
	return 0;
}
