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
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * Heuristic stacks: a stack pointer that moved this far from a stack's
 * last one is another stack (a thread switch), as in PANDA.
 */
#define MAX_STACK_DIFF 5000

uint32_t csi_max_depth = 1024;
uint32_t csi_ring_mask = 1023;
enum cs_stack_kind csi_stack_kind = CS_STACK_ASID;
struct csi_stats csi_stats;

struct stack_key {
	uint64_t asid, anchor;
};

static GMutex table_lock;
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

	g_rec_mutex_clear(&s->lock);
	g_free(s->frames);
	g_free(s);
}

/* -- folded-stack trie ---------------------------------------------------- */

bool csi_folded_on;

struct node {
	uint32_t parent;
	uint32_t depth;		/* frames on the path from the root */
	uint64_t func;
	uint64_t count;
};

struct node_key {
	uint32_t parent;
	uint64_t func;
};

static GMutex node_lock;
static GArray *nodes;		/* struct node; 0 is the root */
static GHashTable *children;	/* struct node_key -> id */

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

/* Must hold node_lock. */
static uint32_t node_child_locked(uint32_t parent, uint64_t func)
{
	struct node_key key = { parent, func }, *k;
	gpointer v;
	struct node n = { parent, 0, func, 0 };

	if (g_hash_table_lookup_extended(children, &key, NULL, &v))
		return GPOINTER_TO_UINT(v);
	n.depth = g_array_index(nodes, struct node, parent).depth + 1;
	g_array_append_val(nodes, n);
	k = g_memdup2(&key, sizeof(key));
	g_hash_table_insert(children, k, GUINT_TO_POINTER(nodes->len - 1));
	return nodes->len - 1;
}

uint32_t csi_node_child(uint32_t parent, uint64_t func)
{
	uint32_t id;

	g_mutex_lock(&node_lock);
	if (parent >= nodes->len)
		parent = 0;
	/*
	 * Frames that never return (a stack shared by threads, say) would
	 * make paths grow past what a stack holds, and the folded file with
	 * them: a path longer than max_depth starts again under a marker.
	 */
	if (g_array_index(nodes, struct node, parent).depth >= csi_max_depth)
		parent = node_child_locked(0, CSI_TRUNCATED);
	id = node_child_locked(parent, func);
	g_array_index(nodes, struct node, id).count++;
	g_mutex_unlock(&node_lock);
	return id;
}

bool csi_node_restore(uint32_t parent, uint64_t func, uint64_t count)
{
	uint32_t id;

	g_mutex_lock(&node_lock);
	if (parent >= nodes->len) {
		g_mutex_unlock(&node_lock);
		return false;
	}
	id = node_child_locked(parent, func);
	g_array_index(nodes, struct node, id).count += count;
	g_mutex_unlock(&node_lock);
	return true;
}

uint32_t csi_node_count(void)
{
	return nodes ? nodes->len : 0;
}

void csi_node_foreach(void (*fn)(uint32_t id, uint32_t parent, uint64_t func,
				 uint64_t count, void *), void *opaque)
{
	g_mutex_lock(&node_lock);
	for (uint32_t i = 1; i < nodes->len; i++) {
		struct node *n = &g_array_index(nodes, struct node, i);

		fn(i, n->parent, n->func, n->count, opaque);
	}
	g_mutex_unlock(&node_lock);
}

/* -- stacks ----------------------------------------------------------------- */

int csi_stacks_init(void)
{
	struct node root = { 0, 0, 0, 0 };
	uint32_t ring = 1;

	while (ring < csi_max_depth)
		ring <<= 1;
	csi_ring_mask = ring - 1;

	stacks = g_hash_table_new_full(key_hash, key_equal, g_free, stack_free);
	by_asid = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					(GDestroyNotify)g_ptr_array_unref);
	nodes = g_array_new(FALSE, FALSE, sizeof(struct node));
	g_array_append_val(nodes, root);
	children = g_hash_table_new_full(node_hash, node_equal, g_free, NULL);
	all = g_ptr_array_new();
	memset(&csi_stats, 0, sizeof(csi_stats));
	return 0;
}

void csi_stacks_exit(void)
{
	g_clear_pointer(&by_asid, g_hash_table_unref);
	g_clear_pointer(&all, g_ptr_array_unref);
	g_clear_pointer(&stacks, g_hash_table_unref);
	g_clear_pointer(&children, g_hash_table_unref);
	if (nodes)
		g_array_free(nodes, TRUE);
	nodes = NULL;
}

/* Must hold table_lock. */
static struct csi_stack *stack_new_locked(uint64_t asid, uint64_t anchor)
{
	struct stack_key *k = g_new(struct stack_key, 1);
	struct csi_stack *s = g_new0(struct csi_stack, 1);

	g_rec_mutex_init(&s->lock);
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

	g_mutex_lock(&table_lock);
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
	g_mutex_unlock(&table_lock);
	return s;
}

struct csi_stack *csi_stack_restore(uint64_t asid, uint64_t anchor,
				    uint64_t last_sp)
{
	struct stack_key key = { asid, anchor };
	struct csi_stack *s;

	g_mutex_lock(&table_lock);
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
	g_mutex_unlock(&table_lock);
	return s;
}

guint csi_stack_count(void)
{
	return stacks ? g_hash_table_size(stacks) : 0;
}

void csi_stack_foreach(void (*fn)(struct csi_stack *, void *), void *opaque)
{
	g_mutex_lock(&table_lock);
	for (guint i = 0; i < all->len; i++)
		fn(g_ptr_array_index(all, i), opaque);
	g_mutex_unlock(&table_lock);
}
