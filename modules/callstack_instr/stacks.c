// SPDX-License-Identifier: MIT
/*
 * Shadow stacks and the folded-stack trie.
 *
 * A stack is found by its id: the address space (cr3) for asid stacks;
 * the address space and the stack pointer's region for heuristic ones.
 * Stacks live until the module goes: a vCPU keeps a pointer to the one it
 * last used.  Each holds a ring of csi_max_depth frames: a push onto a
 * full ring drops the outermost frame, so deep recursion keeps the frames
 * that returns can still match.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/*
 * Heuristic stacks: a stack pointer that moved this far from a stack's
 * last one is another stack (a thread switch), as in PANDA.
 */
#define MAX_STACK_DIFF 5000

uint32_t csi_max_depth = 1024;
uint32_t csi_ring_mask = 1023;
enum cs_stack_kind csi_stack_kind = CS_STACK_ASID;
/*
 * Written, rarely, by every vCPU: it starts a cache line, so that no
 * global read at every call (csi_folded_on was one) shares the line of
 * its counts.
 */
struct csi_stats csi_stats __attribute__((aligned(64)));

struct stack_key {
	uint64_t asid, anchor;
};

/*
 * A lock, or a word, written while the vCPUs run (a stack looked up at a
 * task switch, a node added), on a cache line of its own.  Beside
 * node_chunks and the other pointers every call reads, each such write
 * took their line away from the other vCPU's cache.
 */
union padded_mutex {
	GMutex m;
	char line[64];
} __attribute__((aligned(64)));

union padded_u32 {
	uint32_t v;
	char line[64];
} __attribute__((aligned(64)));

static union padded_mutex table_lock;
static GHashTable *stacks;	/* struct stack_key -> struct csi_stack */
static GHashTable *by_asid;	/* heuristic: asid -> GPtrArray of stacks */
/*
 * Every stack, oldest first: a reload recreates them in this order, so
 * heuristic stacks at the same distance from a stack pointer are chosen
 * between as before (the first in by_asid's list wins).
 */
static GPtrArray *all;

static guint key_hash(gconstpointer p)
{
	const struct stack_key *k = p;

	return g_int64_hash(&k->asid) * 31 + g_int64_hash(&k->anchor);
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	const struct stack_key *x = a, *y = b;

	return x->asid == y->asid && x->anchor == y->anchor;
}

static void stack_free(gpointer p)
{
	struct csi_stack *s = p;

	g_free(s->frames);
	g_aligned_free(s);
}

/* -- folded-stack trie ---------------------------------------------------- */

bool csi_folded_on;

/* Child hints a node holds: what fills its cache line. */
#define NODE_HINTS 6

/*
 * One cache line, aligned: a call reads its caller's node and its own.
 * Nothing in it changes once its children are known (a full node's hints
 * aside): the counts are kept apart, per vCPU (struct csi_counts).
 */
struct node {
	uint32_t parent;
	uint32_t depth;		/* frames on the path from the root */
	uint64_t func;
	/*
	 * Children last found: their ids, each with 16 bits of its
	 * function's hash (0: none) so that only a likely one is read; the
	 * hint the next child replaces; whether one was ever replaced
	 * ("full": then the children table knows every child of this node).
	 * While a node is not full, its hints change only under node_lock
	 * and hold every child it has; readers without the lock check a
	 * hint against the child it names.
	 */
	uint32_t hint[NODE_HINTS];
	uint16_t tag[NODE_HINTS];
	uint8_t victim;
	uint8_t full;
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct node) == 64, "a node is one cache line");

struct node_key {
	uint32_t parent;
	uint64_t func;
};

