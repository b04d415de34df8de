// SPDX-License-Identifier: MIT
/*
 * addrmap.c - dwarfp's address lookups: pc -> line row and pc -> function
 * over flat arrays sorted by address, searched through a bucket table
 * (struct dw_amap), and the flattening of nested function ranges into the
 * disjoint segments those lookups search.
 */
#include <string.h>

#include "index.h"

/*
 * Address -> index map over a sorted array of distinct addresses: the
 * span from the first address is cut into 2^shift-byte buckets, and
 * @bucket[i] is the index of the first address at or above bucket i.  A
 * lookup reads one bucket pair and searches the few addresses between.
 * The addresses are kept as 32-bit offsets from the first when the span
 * allows (it always does for one binary's code): with the buckets, that
 * is 5 bytes an address, so a map of 200000 rows stays in a 1 MiB cache.
 */
struct dw_amap {
	uint32_t *off;			/* keys - base, when !wide */
	uint64_t *keys;			/* when wide */
	uint32_t *bucket;		/* n_buckets + 1 entries */
	uint64_t base;			/* the first address */
	uint32_t n, n_buckets;
	unsigned int shift;
	bool wide;
};
static uint64_t item_addr(const void *items, size_t stride, guint i)
{
	uint64_t a;

	memcpy(&a, (const char *)items + i * stride, sizeof(a));
	return a;
}

struct dw_amap *dw_amap_new(const void *items, size_t stride, guint n)
{
	struct dw_amap *m = g_new0(struct dw_amap, 1);
	uint64_t span;
	guint k = 0;

	m->n = n;
	if (!n)
		return m;
	m->base = item_addr(items, stride, 0);
	span = item_addr(items, stride, n - 1) - m->base;
	/* 31 bits: a bucket may reach past the last address. */
	m->wide = span >> 31;
	if (m->wide)
		m->keys = g_new(uint64_t, n);
	else
		m->off = g_new(uint32_t, n);
	for (guint i = 0; i < n; i++) {
		uint64_t d = item_addr(items, stride, i) - m->base;

		if (m->wide)
			m->keys[i] = d + m->base;
		else
			m->off[i] = d;
	}
	/* About four addresses a bucket: one cache line to search. */
	while ((span >> m->shift) >= n / 4 + 1)
		m->shift++;
	m->n_buckets = (span >> m->shift) + 1;
	m->bucket = g_new(uint32_t, m->n_buckets + 1);
	for (guint i = 0; i < m->n_buckets; i++) {
		uint64_t start = (uint64_t)i << m->shift;

		while (k < n && item_addr(items, stride, k) - m->base < start)
			k++;
		m->bucket[i] = k;
	}
	m->bucket[m->n_buckets] = n;
	return m;
}

void dw_amap_free(struct dw_amap *m)
{
	if (!m)
		return;
	g_free(m->off);
	g_free(m->keys);
	g_free(m->bucket);
	g_free(m);
}

/*
 * The last of @len (> 0) sorted values from @v at or below @x, as an
 * index from @v, or -1.  Branch-free halving: the compiler makes each
 * step a conditional move, so a lookup mispredicts no branch.
 */
static inline long last_le32(const uint32_t *v, uint32_t len, uint32_t x)
{
	const uint32_t *p = v;

	while (len > 1) {
		uint32_t half = len / 2;

		p = p[half] <= x ? p + half : p;
		len -= half;
	}
	return (long)(p - v) - (*p > x);
}

static inline long last_le64(const uint64_t *v, uint32_t len, uint64_t x)
{
	const uint64_t *p = v;

	while (len > 1) {
		uint32_t half = len / 2;

		p = p[half] <= x ? p + half : p;
		len -= half;
	}
	return (long)(p - v) - (*p > x);
}

/* The index of the last address at or below @addr, or -1. */
static inline long amap_find(const struct dw_amap *m, uint64_t addr)
{
	uint64_t d;
	uint32_t lo, len;

	if (!m->n || addr < m->base)
		return -1;
	d = (addr - m->base) >> m->shift;
	if (d >= m->n_buckets)
		return (long)m->n - 1;
	lo = m->bucket[d];
	len = m->bucket[d + 1] - lo;
	if (!len)
		return (long)lo - 1;
	if (m->wide)
		return lo + last_le64(m->keys + lo, len, addr);
	return lo + last_le32(m->off + lo, len, addr - m->base);
}

/* -- function segments ----------------------------------------------- */

struct ival {
	uint64_t lo, hi;
	struct dw_func *fn;
};

/* The radix sort's digits: 6 of 11 bits cover a 64-bit key. */
#define DIGIT_BITS 11
#define DIGITS 6
#define DIGIT_VALUES (1u << DIGIT_BITS)

/* Key @k of @v: 0, the end, largest first; 1, the start. */
static inline uint64_t ival_key(const struct ival *v, unsigned int k)
{
	return k ? v->lo : ~v->hi;
}

static inline unsigned int digit(uint64_t key, unsigned int d)
{
	return (key >> (d * DIGIT_BITS)) & (DIGIT_VALUES - 1);
}

