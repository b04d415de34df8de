// SPDX-License-Identifier: MIT
/*
 * What a user reads: function names (modules/lib/symtab.c: an ELF symbol
 * table, a System.map or a kallsyms list, the kernel's offset), the folded
 * stacks written at exit, the JSON-lines trace of calls and returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kernel_image.h"
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
	g_autofree char *err = NULL, *qk = NULL;
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
	/* "kernel": the image QEMU boots (its own kallsyms, for Linux). */
	if (!strcmp(path, "kernel")) {
		path = qk = kimage_qemu_kernel();
		if (!path) {
			csi_mh->log(csi_self, MH_LOG_ERROR, "symbols=kernel: this "
				    "QEMU was started without -kernel; give the "
				    "kernel's file");
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

/*
 * "0x%" PRIx64 of @addr into @buf, as snprintf() would put it: the folded
 * file names each of a Linux boot's 300,000 nodes this way at exit.
 */
static const char *hex_name(uint64_t addr, char *buf, size_t len)
{
	char tmp[2 + 16];
	size_t n = sizeof(tmp);

	do {
		tmp[--n] = "0123456789abcdef"[addr & 15];
		addr >>= 4;
	} while (addr);
	tmp[--n] = 'x';
	tmp[--n] = '0';
	if (len) {
		size_t k = MIN(sizeof(tmp) - n, len - 1);

		memcpy(buf, tmp + n, k);
		buf[k] = 0;
	}
	return buf;
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
	return hex_name(addr, buf, len);
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
 * Each node is named once, in id order, into names; a line's path
 * ("outer;...;inner") is built while the trie is walked, one name
 * appended on the way down and cut on the way back.  (Naming every frame
 * of every line, a Linux boot's 300,000 lines of 17 frames on average,
 * took most of a second at exit; holding every line took 120 MB.)
 *
 * The file is sorted as strcmp() sorts its lines, and that order is the
 * trie's, walked depth first with each node's children in the order of
 * their names: a node's own line ("path COUNT") comes before its
 * callees' ("path;..."), as ' ' sorts before ';'.  Sorting 300,000 lines
 * that share long prefixes cost more than all the rest.  One case breaks
 * the walk: a child's name that is the start of a sibling's ("f" and
 * "f.cold", "0x1234" and "0x12345") lets the lines of the two interleave.
 * The lines below such a group of siblings are sorted with strcmp().
 */
struct fold_node {
	uint32_t parent;
	uint32_t name_len;
	size_t name;		/* offset in names */
	uint64_t count;
};

/*
 * The file's bytes, in buffers of OUT_BUF that a thread of its own writes
 * while the walk fills the next (at most OUT_BUFS in flight).  A Linux
 * boot's folded file is about 100 MB: writing it into the page cache
 * costs the kernel as much as the walk costs to format it, and a vCPU-free
 * core is idle at exit.  Without the thread (it could not start) the walk
 * writes each buffer itself.  Writing 1 MiB at a time, not stdio's 4 KiB,
 * also saves the kernel some 20,000 calls.
 */
#define OUT_BUF (1u << 20)
#define OUT_BUFS 4

struct out_buf {
	size_t len;
	char data[OUT_BUF];
};

struct fold_out {
	int fd;
	int err;		/* the first failed write's errno */
	struct out_buf *cur;	/* being filled */
	unsigned int made;	/* buffers allocated, up to OUT_BUFS */
	GAsyncQueue *full;	/* to write; the writer ends at &out_end */
	GAsyncQueue *empty;	/* written, to fill again */
	GThread *writer;
};

static struct out_buf out_end;

/* All of @b, or the errno of the write that failed. */
static int out_write(int fd, const struct out_buf *b)
{
	for (size_t done = 0; done < b->len;) {
		ssize_t n = write(fd, b->data + done, b->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		done += (size_t)n;
	}
	return 0;
}

/* The writer thread; o->err is read only after it is joined. */
static gpointer out_writer(gpointer opaque)
{
	struct fold_out *o = opaque;
	struct out_buf *b;

	while ((b = g_async_queue_pop(o->full)) != &out_end) {
		if (!o->err)
			o->err = out_write(o->fd, b);
		b->len = 0;
		g_async_queue_push(o->empty, b);
	}
	return NULL;
}

/*
 * An empty buffer: a new one while fewer than OUT_BUFS exist.  Without a
 * writer only out_open() takes one: out_flush() then reuses it.
 */
static struct out_buf *out_take(struct fold_out *o)
{
	struct out_buf *b;

	if (o->made < OUT_BUFS) {
		b = g_async_queue_try_pop(o->empty);
		if (b)
			return b;
		o->made++;
		b = g_malloc(sizeof(*b));
		b->len = 0;
		return b;
	}
	return g_async_queue_pop(o->empty);
}

/* The filled buffer goes to the writer (or is written now). */
static void out_flush(struct fold_out *o)
{
	if (!o->cur->len)
		return;
	if (o->writer) {
		g_async_queue_push(o->full, o->cur);
		o->cur = out_take(o);
		return;
	}
	if (!o->err)
		o->err = out_write(o->fd, o->cur);
	o->cur->len = 0;
}

static void out_put(struct fold_out *o, const char *s, size_t n)
{
	while (n) {
		size_t room = OUT_BUF - o->cur->len, k = MIN(n, room);

		memcpy(o->cur->data + o->cur->len, s, k);
		o->cur->len += k;
		s += k;
		n -= k;
		if (o->cur->len == OUT_BUF)
			out_flush(o);
	}
}

/* Creates @path (as fopen() "w" would); 0 or -errno. */
static int out_open(struct fold_out *o, const char *path)
{
	o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (o->fd < 0)
		return -errno;
	o->full = g_async_queue_new();
	o->empty = g_async_queue_new();
	o->cur = out_take(o);
	o->writer = g_thread_try_new("csi-folded", out_writer, o, NULL);
	return 0;
}

/* The rest written, the file closed, everything freed: 0 or -errno. */
static int out_close(struct fold_out *o)
{
	struct out_buf *b;

	out_flush(o);
	if (o->writer) {
		g_async_queue_push(o->full, &out_end);
		g_thread_join(o->writer);
	}
	if (close(o->fd) && !o->err)
		o->err = errno;
	g_free(o->cur);
	while ((b = g_async_queue_try_pop(o->empty)))
		g_free(b);
	g_async_queue_unref(o->full);
	g_async_queue_unref(o->empty);
	return -o->err;
}

struct fold {
	GArray *nodes;		/* struct fold_node, by id */
	GString *names;
	uint32_t *kids;		/* every node's children, sibling by sibling */
	uint32_t *first;	/* per node + 1: its first child's index in kids */
	GString *path;		/* the walk's path so far */
	GString *lines;		/* fold_sort_group(): lines, NUL-terminated */
	GArray *at;		/* fold_sort_group(): their offsets */
	struct fold_out out;
};

static inline struct fold_node *fold_node(const struct fold *f, uint32_t id)
{
	return &g_array_index(f->nodes, struct fold_node, id);
}

static void fold_collect(uint32_t id, uint32_t parent, uint64_t func,
			 uint64_t count, void *opaque)
{
	struct fold *f = opaque;
	struct fold_node n = { parent, 0, f->names->len, count };
	char name[128];

	/* Nodes are appended in id order and a parent precedes its child. */
	g_assert(id == f->nodes->len && parent < id);
	g_string_append(f->names, csi_symbolize(func, name, sizeof(name)));
	n.name_len = f->names->len - n.name;
	g_array_append_val(f->nodes, n);
}

static gint name_cmp(gconstpointer a, gconstpointer b, gpointer opaque)
{
	const struct fold *f = opaque;
	const struct fold_node *x = fold_node(f, *(const uint32_t *)a);
	const struct fold_node *y = fold_node(f, *(const uint32_t *)b);
	int c = memcmp(f->names->str + x->name, f->names->str + y->name,
		       MIN(x->name_len, y->name_len));

	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Every node's children, each parent's sorted by name, in kids. */
static void fold_link(struct fold *f)
{
	guint n = f->nodes->len;
	uint32_t *fill = g_new0(uint32_t, n + 1);

	f->kids = g_new(uint32_t, n);
	f->first = g_new0(uint32_t, n + 1);
	for (guint i = 1; i < n; i++)
		f->first[fold_node(f, i)->parent + 1]++;
	for (guint i = 0; i < n; i++)
		f->first[i + 1] += f->first[i];
	for (guint i = 1; i < n; i++) {
		uint32_t p = fold_node(f, i)->parent;

		f->kids[f->first[p] + fill[p]++] = i;
	}
	for (guint i = 0; i < n; i++)
		if (f->first[i + 1] - f->first[i] > 1)
			g_qsort_with_data(f->kids + f->first[i],
					  f->first[i + 1] - f->first[i],
					  sizeof(uint32_t), name_cmp, f);
	g_free(fill);
}

/* " COUNT\n" (" COUNT" and a NUL with @nul) after @s: a line's end. */
static void fold_append_count(GString *s, uint64_t count, bool nul)
{
	char buf[24];
	size_t n = sizeof(buf);

	buf[--n] = nul ? '\0' : '\n';
	do {
		buf[--n] = '0' + count % 10;
		count /= 10;
	} while (count);
	buf[--n] = ' ';
	g_string_append_len(s, buf + n, sizeof(buf) - n);
}

/* Append node @id's name to f->path; returns the length to cut back to. */
static size_t fold_enter(struct fold *f, uint32_t id)
{
	const struct fold_node *n = fold_node(f, id);
	size_t len = f->path->len;

	if (n->parent)
		g_string_append_c(f->path, ';');
	g_string_append_len(f->path, f->names->str + n->name, n->name_len);
	return len;
}

/* Node @id's line and every line below it, into f->lines and f->at. */
static void fold_gather(struct fold *f, uint32_t id)
{
	size_t len = fold_enter(f, id);

	if (fold_node(f, id)->count) {
		size_t at = f->lines->len;

		g_array_append_val(f->at, at);
		g_string_append_len(f->lines, f->path->str, f->path->len);
		fold_append_count(f->lines, fold_node(f, id)->count, true);
	}
	for (uint32_t k = f->first[id]; k < f->first[id + 1]; k++)
		fold_gather(f, f->kids[k]);
	g_string_truncate(f->path, len);
}

static gint line_cmp(gconstpointer a, gconstpointer b, gpointer buf)
{
	return strcmp((const char *)buf + *(const size_t *)a,
		      (const char *)buf + *(const size_t *)b);
}

/* The lines below @id, whose children's lines interleave: sorted. */
static void fold_sort_group(struct fold *f, uint32_t id)
{
	g_string_truncate(f->lines, 0);
	g_array_set_size(f->at, 0);
	for (uint32_t k = f->first[id]; k < f->first[id + 1]; k++)
		fold_gather(f, f->kids[k]);
	g_array_sort_with_data(f->at, line_cmp, f->lines->str);
	for (guint i = 0; i < f->at->len; i++) {
		const char *line = f->lines->str + g_array_index(f->at, size_t, i);

		out_put(&f->out, line, strlen(line));
		out_put(&f->out, "\n", 1);
	}
}

/* Does a child's name of @id start a sibling's?  (They are sorted.) */
static bool fold_interleaves(const struct fold *f, uint32_t id)
{
	for (uint32_t k = f->first[id] + 1; k < f->first[id + 1]; k++) {
		const struct fold_node *a = fold_node(f, f->kids[k - 1]);
		const struct fold_node *b = fold_node(f, f->kids[k]);

		if (a->name_len <= b->name_len &&
		    !memcmp(f->names->str + a->name, f->names->str + b->name,
			    a->name_len))
			return true;
	}
	return false;
}

/* Node @id's line, then the lines below it, in strcmp() order. */
static void fold_walk(struct fold *f, uint32_t id)
{
	size_t len = id ? fold_enter(f, id) : 0;

	/* The root has no line (it counts the calls of a full trie). */
	if (id && fold_node(f, id)->count) {
		size_t end = f->path->len;

		/* The count on the path's end: one copy a line. */
		fold_append_count(f->path, fold_node(f, id)->count, false);
		out_put(&f->out, f->path->str, f->path->len);
		g_string_truncate(f->path, end);
	}
	if (fold_interleaves(f, id))
		fold_sort_group(f, id);
	else
		for (uint32_t k = f->first[id]; k < f->first[id + 1]; k++)
			fold_walk(f, f->kids[k]);
	g_string_truncate(f->path, len);
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
		.nodes = g_array_new(FALSE, FALSE, sizeof(struct fold_node)),
		.names = g_string_sized_new(1 << 16),
		.path = g_string_sized_new(4096),
		.lines = g_string_new(NULL),
		.at = g_array_new(FALSE, FALSE, sizeof(size_t)),
	};
	g_autofree char *tmp = g_strdup_printf("%s.tmp", path);
	struct fold_node root = { 0 };
	struct stat st;
	bool aside;
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
	g_array_append_val(f.nodes, root);
	csi_node_foreach(fold_collect, &f);
	fold_link(&f);

	/*
	 * A file is written aside and renamed: a reader never sees half of
	 * it.  A device, a FIFO or a symbolic link (/dev/null, /dev/stdout)
	 * is written through: a file renamed over it would replace it.
	 */
	aside = lstat(path, &st) || S_ISREG(st.st_mode);
	ret = out_open(&f.out, aside ? tmp : path);
	if (ret)
		goto out;
	fold_walk(&f, 0);
	ret = out_close(&f.out);
	if (!ret && aside && rename(tmp, path))
		ret = -errno;
	/* A file cut short (a full disk) is not left beside it. */
	if (ret && aside)
		unlink(tmp);
out:
	g_array_free(f.nodes, TRUE);
	g_string_free(f.names, TRUE);
	g_string_free(f.path, TRUE);
	g_string_free(f.lines, TRUE);
	g_array_free(f.at, TRUE);
	g_free(f.kids);
	g_free(f.first);
	return ret;
}
