// SPDX-License-Identifier: MIT
/*
 * What a user reads: function names (modules/lib/symtab.c: an ELF symbol
 * table, a System.map or a kallsyms list, the kernel's offset), the folded
 * stacks written at exit, the JSON-lines trace of calls and returns.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "symtab.h"

/* -- symbols ------------------------------------------------------------- */

static struct symtab *syms;

/* Once, when the offset becomes known by observation. */
static void report_offset(void)
{
	unsigned int votes, seen;
	int64_t off;

	if (!symtab_offset(syms, &off, &votes, &seen))
		return;
	csi_mh->log(csi_self, MH_LOG_INFO, "symbols: offset %s0x%" PRIx64
		    " (%u of %u call targets on a symbol's start under it)",
		    off < 0 ? "-" : "", off < 0 ? -(uint64_t)off : (uint64_t)off,
		    votes, seen);
}

/*
 * Every failure says what is wrong with the file, once: a System.map
 * stub or a stripped kernel is an easy mistake to make, and "No such
 * file or directory" for a file that exists helps nobody.
 */
int csi_symbols_load(const char *path, const char *offset)
{
	g_autofree char *err = NULL;
	const char *at = "";
	int64_t off = 0;
	char *end;

	if (offset && *offset && strcmp(offset, "auto")) {
		errno = 0;
		off = strtoll(offset, &end, 0);
		if (errno || *end) {
			csi_mh->log(csi_self, MH_LOG_ERROR, "symbols_offset=%s: "
				    "expected auto or an integer", offset);
			return -EINVAL;
		}
	}
	syms = symtab_load(path, &err);
	if (!syms) {
		csi_mh->log(csi_self, MH_LOG_ERROR, "symbols=%s: %s", path, err);
		return strstr(err, "cannot open") ? -ENOENT : -EINVAL;
	}
	if (offset && *offset && strcmp(offset, "auto"))
		symtab_set_offset(syms, off);
	else if (!symtab_offset(syms, &off, NULL, NULL))
		at = ", offset found from the call targets";
	csi_mh->log(csi_self, MH_LOG_INFO, "symbols: %zu functions (%s)%s",
		    symtab_count(syms), symtab_describe(syms), at);
	return 0;
}

void csi_symbols_free(void)
{
	g_clear_pointer(&syms, symtab_free);
}

void csi_symbols_observe(uint64_t target)
{
	if (syms && symtab_observe(syms, target))
		report_offset();
}

const char *csi_symbolize(uint64_t addr, char *buf, size_t len)
{
	const char *name;

	if (addr == CSI_TRUNCATED)
		return "[truncated]";
	if (!addr)
		return "[unknown]";
	name = syms ? symtab_name(syms, addr, buf, len) : NULL;
	if (name)
		return name;
	snprintf(buf, len, "0x%" PRIx64, addr);
	return buf;
}

char *csi_stackid_string(enum cs_stack_kind kind, uint64_t asid,
			 uint64_t anchor)
{
	char *s = NULL;
	int n;

	if (kind == CS_STACK_HEURISTIC)
		n = asprintf(&s, "asid=0x%" PRIx64 ",sp=0x%" PRIx64, asid,
			     anchor);
	else if (kind == CS_STACK_THREADED && anchor & 0x80000000u)
		n = asprintf(&s, "pid=0,idle=%" PRIu64, anchor & 0x7fffffffu);
	else if (kind == CS_STACK_THREADED)
		n = asprintf(&s, "pid=%" PRIu64 ",tid=%" PRIu64, asid, anchor);
	else
		n = asprintf(&s, "asid=0x%" PRIx64, asid);
	return n < 0 ? NULL : s;
}

/* -- trace --------------------------------------------------------------- */

static GMutex trace_lock;
static char *trace_path;
static FILE *trace;
static bool trace_append;