/*
 * Every call of a folded run finds the node of (caller's node, callee):
 * a Linux boot makes 12 million calls on two vCPUs, and a global lock
 * and a hash table lookup per call cost more than the rest of a call's
 * bookkeeping (the vCPUs fought over the lock).  So a call looks in its
 * caller's node first, without node_lock: six hints, child ids checked
 * against the child itself, whose parent and function never change once
 * it is published.  A function's callees are found in its node's cache
 * line, often still in the CPU's cache.  Nodes live in chunks that never
 * move, so a node can be read while another vCPU appends.
 *
 * A node with at most six children keeps them all in its hints: a child
 * not among them is new, and is made under node_lock.  Only the children
 * of a node with more (a fifth of a Linux boot's 300,000 nodes) go in
 * the children table, a GHashTable, and in front of it a cache of node
 * ids read without the lock.  When every node went in the table, its
 * lookup and insert at random places of tens of MB made a new node cost
 * about 3,000 cycles, about as much over a boot as all the calls that
 * found their node in a hint.
 */
#define NODE_CHUNK_BITS 15		/* 2 MiB of nodes: one huge page */
#define NODE_CHUNK (1u << NODE_CHUNK_BITS)
#define NODE_CHUNKS (1u << 13)		/* 2^28 nodes at most */
#define CHUNK_BYTES ((size_t)NODE_CHUNK * sizeof(struct node))
#define CACHE_BITS 18

/*
 * A counter's calls of each node, by id, in chunks of NODE_CHUNK made
 * when first needed.  Each vCPU counts into its own, one thread writing
 * it: no locked instruction, and no line that two vCPUs both write.
 * When the count was in the node, a locked add at each call, the two
 * vCPUs of a Linux boot also took the lines of the paths they shared from
 * each other: boots with no count at all ran 3.5% faster (the median of
 * 12 interleaved pairs).  A reader adds the counters up.
 */
struct csi_counts {
	uint64_t *chunk[NODE_CHUNKS];	/* published with release */
};

static union padded_mutex node_lock;
static GPtrArray *counters;		/* under node_lock: every one made */
static struct csi_counts *restored;	/* the counts handed over */
static struct node **node_chunks;	/* NODE_CHUNKS entries */
static union padded_u32 node_len;	/* published with release */
static GHashTable *children;		/* struct node_key -> id, full parents' */
static uint32_t *node_cache;		/* 1 << CACHE_BITS node ids, 0 = none */

static inline struct node *node_at(uint32_t id)
{
	return &node_chunks[id >> NODE_CHUNK_BITS][id & (NODE_CHUNK - 1)];
}

static inline uint32_t cache_slot(uint32_t parent, uint64_t func)
{
	return ((func ^ (uint64_t)parent << 40) * 0x9e3779b97f4a7c15ull) >>
	       (64 - CACHE_BITS);
}

/*
 * @size bytes of zeroed memory, 2 MiB aligned and asked to be backed by
 * huge pages where the kernel does that on request (transparent huge
 * pages in "madvise" mode, as on Debian).  The trie's lookups land on
 * random nodes of tens of MB and on random slots of the cache: with 4 KiB
 * pages nearly each one also missed the TLB, a page walk that costs as
 * much as the cache miss again, and more in a virtual machine.
 */
#define HUGE_PAGE (2u << 20)