/*
 * Sort @iv by start, then outer (larger end) first, then in the order
 * given (the functions' order): a least-significant-digit radix sort,
 * stable, by the end and then by the start.  A digit every range shares
 * (the high bits of a kernel's addresses) costs no pass.  The Linux
 * kernel has half a million ranges: a comparison sort took 70 ms.
 */
static void ival_sort(GArray *iv)
{
	guint n = iv->len;
	struct ival *a = (struct ival *)iv->data, *src = a, *dst, *tmp;
	uint32_t *count;		/* per key and digit, DIGIT_VALUES counts */

	if (n < 2)
		return;
	count = g_new0(uint32_t, 2 * DIGITS * DIGIT_VALUES);
	for (guint i = 0; i < n; i++)
		for (unsigned int k = 0; k < 2; k++)
			for (unsigned int d = 0; d < DIGITS; d++)
				count[(k * DIGITS + d) * DIGIT_VALUES +
				      digit(ival_key(&a[i], k), d)]++;
	tmp = dst = g_new(struct ival, n);
	for (unsigned int k = 0; k < 2; k++) {
		for (unsigned int d = 0; d < DIGITS; d++) {
			uint32_t *c = count + (k * DIGITS + d) * DIGIT_VALUES, pos = 0;
			struct ival *t;

			if (c[digit(ival_key(&src[0], k), d)] == n)
				continue;
			for (unsigned int v = 0; v < DIGIT_VALUES; v++) {
				uint32_t m = c[v];

				c[v] = pos;
				pos += m;
			}
			for (guint i = 0; i < n; i++)
				dst[c[digit(ival_key(&src[i], k), d)]++] = src[i];
			t = src;
			src = dst;
			dst = t;
		}
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	g_free(tmp);
	g_free(count);
}

static void emit(GArray *segs, uint64_t lo, uint64_t hi, struct dw_func *fn)
{
	if (hi <= lo)
		return;
	if (segs->len) {
		struct dw_seg *last = &g_array_index(segs, struct dw_seg, segs->len - 1);

		if (last->fn == fn && last->hi == lo) {
			last->hi = hi;
			return;
		}
	}
	g_array_append_val(segs, ((struct dw_seg){ lo, hi, fn }));
}

/*
 * Flatten nested ranges into disjoint segments, each with its innermost
 * function: a sweep over the ranges sorted by start, outer first, with
 * the open ranges on a stack.
 */
GArray *dw_segs_build(struct dw_binary *b, bool innermost)
{
	GArray *iv = g_array_new(FALSE, FALSE, sizeof(struct ival));
	GArray *segs = g_array_new(FALSE, FALSE, sizeof(struct dw_seg));
	GArray *stack = g_array_new(FALSE, FALSE, sizeof(struct ival));
	uint64_t cur = 0;

	for (guint i = 0; i < b->funcs->len; i++) {
		struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (!innermost && f->inlined)
			continue;
		for (uint32_t j = 0; j < f->n_ranges; j++)
			g_array_append_val(iv, ((struct ival){ f->ranges[j].lo,
				f->ranges[j].hi, f }));
	}
	ival_sort(iv);
	for (guint i = 0; i <= iv->len; i++) {
		struct ival in = i < iv->len ? g_array_index(iv, struct ival, i) :
			(struct ival){ UINT64_MAX, UINT64_MAX, NULL };

		while (stack->len) {
			struct ival *top = &g_array_index(stack, struct ival, stack->len - 1);

			if (top->hi > in.lo)
				break;
			emit(segs, cur, top->hi, top->fn);
			cur = MAX(cur, top->hi);
			g_array_set_size(stack, stack->len - 1);
		}
		if (!in.fn)
			break;
		if (stack->len) {
			struct ival *top = &g_array_index(stack, struct ival, stack->len - 1);

			emit(segs, cur, in.lo, top->fn);
			if (in.hi > top->hi)	/* badly nested: clip */
				in.hi = top->hi;
		}
		cur = in.lo;
		g_array_append_val(stack, in);
	}
	g_array_free(stack, TRUE);
	g_array_free(iv, TRUE);
	return segs;
}
/* -- lookups ------------------------------------------------------------- */

const struct dw_row *dw_line_at(const struct dw_binary *b, uint64_t addr)
{
	const struct dw_row *rows = (const struct dw_row *)b->rows->data;
	long i = amap_find(b->row_map, addr);

	if (i < 0 || rows[i].end)
		return NULL;
	return &rows[i];
}

const struct dw_func *dw_func_at(const struct dw_binary *b, uint64_t addr,
				 bool innermost)
{
	const GArray *a = innermost ? b->segs : b->osegs;
	const struct dw_seg *s = (const struct dw_seg *)a->data;
	long i = amap_find(innermost ? b->seg_map : b->oseg_map, addr);

	if (i < 0 || addr >= s[i].hi)
		return NULL;
	/* Who asks for the out-of-line function reads its variables next. */
	if (!innermost)
		dw_read_vars(b, s[i].fn);
	return s[i].fn;
}

bool dw_var_in_scope(const struct dw_var *var, uint64_t addr)
{
	if (!var->n_scope)
		return true;
	for (uint32_t i = 0; i < var->n_scope; i++)
		if (addr >= var->scope[i].lo && addr < var->scope[i].hi)
			return true;
	return false;
}
