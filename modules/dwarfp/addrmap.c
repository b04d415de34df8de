// SPDX-License-Identifier: MIT
/*
 * addrmap.c - dwarfp's address lookups: pc -> line and innermost function
 * (struct dw_pcmap), pc -> out-of-line function (struct dw_amap), over
 * flat arrays sorted by address, searched through a bucket table, and the
 * flattening of nested function ranges into the disjoint segments those
 * lookups are built from.
 */
#include <string.h>

#include "index.h"

/*
 * Address -> index search over a sorted array of distinct addresses: the
 * span from the first address is cut into 2^shift-byte buckets, and
 * @first[i] is the index of the first address at or above bucket i.  A
 * lookup reads one bucket pair and searches the few addresses between.
 */
struct buckets {
	uint32_t *first;		/* n_buckets + 1 entries */
	uint64_t base;			/* the first address */
	uint32_t n, n_buckets;
	unsigned int shift;
};

/*
 * The address map of the out-of-line functions' segments: the addresses
 * kept as 32-bit offsets from the first when the span allows (it always
 * does for one binary's code).
 */
struct dw_amap {
	struct buckets bk;
	uint32_t *off;			/* keys - base, when !wide */
	uint64_t *keys;			/* when wide */
	bool wide;
};

/*
 * The lookup of a pc's line and innermost function (dw_line_at(),
 * dw_func_at()): one 16-byte entry where either changes, the address as
 * an offset beside the line's file, line and discriminator packed into 32
 * bits (@info) and the function, so that a lookup of both reads the
 * bucket and the entry and nothing else.  The whole rows (32 bytes each:
 * the Linux kernel's 1.6 million take 50 MB) are read only for a line
 * that does not pack.  @info is line | discr << wl | file << (wl + wd),
 * the widths chosen from the binary's largest values; INFO_ROW: look the
 * row up; INFO_END: no line (before the first row, past a sequence's end).
 */
struct pent {
	uint32_t off;
	uint32_t info;
	const struct dw_func *fn;	/* NULL: none */
};

#define INFO_END UINT32_MAX
#define INFO_ROW (UINT32_MAX - 1)

struct dw_pcmap {
	struct buckets bk;
	/*
	 * NULL if the span is past 32-bit offsets: then the rows are
	 * searched, and the functions' segments through @seg_map.
	 */
	struct pent *e;
	GArray *segs;
	struct dw_amap *seg_map;
	unsigned int wl, wd;		/* bits of the line, the discriminator */
	const char *const *files;	/* the binary's file names */
};

/* The key of an item: a 32-bit offset from the base, or a 64-bit address. */
static inline uint64_t key_at(const void *item, bool wide)
{
	return wide ? *(const uint64_t *)item : *(const uint32_t *)item;
}

/*
 * The mean over @n sorted keys of the number of keys in their bucket, for
 * buckets of 2^@shift bytes: what a lookup of one of them searches.
 */
static double bucket_load(const void *items, size_t stride, bool wide,
			  uint64_t base, guint n, unsigned int shift)
{
	uint64_t sq = 0, run = 0, prev = 0;

	for (guint i = 0; i < n; i++) {
		uint64_t d = (key_at((const char *)items + i * stride, wide) -
			      (wide ? base : 0)) >> shift;

		if (i && d != prev) {
			sq += run * run;
			run = 0;
		}
		prev = d;
		run++;
	}
	return (double)(sq + run * run) / n;
}

/* A lookup searches about this many keys, a cache line's worth. */
#define BUCKET_KEYS 4

/*
 * Buckets over @n (> 0) sorted keys of @items (one at the start of each
 * @stride bytes, addresses if @wide, else offsets from @base), which span
 * @span bytes.  Code is dense in places and sparse in others (the Linux
 * kernel's function starts are where its rows are densest): the buckets
 * are made small enough that a key's bucket holds about BUCKET_KEYS keys
 * on average over the keys, not over the span, as long as there are at
 * most 4 buckets a key (and fewer than 2^32).
 */
