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

bool csi_symbols_offset(int64_t *offset)
{
	return syms && symtab_offset(syms, offset, NULL, NULL);
}

void csi_symbols_take_offset(int64_t offset)
{
	int64_t own;

	/*
	 * The new version sees only the calls retranslated after the reload:
	 * without this, it would find the offset again later, or never.
	 */
	if (syms && !symtab_offset(syms, &own, NULL, NULL))
		symtab_set_offset(syms, offset);
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

struct fold {
	GArray *parent;		/* uint32_t per node */
	GArray *func;		/* uint64_t per node */
	GArray *count;		/* uint64_t per node */
};

static void fold_collect(uint32_t id, uint32_t parent, uint64_t func,
			 uint64_t count, void *opaque)
{
	struct fold *f = opaque;

	/* Nodes are appended in id order and a parent precedes its child. */
	g_assert(id == f->parent->len);
	g_array_append_val(f->parent, parent);
	g_array_append_val(f->func, func);
	g_array_append_val(f->count, count);
}

static gint str_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int csi_folded_write(const char *path)
{
	struct fold f = {
		g_array_new(FALSE, FALSE, sizeof(uint32_t)),
		g_array_new(FALSE, FALSE, sizeof(uint64_t)),
		g_array_new(FALSE, FALSE, sizeof(uint64_t)),
	};
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *names = g_ptr_array_new();
	g_autofree char *tmp = g_strdup_printf("%s.tmp", path);
	uint32_t zero = 0;
	uint64_t z = 0;
	FILE *out;
	int ret = 0;

	/* Index 0 stands for the root, so ids index the arrays directly. */
	g_array_append_val(f.parent, zero);
	g_array_append_val(f.func, z);
	g_array_append_val(f.count, z);
	csi_node_foreach(fold_collect, &f);
	/*
	 * A run too short to have decided the offset: every function its
	 * stacks called is evidence too.
	 */
	if (syms) {
		for (guint i = 1; i < f.func->len; i++)
			csi_symbols_observe(g_array_index(f.func, uint64_t, i));
		if (symtab_settle(syms))
			report_offset();
	}

	for (guint i = 1; i < f.parent->len; i++) {
		uint64_t count = g_array_index(f.count, uint64_t, i);
		GString *line;
		char buf[128];

		if (!count)
			continue;
		g_ptr_array_set_size(names, 0);
		for (uint32_t n = i; n; n = g_array_index(f.parent, uint32_t, n))
			g_ptr_array_add(names, g_strdup(csi_symbolize(
				g_array_index(f.func, uint64_t, n), buf,
				sizeof(buf))));
		line = g_string_new(NULL);
		for (guint k = names->len; k-- > 0;) {
			g_string_append(line, g_ptr_array_index(names, k));
			g_string_append_c(line, k ? ';' : ' ');
			g_free(g_ptr_array_index(names, k));
		}
		g_string_append_printf(line, "%" PRIu64, count);
		g_ptr_array_add(lines, g_string_free(line, FALSE));
	}
	g_ptr_array_sort(lines, str_cmp);

	/* Written aside and renamed: a reader never sees half a file. */
	out = fopen(tmp, "w");
	if (!out) {
		ret = -errno;
		goto out;
	}
	for (guint i = 0; i < lines->len; i++)
		fprintf(out, "%s\n", (char *)g_ptr_array_index(lines, i));
	if (fclose(out) || rename(tmp, path))
		ret = -errno;
out:
	g_ptr_array_free(names, TRUE);
	g_ptr_array_free(lines, TRUE);
	g_array_free(f.parent, TRUE);
	g_array_free(f.func, TRUE);
	g_array_free(f.count, TRUE);
	return ret;
}