static void *huge_alloc(size_t size)
{
	size_t len = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	uint8_t *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t head;

	if (p == MAP_FAILED)
		g_error("callstack_instr: cannot map %zu bytes", len);
	/* Keep the aligned part only. */
	head = (HUGE_PAGE - ((uintptr_t)p & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
	if (head)
		munmap(p, head);
	munmap(p + head + len, HUGE_PAGE - head);
	p += head;
#ifdef MADV_HUGEPAGE
	madvise(p, len, MADV_HUGEPAGE);
#endif
	return p;
}

static void huge_free(void *p, size_t size)
{
	if (p)
		munmap(p, (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1));
}

/* A chunk of nodes, each on a cache line of its own. */
static struct node *node_chunk_new(void)
{
	return huge_alloc(CHUNK_BYTES);
}

static guint node_hash(gconstpointer p)
{
	const struct node_key *k = p;

	return g_int64_hash(&k->func) * 31 + k->parent;
}

static gboolean node_equal(gconstpointer a, gconstpointer b)
{
	const struct node_key *x = a, *y = b;

	return x->parent == y->parent && x->func == y->func;
}

/* 16 bits of @func's hash, never 0 (an empty hint). */
static inline uint16_t node_tag(uint64_t func)
{
	return ((func * 0x9e3779b97f4a7c15ull) >> 48) | 1;
}

/* Is node @id (0: none) the child @func of @parent? */
static inline bool node_is(uint32_t id, uint32_t parent, uint64_t func)
{
	const struct node *n = node_at(id);

	return id && n->parent == parent && n->func == func;
}

/*
 * Remember child @id in one of @p's hints, the next one round.  Without
 * node_lock only for a full node: a racing writer may then lose a hint,
 * which the table makes up for.
 */
static inline void node_hint(struct node *p, uint32_t id, uint16_t tag)
{
	unsigned int v = __atomic_load_n(&p->victim, __ATOMIC_RELAXED) %
			 NODE_HINTS;

	__atomic_store_n(&p->victim, (v + 1) % NODE_HINTS, __ATOMIC_RELAXED);
	__atomic_store_n(&p->hint[v], id, __ATOMIC_RELEASE);
	__atomic_store_n(&p->tag[v], tag, __ATOMIC_RELAXED);
}

/* Must hold node_lock: the table knows node @id from now on. */
static void node_index_locked(uint32_t id)
{
	const struct node *n = node_at(id);
	struct node_key key = { n->parent, n->func };

	g_hash_table_insert(children, g_memdup2(&key, sizeof(key)),
			    GUINT_TO_POINTER(id));
}

/* Must hold node_lock.  A new node, or 0 once 2^28 exist. */
static uint32_t node_new_locked(uint32_t parent, uint64_t func)
{
	uint32_t id = node_len.v;
	struct node *n;

	if (id >= NODE_CHUNKS * NODE_CHUNK)
		return 0;
	if (!(id & (NODE_CHUNK - 1)))
		node_chunks[id >> NODE_CHUNK_BITS] = node_chunk_new();
	n = node_at(id);
	n->parent = parent;
	n->depth = node_at(parent)->depth + 1;
	n->func = func;
	memset(n->hint, 0, sizeof(n->hint));
	memset(n->tag, 0, sizeof(n->tag));
	n->victim = 0;
	n->full = 0;
	/* The node is whole before a lock-free reader can see its id. */
	__atomic_store_n(&node_len.v, id + 1, __ATOMIC_RELEASE);
	return id;
}

/*
 * Must hold node_lock.  The child @func of @parent, made if new: a node
 * not full looks among its hints, a full one in the table.  A child it
 * has to make, or finds in the table, becomes a hint.  0 (the root) once
 * 2^28 nodes exist: the frame then has no node, and its callees' paths
 * start from the root.
 */
static uint32_t node_child_locked(uint32_t parent, uint64_t func)
{
	struct node *p = node_at(parent);
	uint16_t tag = node_tag(func);
	uint32_t id = 0;
	gpointer v;

	if (!p->full) {
		for (int i = 0; i < NODE_HINTS; i++)
			if (p->tag[i] == tag && node_is(p->hint[i], parent, func))
				return p->hint[i];
	} else if (g_hash_table_lookup_extended(children,
						&(struct node_key){ parent, func },
						NULL, &v)) {
		id = GPOINTER_TO_UINT(v);
		node_hint(p, id, tag);
		return id;
	}
	id = node_new_locked(parent, func);
	if (!id)
		return 0;
	if (!p->full && p->hint[p->victim % NODE_HINTS]) {
		/* A seventh child: the table takes over the six hinted. */
		for (int i = 0; i < NODE_HINTS; i++)
			node_index_locked(p->hint[i]);
		__atomic_store_n(&p->full, 1, __ATOMIC_RELEASE);
	}
	if (p->full)
		node_index_locked(id);
	node_hint(p, id, tag);
	return id;
}

/* csi_node_child() past the hints (and the cache): takes node_lock. */
static uint32_t __attribute__((noinline))
node_child_slow(uint32_t parent, uint64_t func, uint32_t slot)
{
	uint32_t id;

	g_mutex_lock(&node_lock.m);
	/*
	 * Frames that never return (a stack shared by threads, say) would
	 * make paths grow past what a stack holds, and the folded file with
	 * them: a path longer than max_depth starts again under a marker.
	 * Such a call is never hinted or cached (its node's parent is the
	 * marker), so it comes here each time and is cut again.
	 */
	if (node_at(parent)->depth >= csi_max_depth) {
		id = node_child_locked(node_child_locked(0, CSI_TRUNCATED),
				       func);
	} else {
		id = node_child_locked(parent, func);
		if (node_at(parent)->full)
			__atomic_store_n(&node_cache[slot], id,
					 __ATOMIC_RELEASE);
	}
	g_mutex_unlock(&node_lock.m);
	return id;
}

struct csi_counts *csi_counts_new(void)
{
	struct csi_counts *c = g_new0(struct csi_counts, 1);

	g_mutex_lock(&node_lock.m);
	g_ptr_array_add(counters, c);
	g_mutex_unlock(&node_lock.m);
	return c;
}

static void counts_free(gpointer p)
{
	struct csi_counts *c = p;

	for (uint32_t i = 0; i < NODE_CHUNKS; i++)
		g_free(c->chunk[i]);
	g_free(c);
}

static uint64_t *__attribute__((noinline))
counts_chunk_new(struct csi_counts *c, uint32_t i)
{
	uint64_t *chunk = g_new0(uint64_t, NODE_CHUNK);

	__atomic_store_n(&c->chunk[i], chunk, __ATOMIC_RELEASE);
	return chunk;
}

/* Add @n to node @id's count in @c: only @c's own thread does. */
static inline void count_add(struct csi_counts *c, uint32_t id, uint64_t n)
{
	uint64_t *chunk = c->chunk[id >> NODE_CHUNK_BITS], *p;

	if (__builtin_expect(!chunk, 0))
		chunk = counts_chunk_new(c, id >> NODE_CHUNK_BITS);
	/* Not a locked add: a reader only needs the count whole. */
	p = &chunk[id & (NODE_CHUNK - 1)];
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

/* Node @id's count: every counter's, added up.  Under node_lock. */
static uint64_t count_of_locked(uint32_t id)
{
	uint64_t sum = 0;

	for (guint i = 0; i < counters->len; i++) {
		struct csi_counts *c = g_ptr_array_index(counters, i);
		uint64_t *chunk = __atomic_load_n(&c->chunk[id >> NODE_CHUNK_BITS],
						  __ATOMIC_ACQUIRE);

		if (chunk)
			sum += __atomic_load_n(&chunk[id & (NODE_CHUNK - 1)],
					       __ATOMIC_RELAXED);
	}
	return sum;
}

/*
 * @parent is a node a frame holds: found by an earlier call (its hint or
 * cache entry was published after the node), or restored and checked
 * (state.c), so node_len need not be read: that line changes with every
 * node added.
 */
static uint32_t node_find(uint32_t parent, uint64_t func)
{
	uint16_t tag = node_tag(func);
	struct node *p = node_at(parent);
	uint32_t slot, id;

	for (int i = 0; i < NODE_HINTS; i++) {
		if (__atomic_load_n(&p->tag[i], __ATOMIC_RELAXED) != tag)
			continue;
		id = __atomic_load_n(&p->hint[i], __ATOMIC_ACQUIRE);
		if (node_is(id, parent, func))
			return id;
	}
	slot = cache_slot(parent, func);
	/*
	 * A node not full holds all its children in its hints: this one is
	 * new (or was made by another vCPU just now), and node_child_slow()
	 * makes it or finds it among the hints under the lock.  A full
	 * node's child may be in the cache.
	 */
	if (__atomic_load_n(&p->full, __ATOMIC_ACQUIRE)) {
		id = __atomic_load_n(&node_cache[slot], __ATOMIC_ACQUIRE);
		if (node_is(id, parent, func)) {
			node_hint(p, id, tag);
			return id;
		}
	}
	return node_child_slow(parent, func, slot);
}

uint32_t csi_node_child(struct csi_counts *c, uint32_t parent, uint64_t func)
{
	uint32_t id = node_find(parent, func);

	count_add(c, id, 1);
	return id;
}

uint32_t csi_node_child_kid(struct csi_counts *c, uint32_t parent,
			    uint64_t func, uint32_t *kid)
{
	uint32_t id = *kid;

	/* Checked whole (the parent is on the same line): never a wrong node. */
	if (!node_is(id, parent, func))
		*kid = id = node_find(parent, func);
	count_add(c, id, 1);
	return id;
}

bool csi_node_restore(uint32_t parent, uint64_t func, uint64_t count)
{
	uint32_t id;

	g_mutex_lock(&node_lock.m);
	if (parent >= node_len.v) {
		g_mutex_unlock(&node_lock.m);
		return false;
	}
	id = node_child_locked(parent, func);
	g_mutex_unlock(&node_lock.m);
	/* Every vCPU is stopped: restored is written by this thread alone. */
	count_add(restored, id, count);
	return true;
}

uint32_t csi_node_count(void)
{
	return node_chunks ? __atomic_load_n(&node_len.v, __ATOMIC_ACQUIRE) : 0;
}

void csi_node_foreach(void (*fn)(uint32_t id, uint32_t parent, uint64_t func,
				 uint64_t count, void *), void *opaque)
{
	g_mutex_lock(&node_lock.m);
	for (uint32_t i = 1; i < node_len.v; i++) {
		struct node *n = node_at(i);

		fn(i, n->parent, n->func, count_of_locked(i), opaque);
	}
	g_mutex_unlock(&node_lock.m);
}

static void nodes_init(void)
{
	node_chunks = g_new0(struct node *, NODE_CHUNKS);
	node_cache = huge_alloc(sizeof(uint32_t) << CACHE_BITS);
	node_len.v = 0;
	children = g_hash_table_new_full(node_hash, node_equal, g_free, NULL);
	counters = g_ptr_array_new_with_free_func(counts_free);
	restored = g_new0(struct csi_counts, 1);
	g_ptr_array_add(counters, restored);
	/* The root, id 0, is no node's child: it is not in children. */
	node_chunks[0] = node_chunk_new();
	*node_at(0) = (struct node){ 0 };
	node_len.v = 1;
}

static void nodes_exit(void)
{
	g_clear_pointer(&children, g_hash_table_unref);
	g_clear_pointer(&counters, g_ptr_array_unref);
	restored = NULL;
	if (node_chunks)
		for (uint32_t i = 0; i < NODE_CHUNKS && node_chunks[i]; i++)
			huge_free(node_chunks[i], CHUNK_BYTES);
	g_clear_pointer(&node_chunks, g_free);
	huge_free(node_cache, sizeof(uint32_t) << CACHE_BITS);
	node_cache = NULL;
	node_len.v = 0;
}

/* -- stacks ----------------------------------------------------------------- */

/*
 * Another vCPU holds @s: a call or return of a thread that just moved, or
 * get_*() asked about another vCPU; it is out within a callback.  The
 * machine may have fewer cores than vCPUs: spin a little, then yield.
 */
void csi_lock_wait(struct csi_stack *s, uintptr_t self)
{
	for (;;) {
		for (int i = 0; i < 100; i++) {
			uintptr_t free = 0;

			if (!__atomic_load_n(&s->owner, __ATOMIC_RELAXED) &&
			    __atomic_compare_exchange_n(&s->owner, &free, self,
							false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				return;
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
		}
		sched_yield();
	}
}

int csi_stacks_init(void)
{
	uint32_t ring = 1;

	while (ring < csi_max_depth)
		ring <<= 1;
	csi_ring_mask = ring - 1;

	stacks = g_hash_table_new_full(key_hash, key_equal, g_free, stack_free);
	by_asid = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					(GDestroyNotify)g_ptr_array_unref);
	nodes_init();
	all = g_ptr_array_new();
	memset(&csi_stats, 0, sizeof(csi_stats));
	return 0;
}

void csi_stacks_exit(void)
{
	g_clear_pointer(&by_asid, g_hash_table_unref);
	g_clear_pointer(&all, g_ptr_array_unref);
	g_clear_pointer(&stacks, g_hash_table_unref);
	nodes_exit();
}

/* Must hold table_lock. */
static struct csi_stack *stack_new_locked(uint64_t asid, uint64_t anchor)
{
	struct stack_key *k = g_new(struct stack_key, 1);
	struct csi_stack *s = g_aligned_alloc0(1, sizeof(*s),
					       _Alignof(struct csi_stack));

	s->asid = asid;
	s->anchor = anchor;
	s->last_sp = anchor;
	s->frames = g_new0(struct csi_frame, csi_ring_mask + 1);
	k->asid = asid;
	k->anchor = anchor;
	g_hash_table_insert(stacks, k, s);
	g_ptr_array_add(all, s);
	return s;
}

static uint64_t sp_distance(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* Heuristic: the stacks of @asid, oldest first (created). */
static GPtrArray *asid_list_locked(uint64_t asid)
{
	GPtrArray *list = g_hash_table_lookup(by_asid, &asid);

	if (!list) {
		list = g_ptr_array_new();
		g_hash_table_insert(by_asid, g_memdup2(&asid, sizeof(asid)),
				    list);
	}
	return list;
}

/* Heuristic: the stack of @asid whose last sp is nearest @sp, if near. */
static struct csi_stack *heuristic_get_locked(uint64_t asid, uint64_t sp)
{
	GPtrArray *list = asid_list_locked(asid);
	struct csi_stack *best = NULL, *s;

	for (guint i = 0; i < list->len; i++) {
		struct csi_stack *c = g_ptr_array_index(list, i);

		if (sp_distance(c->last_sp, sp) < MAX_STACK_DIFF &&
		    (!best || sp_distance(c->last_sp, sp) <
			      sp_distance(best->last_sp, sp)))
			best = c;
	}
	if (best)
		return best;
	/* The same anchor again (a stack that moved away and came back). */
	s = g_hash_table_lookup(stacks, &(struct stack_key){ asid, sp });
	if (s)
		return s;
	s = stack_new_locked(asid, sp);
	g_ptr_array_add(list, s);
	return s;
}

struct csi_stack *csi_stack_get(uint64_t asid, uint64_t sp)
{
	struct stack_key key = { asid, 0 };
	struct csi_stack *s;

	g_mutex_lock(&table_lock.m);
	if (csi_stack_kind == CS_STACK_HEURISTIC) {
		s = heuristic_get_locked(asid, sp);
		s->last_sp = sp;
	} else {
		/* Threaded: one stack per (pid, tid), the tid in @sp. */
		if (csi_stack_kind == CS_STACK_THREADED)
			key.anchor = sp;
		s = g_hash_table_lookup(stacks, &key);
		if (!s)
			s = stack_new_locked(asid, key.anchor);
	}
	g_mutex_unlock(&table_lock.m);
	return s;
}

struct csi_stack *csi_stack_restore(uint64_t asid, uint64_t anchor,
				    uint64_t last_sp)
{
	struct stack_key key = { asid, anchor };
	struct csi_stack *s;

	g_mutex_lock(&table_lock.m);
	/*
	 * Not csi_stack_get(): a heuristic stack restored near another one
	 * would be taken for it, and two stacks would become one.
	 */
	s = g_hash_table_lookup(stacks, &key);
	if (!s) {
		s = stack_new_locked(asid, anchor);
		if (csi_stack_kind == CS_STACK_HEURISTIC)
			g_ptr_array_add(asid_list_locked(asid), s);
	}
	s->last_sp = last_sp;
	g_mutex_unlock(&table_lock.m);
	return s;
}

guint csi_stack_count(void)
{
	return stacks ? g_hash_table_size(stacks) : 0;
}

void csi_stack_foreach(void (*fn)(struct csi_stack *, void *), void *opaque)
{
	g_mutex_lock(&table_lock.m);
	for (guint i = 0; i < all->len; i++)
		fn(g_ptr_array_index(all, i), opaque);
	g_mutex_unlock(&table_lock.m);
}