static void buckets_init(struct buckets *bk, uint64_t base, uint64_t span,
			 const void *items, size_t stride, bool wide, guint n)
{
	guint k = 0;

	bk->n = n;
	bk->base = base;
	while ((span >> bk->shift) >= n / BUCKET_KEYS + 1)
		bk->shift++;
	while (bk->shift &&
	       (span >> (bk->shift - 1)) < MIN(4 * (uint64_t)n, UINT32_MAX - 1) &&
	       bucket_load(items, stride, wide, base, n, bk->shift) > BUCKET_KEYS)
		bk->shift--;
	bk->n_buckets = (span >> bk->shift) + 1;
	bk->first = g_new(uint32_t, bk->n_buckets + 1);
	for (guint i = 0; i < bk->n_buckets; i++) {
		uint64_t start = (uint64_t)i << bk->shift;

		while (k < n && key_at((const char *)items + k * stride, wide) -
		       (wide ? base : 0) < start)
			k++;
		bk->first[i] = k;
	}
	bk->first[bk->n_buckets] = n;
}

struct dw_amap *dw_amap_new(const void *items, size_t stride, guint n)
{
	struct dw_amap *m = g_new0(struct dw_amap, 1);
	uint64_t base, span;

	if (!n)
		return m;
	base = key_at(items, true);
	span = key_at((const char *)items + (n - 1) * stride, true) - base;
	/* 31 bits: a bucket may reach past the last address. */
	m->wide = span >> 31;
	if (m->wide)
		m->keys = g_new(uint64_t, n);
	else
		m->off = g_new(uint32_t, n);
	for (guint i = 0; i < n; i++) {
		uint64_t a = key_at((const char *)items + i * stride, true);

		if (m->wide)
			m->keys[i] = a;
		else
			m->off[i] = a - base;
	}
	if (m->wide)
		buckets_init(&m->bk, base, span, m->keys, sizeof(uint64_t), true, n);
	else
		buckets_init(&m->bk, base, span, m->off, sizeof(uint32_t), false, n);
	return m;
}

void dw_amap_free(struct dw_amap *m)
{
	if (!m)
		return;
	g_free(m->bk.first);
	g_free(m->off);
	g_free(m->keys);
	g_free(m);
}

/*
 * The last of @len (> 0) sorted keys (one at the start of each @stride
 * bytes from @v) at or below @x, as an index from @v, or -1.
 * Branch-free halving: the compiler makes each step a conditional move,
 * so a lookup mispredicts no branch.
 */
static inline long last_le(const void *v, size_t stride, bool wide,
			   uint32_t len, uint64_t x)
{
	const char *p = v;

	while (len > 1) {
		uint32_t half = len / 2;

		p = key_at(p + half * stride, wide) <= x ? p + half * stride : p;
		len -= half;
	}
	return (long)((p - (const char *)v) / stride) - (key_at(p, wide) > x);
}

/* Into *@d the bucket of @addr: false if it is below or past them all. */
static inline bool bucket_of(const struct buckets *bk, uint64_t addr, uint64_t *d)
{
	*d = (addr - bk->base) >> bk->shift;
	return addr >= bk->base && *d < bk->n_buckets;
}

/*
 * The index of the last key at or below @addr among the items of @bk,
 * from @items (@stride bytes each, beginning with their key: the offset
 * from bk->base, or the address if @wide), or -1.
 */
static inline long bucket_find(const struct buckets *bk, const void *items,
			       size_t stride, bool wide, uint64_t addr)
{
	uint64_t d;
	uint32_t lo, len;

	if (!bk->n || addr < bk->base)
		return -1;
	if (!bucket_of(bk, addr, &d))
		return (long)bk->n - 1;
	lo = bk->first[d];
	len = bk->first[d + 1] - lo;
	if (!len)
		return (long)lo - 1;
	items = (const char *)items + lo * stride;
	return lo + last_le(items, stride, wide, len, wide ? addr : addr - bk->base);
}

/*
 * Have the cache line of @p fetched, without waiting for it.  Not
 * __builtin_prefetch(): GCC deletes a loop of nothing but those as dead.
 */
static inline void fetch_ahead(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
#elif defined(__aarch64__)
	__asm__ volatile("prfm pldl1keep, %0" : : "Q"(*(const char *)p));
#else
	__builtin_prefetch(p);
#endif
}

/*
 * Fetch ahead what bucket_find(@bk, @items, ...) of @addr reads: its
 * bucket's entry of @bk->first (bucket_prefetch()), then, once that is
 * in, the first and the last item it may answer (items_prefetch()).
 */
static inline void bucket_prefetch(const struct buckets *bk, uint64_t addr)
{
	uint64_t d;

	if (bucket_of(bk, addr, &d))
		fetch_ahead(&bk->first[d]);
}

