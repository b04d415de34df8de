// SPDX-License-Identifier: MIT
/*
 * Unit tests for callstack_instr's folded stacks on their own: the trie of
 * (caller's node, callee) nodes (modules/callstack_instr/stacks.c), which
 * vCPUs count without a lock, and the file written from it (output.c),
 * whose lines must come out exactly as strcmp() sorts them, whatever the
 * names, however many vCPUs count at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "internal.h"
#include "unit.h"

/* callstack_instr.c's; only symbols= and the trace use them, not here. */
const struct mh_api *csi_mh;
mh_module *csi_self;

/* This thread's counter, as each vCPU has its own; setup() clears it. */
static __thread struct csi_counts *counts;

/* The node of the path @funcs (outermost first, 0-terminated), counted. */
static uint32_t call_path(const uint64_t *funcs)
{
	uint32_t node = 0;

	if (!counts)
		counts = csi_counts_new();
	for (; *funcs; funcs++)
		node = csi_node_child(counts, node, *funcs);
	return node;
}

/* The folded file, read back. */
static char *folded(void)
{
	g_autofree char *dir = g_dir_make_tmp("csi-folded.XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "f", NULL);
	char *text = NULL;

	g_assert_nonnull(dir);
	g_assert_cmpint(csi_folded_write(path), ==, 0);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_unlink(path);
	g_rmdir(dir);
	return text;
}

static gint strv_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* @text's lines are in strcmp() order, and are @want's in that order. */
static void assert_sorted_lines(const char *text, const char *const *want)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = g_strv_length(lines);
	g_autoptr(GPtrArray) sorted = g_ptr_array_new();

	/* The file ends with a newline: the last piece is empty. */
	g_assert_cmpuint(n, >=, 1);
	g_assert_cmpstr(lines[n - 1], ==, "");
	for (guint i = 0; i + 1 < n; i++)
		g_ptr_array_add(sorted, lines[i]);
	g_ptr_array_sort(sorted, strv_cmp);
	for (guint i = 0; i + 1 < n; i++)
		g_assert_cmpstr(lines[i], ==, g_ptr_array_index(sorted, i));
	for (guint i = 0; want[i]; i++)
		g_assert_cmpstr(lines[i], ==, want[i]);
	g_assert_cmpuint(g_strv_length((char **)want), ==, n - 1);
}

static void setup(uint32_t depth)
{
	csi_max_depth = depth;
	csi_stack_kind = CS_STACK_ASID;
	csi_folded_on = true;
	counts = NULL;
	g_assert_cmpint(csi_stacks_init(), ==, 0);
}

/*
 * Names that start other names ("0x1234" and "0x12345": unnamed functions
 * are their hex addresses) make the lines of two callers interleave:
 * "0x1234 5" < "0x12345;..." < "0x1234;...".  Under 0x5 every caller's
 * name starts another's; under 0x6 none do at the first level (the file
 * follows the trie) but 0xa and 0xab do at the next.
 */
static void test_order(void)
{
	static const uint64_t paths[][5] = {
		{ 0x5, 0x1234, 0 }, { 0x5, 0x1234, 0 },
		{ 0x5, 0x1234, 0xb, 0 }, { 0x5, 0x1234, 0xa, 0 },
		{ 0x5, 0x1234, 0xa, 0 }, { 0x5, 0x12345, 0x1, 0 },
		{ 0x5, 0x12345, 0 }, { 0x5, 0x123, 0 },
		{ 0x6, 0x99, 0xab, 0 }, { 0x6, 0x99, 0xa, 0 },
		{ 0x6, 0x99, 0xa, 0xc, 0 }, { 0x6, 0x98, 0x7, 0x8, 0 },
	};
	g_autofree char *text = NULL;

	setup(1024);
	for (size_t i = 0; i < G_N_ELEMENTS(paths); i++)
		call_path(paths[i]);
	text = folded();
	assert_sorted_lines(text, STRV(
		"0x5 8",
		"0x5;0x123 1",
		"0x5;0x1234 5",
		"0x5;0x12345 2",
		"0x5;0x12345;0x1 1",
		"0x5;0x1234;0xa 2",
		"0x5;0x1234;0xb 1",
		"0x6 4",
		"0x6;0x98 1",
		"0x6;0x98;0x7 1",
		"0x6;0x98;0x7;0x8 1",
		"0x6;0x99 3",
		"0x6;0x99;0xa 2",
		"0x6;0x99;0xa;0xc 1",
		"0x6;0x99;0xab 1"));
	csi_stacks_exit();
}

/* A path longer than max_depth starts again under a marker, every time. */
static void test_truncated(void)
{
	static const uint64_t deep[] = { 0x10, 0x20, 0x30, 0x40, 0 };
	g_autofree char *text = NULL;

	setup(2);
	call_path(deep);
	call_path(deep);
	text = folded();
	/* The marker is never called itself: it has no line of its own. */
	assert_sorted_lines(text, STRV(
		"0x10 2",
		"0x10;0x20 2",
		"[truncated];0x30 2",
		"[truncated];0x40 2"));
	csi_stacks_exit();
}

