// SPDX-License-Identifier: MIT
/*
 * dwarfp-query - dwarfp's index (modules/dwarfp/index.c), without QEMU.
 *
 *   dwarfp-query rows ELF        every line-table address, one hex a line
 *   dwarfp-query lookup ELF      for each hex address on stdin, two lines as
 *                                `addr2line -f -e ELF` prints them
 *   dwarfp-query funcs ELF       name entry post-prologue file:line
 *   dwarfp-query bench ELF       index time and lookups/s over the rows'
 *                                addresses, as "index_ms N" / "lookups_per_s N"
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../modules/dwarfp/dwarfp.h"

static void print_one(const struct dw_binary *b, uint64_t a)
{
	const struct dw_row *r = dw_line_at(b, a);
	const struct dw_func *f = dw_func_at(b, a, true);

	printf("%s\n", f && f->name ? f->name : "??");
	if (r && r->file)
		printf("%s:%" PRIu32 "\n", r->file, r->line);
	else
		printf("??:0\n");
}

int main(int argc, char **argv)
{
	struct dw_binary *b;
	char *err = NULL;
	char line[256];
	gint64 t0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s rows|lookup|funcs|bench ELF\n", argv[0]);
		return 2;
	}
	t0 = g_get_monotonic_time();
	b = dw_open(argv[2], 0, &err);
	if (!b) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (!strcmp(argv[1], "rows")) {
		for (guint i = 0; i < b->rows->len; i++) {
			const struct dw_row *r = &g_array_index(b->rows, struct dw_row, i);

			if (!r->end)
				printf("%" PRIx64 "\n", r->addr);
		}
	} else if (!strcmp(argv[1], "lookup")) {
		while (fgets(line, sizeof(line), stdin))
			print_one(b, strtoull(line, NULL, 16));
	} else if (!strcmp(argv[1], "funcs")) {
		for (guint i = 0; i < b->funcs->len; i++) {
			const struct dw_func *f = g_ptr_array_index(b->funcs, i);

			if (f->inlined)
				continue;
			printf("%s %" PRIx64 " %" PRIx64 " %s:%" PRIu32 "\n",
			       f->name ? f->name : "??", f->lo, f->post_prologue,
			       f->pp_file ? f->pp_file : "??", f->pp_line);
		}
	} else if (!strcmp(argv[1], "bench")) {
		gint64 t1 = g_get_monotonic_time(), t2;
		GArray *addrs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
		uint64_t n = 0, sum = 0;

		for (guint i = 0; i < b->rows->len; i++) {
			const struct dw_row *r = &g_array_index(b->rows, struct dw_row, i);

			if (!r->end)
				g_array_append_val(addrs, r->addr);
		}
		/* Shuffle: lookups of a run come in no particular order. */
		for (guint i = addrs->len; i > 1; i--) {
			guint j = g_random_int_range(0, i);
			uint64_t t = g_array_index(addrs, uint64_t, i - 1);

			g_array_index(addrs, uint64_t, i - 1) = g_array_index(addrs, uint64_t, j);
			g_array_index(addrs, uint64_t, j) = t;
		}
		t2 = g_get_monotonic_time();
		while (g_get_monotonic_time() - t2 < 500000 && addrs->len) {
			for (guint i = 0; i < addrs->len; i++) {
				uint64_t a = g_array_index(addrs, uint64_t, i);
				const struct dw_row *r = dw_line_at(b, a);
				const struct dw_func *f = dw_func_at(b, a, true);

				sum += (r ? r->line : 0) + (f != NULL);
			}
			n += addrs->len;
		}
		printf("index_ms %.3f\n", (t1 - t0) / 1000.0);
		printf("lookups_per_s %.0f\n", n / ((g_get_monotonic_time() - t2) / 1e6));
		printf("rows %u\n# %" PRIu64 "\n", addrs->len, sum);
		g_array_free(addrs, TRUE);
	} else {
		fprintf(stderr, "unknown command %s\n", argv[1]);
		return 2;
	}
	dw_close(b);
	return 0;
}