static inline void items_prefetch(const struct buckets *bk, const void *items,
				  size_t stride, uint64_t addr)
{
	uint64_t d;
	uint32_t lo, hi;

	if (!bucket_of(bk, addr, &d))
		return;
	lo = bk->first[d];
	hi = bk->first[d + 1];
	/* An empty bucket answers the item before it. */
	if (lo == hi && lo)
		lo--;
	fetch_ahead((const char *)items + lo * stride);
	if (hi > lo + 1)
		fetch_ahead((const char *)items + (hi - 1) * stride);
}

/* The index of the last address at or below @addr, or -1. */
static inline long amap_find(const struct dw_amap *m, uint64_t addr)
{
	if (m->wide)
		return bucket_find(&m->bk, m->keys, sizeof(uint64_t), true, addr);
	return bucket_find(&m->bk, m->off, sizeof(uint32_t), false, addr);
}

/* The number of bits @v takes. */
static unsigned int bits_of(uint64_t v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

/* @r's line packed for struct pent, or INFO_ROW if it does not fit. */
static uint32_t pack_line(const struct dw_pcmap *m, const struct dw_row *r)
{
	unsigned int wf = 32 - m->wl - m->wd;
	uint64_t info;

	if (r->end)
		return INFO_END;
	if ((uint64_t)r->line >> m->wl || (uint64_t)r->discr >> m->wd ||
	    (uint64_t)r->file >> wf)
		return INFO_ROW;
	info = (uint64_t)r->file << (m->wl + m->wd) | (uint64_t)r->discr << m->wl |
	       r->line;
	return info >= INFO_ROW ? INFO_ROW : info;
}

struct dw_pcmap *dw_pcmap_new(const struct dw_binary *b, GArray *segs)
{
	const struct dw_row *rows = (const struct dw_row *)b->rows->data;
	const struct dw_seg *sg = (const struct dw_seg *)segs->data;
	struct dw_pcmap *m = g_new0(struct dw_pcmap, 1);
	guint n = b->rows->len, ns = segs->len, i = 0, j = 0, o = 0;
	uint64_t base = UINT64_MAX, top = 0, key;
	uint32_t max_line = 0;
	unsigned int wf;

	m->files = (const char *const *)b->files->pdata;
	if (n) {
		base = rows[0].addr;
		top = rows[n - 1].addr;
	}
	if (ns) {
		base = MIN(base, sg[0].lo);
		top = MAX(top, sg[ns - 1].hi);
	}
	if (!n && !ns) {
		g_array_free(segs, TRUE);
		return m;
	}
	/* 31 bits: a bucket may reach past the last address. */
	if ((top - base) >> 31) {
		m->segs = segs;
		m->seg_map = dw_amap_new(segs->data, sizeof(struct dw_seg), ns);
		return m;
	}
	/*
	 * The file's and the line's widths from their largest values (the
	 * file's at most 16 bits), the discriminator the bits left: on the
	 * vmlinux 12, 14 and 6; a line past them is read from its row.
	 */
	for (guint k = 0; k < n; k++)
		max_line = MAX(max_line, rows[k].line);
	wf = MIN(bits_of(b->files->len - 1), 16);
	m->wl = MIN(bits_of(max_line), 32 - wf);
	m->wd = 32 - wf - m->wl;
	/*
	 * An entry at each row's address and each segment's ends, where the
	 * line or the function changes: the keys only grow, so there are at
	 * most n + 2 ns + 1.
	 */
	m->e = g_new(struct pent, (gsize)n + 2 * (gsize)ns + 1);
	for (key = base;;) {
		struct pent p = { key - base, INFO_END, NULL };
		bool more = false;
		uint64_t next = UINT64_MAX;

		while (i < n && rows[i].addr <= key)
			i++;
		while (j < ns && sg[j].hi <= key)
			j++;
		if (i)
			p.info = pack_line(m, &rows[i - 1]);
		if (j < ns && sg[j].lo <= key)
			p.fn = sg[j].fn;
		if (!o || p.info != m->e[o - 1].info || p.fn != m->e[o - 1].fn)
			m->e[o++] = p;
		if (i < n) {
			next = rows[i].addr;
			more = true;
		}
		if (j < ns) {
			next = MIN(next, sg[j].lo > key ? sg[j].lo : sg[j].hi);
			more = true;
		}
		if (!more)
			break;
		key = next;
	}
	m->e = g_renew(struct pent, m->e, o);
	buckets_init(&m->bk, base, top - base, m->e, sizeof(struct pent), false, o);
	g_array_free(segs, TRUE);
	return m;
}

void dw_pcmap_free(struct dw_pcmap *m)
{
	if (!m)
		return;
	g_free(m->bk.first);
	g_free(m->e);
	if (m->segs)
		g_array_free(m->segs, TRUE);
	dw_amap_free(m->seg_map);
	g_free(m);
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

const struct dw_row *dw_row_at(const struct dw_binary *b, uint64_t addr)
{
	const struct dw_row *rows = (const struct dw_row *)b->rows->data;
	guint lo = 0, hi = b->rows->len;

	/* The rows are asked for rarely: a plain search, no map of their own. */
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (rows[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || rows[lo - 1].end)
		return NULL;
	return &rows[lo - 1];
}

/* The entry of @m holding @addr, or NULL (then neither line nor function). */
static inline const struct pent *pcmap_find(const struct dw_pcmap *m,
					    uint64_t addr)
{
	long i = bucket_find(&m->bk, m->e, sizeof(struct pent), false, addr);

	return i < 0 ? NULL : &m->e[i];
}

/* The function of the segment of @segs (searched by @map) holding @addr. */
static struct dw_func *seg_fn(const GArray *segs, const struct dw_amap *map,
			      uint64_t addr)
{
	const struct dw_seg *s = (const struct dw_seg *)segs->data;
	long i = amap_find(map, addr);

	return i < 0 || addr >= s[i].hi ? NULL : s[i].fn;
}

/*
 * dw_pc_at(), with @out or @fn NULL for a lookup of the other alone (the
 * calls below give constants: the compiler drops what is not asked).
 */
static inline bool pc_lookup(const struct dw_binary *b, uint64_t addr,
			     struct dw_line *out, const struct dw_func **fn)
{
	const struct dw_pcmap *m = b->pc_map;
	const struct pent *p = NULL;
	const struct dw_row *r;
	uint64_t v;

	if (m->e) {
		p = pcmap_find(m, addr);
		if (fn)
			*fn = p ? p->fn : NULL;
		if (!out || !p || p->info == INFO_END)
			return false;
	} else {
		if (fn)
			*fn = m->segs ? seg_fn(m->segs, m->seg_map, addr) : NULL;
		if (!out)
			return false;
	}
	if (!p || p->info == INFO_ROW) {
		if (!(r = dw_row_at(b, addr)))
			return false;
		*out = (struct dw_line){ dw_file(b, r->file), r->line, r->discr };
		return true;
	}
	v = p->info;
	*out = (struct dw_line){
		.file = m->files[v >> (m->wl + m->wd)],
		.line = v & ((1ull << m->wl) - 1),
		.discr = (v >> m->wl) & ((1ull << m->wd) - 1),
	};
	return true;
}

bool dw_pc_at(const struct dw_binary *b, uint64_t addr, struct dw_line *out,
	      const struct dw_func **fn)
{
	return pc_lookup(b, addr, out, fn);
}

/*
 * dw_pc_at_n()'s lookups, PC_GROUP at a time: the group's buckets are
 * fetched, then its entries, then it is answered.  On a kernel's map, a
 * lookup is two dependent cache misses (its bucket, its entry): one at a
 * time, the processor overlaps only a few of them.  The ones of a group
 * are fetched together.
 */
#define PC_GROUP 16

void dw_pc_at_n(const struct dw_binary *b, const uint64_t *addrs, size_t n,
		struct dw_pc *out)
{
	const struct dw_pcmap *m = b->pc_map;

	for (size_t g = 0; g < n; g += PC_GROUP) {
		size_t end = MIN(n, g + PC_GROUP);

		if (m->e) {
			for (size_t i = g; i < end; i++)
				bucket_prefetch(&m->bk, addrs[i]);
			for (size_t i = g; i < end; i++)
				items_prefetch(&m->bk, m->e, sizeof(struct pent), addrs[i]);
		}
		for (size_t i = g; i < end; i++)
			out[i].found = pc_lookup(b, addrs[i], &out[i].line, &out[i].fn);
	}
}

bool dw_line_at(const struct dw_binary *b, uint64_t addr, struct dw_line *out)
{
	return pc_lookup(b, addr, out, NULL);
}

const struct dw_func *dw_func_at(const struct dw_binary *b, uint64_t addr,
				 bool innermost)
{
	const struct dw_func *f;

	if (innermost) {
		pc_lookup(b, addr, NULL, &f);
		return f;
	}
	/* Who asks for the out-of-line function reads its variables next. */
	if ((f = seg_fn(b->osegs, b->oseg_map, addr)))
		dw_read_vars(b, f);
	return f;
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