/*
 * A node keeps six children in its hints; its seventh puts them all in
 * the children table, where its later children go too.  Each child is
 * found again, in any order, whichever hints it has lost: one node each.
 */
static void test_many_children(void)
{
	uint64_t path[3] = { 0x10, 0, 0 };
	g_autofree char *text = NULL;

	setup(1024);
	for (unsigned int round = 0; round < 3; round++)
		for (unsigned int i = 0; i < 20; i++) {
			/* Forwards, then backwards, then every seventh. */
			path[1] = 0x100 + (round == 1 ? 19 - i :
					   round == 2 ? i * 7 % 20 : i);
			call_path(path);
		}
	/* The root, 0x10, its 20 callees. */
	g_assert_cmpuint(csi_node_count(), ==, 1 + 1 + 20);
	text = folded();
	g_assert_nonnull(strstr(text, "0x10 60\n"));
	for (unsigned int i = 0; i < 20; i++) {
		g_autofree char *line = g_strdup_printf("0x10;0x%x 3\n",
							0x100 + i);

		g_assert_nonnull(strstr(text, line));
	}
	csi_stacks_exit();
}

/*
 * A frame's last callee (csi_node_child_kid()): the same callee again is
 * that node, counted again; another callee replaces it; a path cut under
 * the marker stays cut, as csi_node_child() gives it.
 */
static void test_kid(void)
{
	static const uint64_t deep[] = { 0x10, 0x20, 0x30, 0 };
	uint32_t top, b, c, kid = 0, cut;
	g_autofree char *text = NULL;

	setup(3);
	counts = csi_counts_new();
	top = csi_node_child(counts, 0, 0x1);
	b = csi_node_child_kid(counts, top, 0xb, &kid);
	g_assert_cmpuint(kid, ==, b);
	g_assert_cmpuint(csi_node_child_kid(counts, top, 0xb, &kid), ==, b);
	c = csi_node_child_kid(counts, top, 0xc, &kid);
	g_assert_cmpuint(c, !=, b);
	g_assert_cmpuint(kid, ==, c);
	/* The nodes the lookup without a kid finds, and counts, too. */
	g_assert_cmpuint(csi_node_child(counts, top, 0xb), ==, b);
	g_assert_cmpuint(csi_node_child_kid(counts, top, 0xb, &kid), ==, b);
	/* A kid naming a node of another parent with that function is not it. */
	kid = csi_node_child(counts, 0, 0xc);
	g_assert_cmpuint(csi_node_child_kid(counts, top, 0xc, &kid), ==, c);
	/* Past max_depth (3), as csi_node_child() cuts it. */
	kid = 0;
	cut = call_path(deep);
	g_assert_cmpuint(csi_node_child_kid(counts, cut, 0x40, &kid), ==,
			 csi_node_child(counts, cut, 0x40));
	g_assert_cmpuint(csi_node_child_kid(counts, cut, 0x40, &kid), ==, kid);
	text = folded();
	assert_sorted_lines(text, STRV(
		"0x1 1",
		"0x10 1",
		"0x10;0x20 1",
		"0x10;0x20;0x30 1",
		"0x1;0xb 4",
		"0x1;0xc 2",
		"0xc 1",
		"[truncated];0x40 3"));
	csi_stacks_exit();
}

/* Counted at once by several threads, as vCPUs do: nothing is lost. */
#define THREADS 4
#define ROUNDS 20000

static gpointer count_paths(gpointer opaque)
{
	uint64_t seed = GPOINTER_TO_UINT(opaque);

	for (unsigned int r = 0; r < ROUNDS; r++) {
		/* Paths 3 deep over 40 functions: shared nodes, cache clashes. */
		uint64_t path[4] = { 0x1000 + r % 40, 0x2000 + (r + seed) % 40,
				     0x3000 + r % 7, 0 };

		call_path(path);
	}
	return NULL;
}

static void sum_counts(uint32_t id, uint32_t parent, uint64_t func,
		       uint64_t count, void *opaque)
{
	uint64_t *sums = opaque;

	(void)id;
	(void)parent;
	sums[func >> 12] += count;
}

static void test_threads(void)
{
	GThread *t[THREADS];
	uint64_t sums[4] = { 0 };

	setup(1024);
	for (unsigned int i = 0; i < THREADS; i++)
		t[i] = g_thread_new("count", count_paths, GUINT_TO_POINTER(i));
	for (unsigned int i = 0; i < THREADS; i++)
		g_thread_join(t[i]);
	csi_node_foreach(sum_counts, sums);
	/* Every call, at each of the three depths, is counted once. */
	for (unsigned int d = 1; d <= 3; d++)
		g_assert_cmpuint(sums[d], ==, THREADS * ROUNDS);
	/*
	 * One node per distinct path: 40 callers, each with one callee per
	 * thread (4 x 40), each of those with 7 callees; and the root.
	 */
	g_assert_cmpuint(csi_node_count(), ==, 1 + 40 + 160 + 160 * 7);
	csi_stacks_exit();
}

