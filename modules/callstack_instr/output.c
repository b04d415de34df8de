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
 */
struct fold {
	GArray *parent;		/* uint32_t per node */
	GArray *at;		/* size_t per node: its path's offset in buf */
	GArray *len;		/* uint32_t per node: its path's length */
	GArray *lines;		/* size_t: offsets of the lines to write */
	GString *buf;
};

static void fold_collect(uint32_t id, uint32_t parent, uint64_t func,
			 uint64_t count, void *opaque)
{
	struct fold *f = opaque;
	size_t at = f->buf->len, from;
	uint32_t plen;
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
	if (count) {
		g_string_append_printf(f->buf, " %" PRIu64, count);
		g_array_append_val(f->lines, at);
	}
	g_string_append_c(f->buf, '\0');
}

static gint line_cmp(gconstpointer a, gconstpointer b, gpointer buf)
{
	return strcmp((const char *)buf + *(const size_t *)a,
		      (const char *)buf + *(const size_t *)b);
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
		g_array_new(FALSE, FALSE, sizeof(uint32_t)),
		g_array_new(FALSE, FALSE, sizeof(size_t)),
		g_array_new(FALSE, FALSE, sizeof(uint32_t)),
		g_array_new(FALSE, FALSE, sizeof(size_t)),
		g_string_sized_new(1 << 20),
	};
	g_autofree char *tmp = g_strdup_printf("%s.tmp", path);
	uint32_t zero = 0;
	size_t z = 0;
	FILE *out;
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
	csi_node_foreach(fold_collect, &f);
	g_array_sort_with_data(f.lines, line_cmp, f.buf->str);

	/* Written aside and renamed: a reader never sees half a file. */
	out = fopen(tmp, "w");
	if (!out) {
		ret = -errno;
		goto out;
	}
	for (guint i = 0; i < f.lines->len; i++) {
		fputs(f.buf->str + g_array_index(f.lines, size_t, i), out);
		putc('\n', out);
	}
	if (fclose(out) || rename(tmp, path))
		ret = -errno;
out:
	g_array_free(f.parent, TRUE);
	g_array_free(f.at, TRUE);
	g_array_free(f.len, TRUE);
	g_array_free(f.lines, TRUE);
	g_string_free(f.buf, TRUE);
	return ret;
}