void csi_trace_set(const char *path)
{
	g_free(trace_path);
	trace_path = path && *path ? g_strdup(path) : NULL;
	trace_append = false;
}

void csi_trace_continue(void)
{
	trace_append = true;
}

bool csi_trace_on(void)
{
	return trace_path != NULL;
}

void csi_trace_close(void)
{
	g_mutex_lock(&trace_lock);
	if (trace)
		fclose(trace);
	trace = NULL;
	g_clear_pointer(&trace_path, g_free);
	g_mutex_unlock(&trace_lock);
}

/*
 * A symbol name as a JSON string.  Names come from whatever ELF file the
 * user gave: not necessarily C identifiers, not necessarily UTF-8.  Bytes
 * that are not UTF-8 become U+FFFD, so every trace line parses.
 */
static void trace_name(FILE *f, const char *s)
{
	const char *end;

	fputc('"', f);
	while (*s) {
		g_utf8_validate(s, -1, &end);
		for (; s < end; s++) {
			unsigned char c = *s;

			if (c == '"' || c == '\\')
				fprintf(f, "\\%c", c);
			else if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
		if (*s) {
			fputs("\\ufffd", f);
			s++;
		}
	}
	fputc('"', f);
}

void csi_trace_event(const char *event, unsigned int vcpu,
		     const struct csi_stack *s, uint32_t depth, uint64_t func,
		     uint64_t ret)
{
	char buf[128];

	g_mutex_lock(&trace_lock);
	/*
	 * Opened here, not in init: a reloaded version only learns in
	 * restore_state (after init) that it continues an earlier trace.
	 */
	if (!trace && trace_path) {
		trace = fopen(trace_path, trace_append ? "a" : "w");
		if (!trace) {
			csi_mh->log(csi_self, MH_LOG_ERROR, "trace %s: %s",
				    trace_path, strerror(errno));
			g_clear_pointer(&trace_path, g_free);
		}
	}
	if (trace) {
		char *id = csi_stackid_string(csi_stack_kind, s->asid, s->anchor);

		fprintf(trace, "{\"event\":\"%s\",\"vcpu\":%u,\"stack\":\"%s",
			event, vcpu, id ? id : "");
		free(id);
		fprintf(trace, "\",\"depth\":%u,\"func\":\"0x%" PRIx64
			"\",\"ret\":\"0x%" PRIx64 "\"", depth, func, ret);
		if (syms) {
			fputs(",\"name\":", trace);
			trace_name(trace, csi_symbolize(func, buf, sizeof(buf)));
		}
		fputs("}\n", trace);
	}
	g_mutex_unlock(&trace_lock);
}

/* -- folded stacks ------------------------------------------------------- */

/*
 * The nodes' lines, built in id order, where a parent precedes its child:
 * a node's path ("outer;...;inner") is its parent's, copied from the
 * buffer, then ';' and its own name, so each node is named once, not once
 * per line it appears in (a Linux boot has some 300,000 lines of 17
 * frames on average, and naming every frame of every line took most of a
 * second at exit).  buf holds each node's path and, for a node with a
 * count, " COUNT", NUL-terminated.
 *
 * The file is sorted as strcmp() sorts its lines, and that order is the
 * trie's, walked depth first with each node's children in the order of
 * their names: a node's own line ("path COUNT") comes before its
 * callees' ("path;..."), as ' ' sorts before ';'.  Sorting 300,000 lines
 * that share long prefixes cost more than all the rest.  One case breaks
 * the walk: a child's name that is the start of a sibling's ("f" and
 * "f.cold", "0x1234" and "0x12345") lets the lines of the two interleave.
 * Such a group of siblings is sorted line by line, as before.
 */
struct fold {
	GArray *parent;		/* uint32_t per node */
	GArray *at;		/* size_t per node: its path's offset in buf */
	GArray *len;		/* uint32_t per node: its path's length */
	GByteArray *own;	/* per node: has a line (a count) */
	GString *buf;
	uint32_t *kids;		/* every node's children, sibling by sibling */
	uint32_t *first;	/* per node + 1: its first child's index in kids */
	GArray *lines;		/* fold_sort_group(): offsets in buf */
	FILE *out;
};

static void fold_collect(uint32_t id, uint32_t parent, uint64_t func,
			 uint64_t count, void *opaque)
{
	struct fold *f = opaque;
	size_t at = f->buf->len, from;
	uint32_t plen;
	guint8 own = count != 0;
	char name[128];

	/* Nodes are appended in id order and a parent precedes its child. */
	g_assert(id == f->parent->len && parent < id);
	if (parent) {
		from = g_array_index(f->at, size_t, parent);
		plen = g_array_index(f->len, uint32_t, parent);
		/* g_string_append_len() would read buf while it moves. */
		g_string_set_size(f->buf, at + plen);
		memcpy(f->buf->str + at, f->buf->str + from, plen);
		g_string_append_c(f->buf, ';');
	}
	g_string_append(f->buf, csi_symbolize(func, name, sizeof(name)));
	plen = f->buf->len - at;
	g_array_append_val(f->parent, parent);
	g_array_append_val(f->at, at);
	g_array_append_val(f->len, plen);
	g_byte_array_append(f->own, &own, 1);
	if (count)
		g_string_append_printf(f->buf, " %" PRIu64, count);
	g_string_append_c(f->buf, '\0');
}

/* Node @id's own name, the last part of its path, of length *@len. */
static const char *fold_name(const struct fold *f, uint32_t id, uint32_t *len)
{
	uint32_t parent = g_array_index(f->parent, uint32_t, id);
	uint32_t skip = parent ? g_array_index(f->len, uint32_t, parent) + 1 : 0;

	*len = g_array_index(f->len, uint32_t, id) - skip;
	return f->buf->str + g_array_index(f->at, size_t, id) + skip;
}

static gint name_cmp(gconstpointer a, gconstpointer b, gpointer opaque)
{
	uint32_t la, lb;
	const char *na = fold_name(opaque, *(const uint32_t *)a, &la);
	const char *nb = fold_name(opaque, *(const uint32_t *)b, &lb);
	int c = memcmp(na, nb, MIN(la, lb));

	return c ? c : (la > lb) - (la < lb);
}

/* Every node's children, each parent's sorted by name, in kids. */
static void fold_link(struct fold *f)
{
	guint n = f->parent->len;
	uint32_t *fill = g_new0(uint32_t, n + 1);

	f->kids = g_new(uint32_t, n);
	f->first = g_new0(uint32_t, n + 1);
	for (guint i = 1; i < n; i++)
		f->first[g_array_index(f->parent, uint32_t, i) + 1]++;
	for (guint i = 0; i < n; i++)
		f->first[i + 1] += f->first[i];
	for (guint i = 1; i < n; i++) {
		uint32_t p = g_array_index(f->parent, uint32_t, i);

		f->kids[f->first[p] + fill[p]++] = i;
	}
	for (guint i = 0; i < n; i++)
		if (f->first[i + 1] - f->first[i] > 1)
			g_qsort_with_data(f->kids + f->first[i],
					  f->first[i + 1] - f->first[i],
					  sizeof(uint32_t), name_cmp, f);
	g_free(fill);
}

/* The line at @at in buf, to the file. */
static void fold_put(struct fold *f, size_t at)
{
	fputs(f->buf->str + at, f->out);
	putc('\n', f->out);
}

/* Node @id's line and every line below it, into f->lines. */
static void fold_gather(struct fold *f, uint32_t id)
{
	size_t at = g_array_index(f->at, size_t, id);

	if (f->own->data[id])
		g_array_append_val(f->lines, at);
	for (uint32_t k = f->first[id]; k < f->first[id + 1]; k++)
		fold_gather(f, f->kids[k]);
}

static gint line_cmp(gconstpointer a, gconstpointer b, gpointer buf)
{
	return strcmp((const char *)buf + *(const size_t *)a,
		      (const char *)buf + *(const size_t *)b);
}

/* The lines below @id, whose children's lines interleave: sorted. */
static void fold_sort_group(struct fold *f, uint32_t id)
{
	g_array_set_size(f->lines, 0);
	for (uint32_t k = f->first[id]; k < f->first[id + 1]; k++)
		fold_gather(f, f->kids[k]);
	g_array_sort_with_data(f->lines, line_cmp, f->buf->str);
	for (guint i = 0; i < f->lines->len; i++)
		fold_put(f, g_array_index(f->lines, size_t, i));
}

/* Does a child's name of @id start a sibling's?  (They are sorted.) */
static bool fold_interleaves(const struct fold *f, uint32_t id)
{
	for (uint32_t k = f->first[id] + 1; k < f->first[id + 1]; k++) {
		uint32_t la, lb;
		const char *a = fold_name(f, f->kids[k - 1], &la);
		const char *b = fold_name(f, f->kids[k], &lb);

		if (la <= lb && !memcmp(a, b, la))
			return true;
	}
	return false;
}

/* Node @id's line, then the lines below it, in strcmp() order. */
static void fold_walk(struct fold *f, uint32_t id)
{
	if (f->own->data[id])
		fold_put(f, g_array_index(f->at, size_t, id));
	if (fold_interleaves(f, id)) {
		fold_sort_group(f, id);
		return;
	}
	for (uint32_t k = f->first[id]; k < f->first[id + 1]; k++)
		fold_walk(f, f->kids[k]);
}

/* Every function the stacks called is evidence for the kernel's offset. */
static void fold_observe(uint32_t id, uint32_t parent, uint64_t func,
			 uint64_t count, void *opaque)
{
	(void)id;
	(void)parent;
	(void)count;
	(void)opaque;
	csi_symbols_observe(func);
}

int csi_folded_write(const char *path)
{
	struct fold f = {
		.parent = g_array_new(FALSE, FALSE, sizeof(uint32_t)),
		.at = g_array_new(FALSE, FALSE, sizeof(size_t)),
		.len = g_array_new(FALSE, FALSE, sizeof(uint32_t)),
		.own = g_byte_array_new(),
		.buf = g_string_sized_new(1 << 20),
		.lines = g_array_new(FALSE, FALSE, sizeof(size_t)),
	};
	g_autofree char *tmp = g_strdup_printf("%s.tmp", path);
	uint32_t zero = 0;
	guint8 none = 0;
	size_t z = 0;
	int ret = 0;

	/*
	 * A run too short to have decided the offset: every function its
	 * stacks called is evidence too.  Settled before any name is made.
	 */
	if (syms) {
		csi_node_foreach(fold_observe, NULL);
		if (symtab_settle(syms))
			report_offset();
	}
	/* Index 0 stands for the root, so ids index the arrays directly. */
	g_array_append_val(f.parent, zero);
	g_array_append_val(f.at, z);
	g_array_append_val(f.len, zero);
	g_byte_array_append(f.own, &none, 1);
	csi_node_foreach(fold_collect, &f);
	fold_link(&f);

	/* Written aside and renamed: a reader never sees half a file. */
	f.out = fopen(tmp, "w");
	if (!f.out) {
		ret = -errno;
		goto out;
	}
	fold_walk(&f, 0);
	if (fclose(f.out) || rename(tmp, path))
		ret = -errno;
out:
	g_array_free(f.parent, TRUE);
	g_array_free(f.at, TRUE);
	g_array_free(f.len, TRUE);
	g_byte_array_free(f.own, TRUE);
	g_string_free(f.buf, TRUE);
	g_array_free(f.lines, TRUE);
	g_free(f.kids);
	g_free(f.first);
	return ret;
}