/*
 * A file of several megabytes goes out in many buffers, more than are
 * ever in flight at once (output.c): every byte, in order.  Three paths
 * 700 calls deep, each call counted once: node d of a path has the line
 * of its first d functions.
 */
static void test_big(void)
{
	enum { PATHS = 3, DEPTH = 700 };
	g_autoptr(GString) want = g_string_new(NULL);
	g_autofree char *text = NULL;
	uint64_t path[DEPTH + 1];

	setup(1024);
	for (unsigned int p = 0; p < PATHS; p++) {
		g_autoptr(GString) prefix = g_string_new(NULL);

		for (unsigned int d = 0; d < DEPTH; d++) {
			/* Names of one length: no name starts another. */
			path[d] = 0x100000 * (p + 1) + d;
			g_string_append_printf(prefix, "%s0x%" PRIx64,
					       d ? ";" : "", path[d]);
			g_string_append_printf(want, "%s 1\n", prefix->str);
		}
		path[DEPTH] = 0;
		call_path(path);
	}
	g_assert_cmpuint(want->len, >, 6u << 20);
	text = folded();
	g_assert_cmpuint(strlen(text), ==, want->len);
	g_assert_true(!strcmp(text, want->str));
	csi_stacks_exit();
}

/*
 * A write that fails (a full disk: the file written aside is /dev/full)
 * is an error, and leaves neither the file nor the one aside.  So does a
 * directory that is not there.
 */
static void test_write_error(void)
{
	static const uint64_t calls[] = { 0x10, 0x20, 0 };
	g_autofree char *dir = g_dir_make_tmp("csi-folded.XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "f", NULL);
	g_autofree char *aside = g_strconcat(path, ".tmp", NULL);
	g_autofree char *missing = g_build_filename(dir, "no", "f", NULL);

	if (access("/dev/full", W_OK)) {
		g_test_skip("no /dev/full to write to");
		return;
	}
	setup(1024);
	call_path(calls);
	g_assert_cmpint(symlink("/dev/full", aside), ==, 0);
	g_assert_cmpint(csi_folded_write(path), ==, -ENOSPC);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(aside, G_FILE_TEST_IS_SYMLINK));
	g_assert_cmpint(csi_folded_write(missing), ==, -ENOENT);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
	csi_stacks_exit();
}

static gpointer read_all(gpointer path)
{
	g_autoptr(GString) got = g_string_new(NULL);
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_string_append_len(got, buf, n);
	close(fd);
	return g_string_free(g_steal_pointer(&got), FALSE);
}

/*
 * What is not a regular file (a symbolic link, a FIFO, a device such as
 * /dev/null) is written through, not replaced by a file renamed over it,
 * and nothing is left beside it.
 */
static void test_write_through(void)
{
	static const uint64_t calls[] = { 0x10, 0x20, 0 };
	g_autofree char *dir = g_dir_make_tmp("csi-folded.XXXXXX", NULL);
	g_autofree char *real = g_build_filename(dir, "real", NULL);
	g_autofree char *link = g_build_filename(dir, "link", NULL);
	g_autofree char *link_tmp = g_strconcat(link, ".tmp", NULL);
	g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
	g_autofree char *fifo_tmp = g_strconcat(fifo, ".tmp", NULL);
	g_autofree char *text = NULL, *got = NULL;
	GThread *reader;

	setup(1024);
	call_path(calls);
	g_assert_true(g_file_set_contents(real, "an older and longer file\n",
					  -1, NULL));
	g_assert_cmpint(symlink("real", link), ==, 0);
	g_assert_cmpint(csi_folded_write(link), ==, 0);
	g_assert_true(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
	g_assert_true(g_file_get_contents(real, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, "0x10 1\n0x10;0x20 1\n");
	g_assert_false(g_file_test(link_tmp, G_FILE_TEST_EXISTS));

	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	reader = g_thread_new("reader", read_all, fifo);
	g_assert_cmpint(csi_folded_write(fifo), ==, 0);
	got = g_thread_join(reader);
	g_assert_cmpstr(got, ==, text);
	g_assert_false(g_file_test(fifo_tmp, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(fifo, G_FILE_TEST_IS_REGULAR));

	/* A write error through it leaves it in place. */
	if (!access("/dev/full", W_OK)) {
		g_assert_cmpint(g_unlink(link), ==, 0);
		g_assert_cmpint(symlink("/dev/full", link), ==, 0);
		g_assert_cmpint(csi_folded_write(link), ==, -ENOSPC);
		g_assert_true(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
	}
	g_unlink(link);
	g_unlink(fifo);
	g_unlink(real);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
	csi_stacks_exit();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/csi-folded/order", test_order);
	g_test_add_func("/csi-folded/truncated", test_truncated);
	g_test_add_func("/csi-folded/many-children", test_many_children);
	g_test_add_func("/csi-folded/kid", test_kid);
	g_test_add_func("/csi-folded/threads", test_threads);
	g_test_add_func("/csi-folded/big", test_big);
	g_test_add_func("/csi-folded/write-error", test_write_error);
	g_test_add_func("/csi-folded/write-through", test_write_through);
	return g_test_run();
}
