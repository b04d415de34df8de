// SPDX-License-Identifier: MIT
/*
 * callstack_instr's state handoff across a reload: the stats, every stack
 * with its frames, the folded-stack trie, each vCPU's pending call or ret
 * and the rest of its state (its current stack and address space, its
 * thread, the blocks it has run armed), the decoding mode and the symbols'
 * offset, written by the old version (save_state) and read back by the new
 * one (restore_state), which may have been built from other sources.
 *
 * Everything a version would have gone on with is handed over, so that
 * the new one continues exactly where the old one was: a reload in the
 * middle of a replay gives the folded stacks of a replay without it
 * (tests/linux/replay.t).  What is decided at translation needs no
 * handoff: after the reload's flush every block is retranslated and
 * decided as before (decode.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * The state starts with "CSI" and a digit, its format's version:
 *  1 (callstack_instr 1.0): the eight stats it had, as one struct;
 *  2: the stats as a count and that many u64s, so that stats added later
 *     do not move what follows;
 *  3: the symbols' offset; stacks oldest first, recreated exactly; each
 *     vCPU's whole state (current stack, address space, thread, misses,
 *     a direct call's target, an Arm conditional ret).
 * A newer format than this version reads (a reload to an older version)
 * starts fresh, and says so; anything else is refused, the old version
 * kept.
 */
#define STATE_MAGIC_CSI 0x00495343u	/* "CSI", then the digit */
#define STATE_MAGIC(v) (STATE_MAGIC_CSI | (uint32_t)('0' + (v)) << 24)
#define STATE_VERSION 3
#define STATS_N (sizeof(csi_stats) / sizeof(uint64_t))
#define STATS_N_1 8

struct save_ctx {
	GByteArray *b;
	GHashTable *index;	/* struct csi_stack * -> index + 1 */
	uint32_t n;
};

static void put32(GByteArray *b, uint32_t v)
{
	g_byte_array_append(b, (const guint8 *)&v, sizeof(v));
}

static void put64(GByteArray *b, uint64_t v)
{
	g_byte_array_append(b, (const guint8 *)&v, sizeof(v));
}

static void save_stack(struct csi_stack *s, void *opaque)
{
	struct save_ctx *c = opaque;

	g_hash_table_insert(c->index, s, GUINT_TO_POINTER(++c->n));
	put64(c->b, s->asid);
	put64(c->b, s->anchor);
	put64(c->b, s->last_sp);
	put32(c->b, s->depth);
	for (uint32_t i = s->depth; i-- > 0;) {	/* outermost first */
		struct csi_frame *f = csi_frame_at(s, i);

		put64(c->b, f->ret);
		put64(c->b, f->func);
		put64(c->b, f->sp);
		put32(c->b, f->node);
	}
}

static void save_node(uint32_t id, uint32_t parent, uint64_t func,
		      uint64_t count, void *opaque)
{
	GByteArray *b = opaque;

	(void)id;
	put32(b, parent);
	put64(b, func);
	put64(b, count);
}

/*
 * Layout (host byte order, the same process reads it): magic, stack kind,
 * stats, the symbols' offset; the stacks with their frames, oldest first;
 * the folded-stack nodes in id order; each vCPU's state.
 */
int csi_state_save(mh_module *self, void **data, size_t *len)
{
	struct save_ctx c = { g_byte_array_new(), g_hash_table_new(NULL, NULL), 0 };
	unsigned int nv = csi_mh->num_vcpus();
	int64_t offset = 0;
	bool has_offset = csi_symbols_offset(&offset);
	struct csi_stats total;

	(void)self;
	/* rets=counted: the rets each vCPU made since its last call. */
	for (unsigned int i = 0; i < nv; i++)
		csi_rets_settle(csi_vcpu_of(i), i);
	put32(c.b, STATE_MAGIC(STATE_VERSION));
	put32(c.b, csi_stack_kind);
	put32(c.b, STATS_N);
	csi_stats_total(&total);
	total.mode = csi_decode_mode();
	g_byte_array_append(c.b, (const guint8 *)&total, sizeof(total));
	put32(c.b, has_offset);
	put64(c.b, (uint64_t)offset);
	put32(c.b, csi_stack_count());
	csi_stack_foreach(save_stack, &c);
	put32(c.b, csi_node_count() - 1);
	csi_node_foreach(save_node, c.b);
	put32(c.b, nv);
	for (unsigned int i = 0; i < nv; i++) {
		struct vcpu *v = csi_vcpu_of(i);

		put32(c.b, v->kind);
		put32(c.b, v->kind == PEND_CALL ? GPOINTER_TO_UINT(
			g_hash_table_lookup(c.index, v->stack)) : 0);
		put32(c.b, v->call_depth);
		put64(c.b, v->expect_sp);
		put64(c.b, v->sp_mask);
		put64(c.b, v->call_ret);
		put64(c.b, v->call_sp);
		put64(c.b, v->armed);
		/* Format 3 on. */
		put64(c.b, v->call_target);
		put64(c.b, v->misses);
		put32(c.b, v->cur ? GPOINTER_TO_UINT(
			g_hash_table_lookup(c.index, v->cur)) : 0);
		/* Not asid_ok: the new version reads cr3 again (restore). */
		put64(c.b, v->cur_asid);
		put64(c.b, v->thread);
		put64(c.b, v->ret_from);
	}
	g_hash_table_unref(c.index);
	*len = c.b->len;
	*data = malloc(c.b->len);
	if (*data)
		memcpy(*data, c.b->data, c.b->len);
	g_byte_array_free(c.b, TRUE);
	if (!*data)
		return -ENOMEM;
	return 0;
}

struct reader {
	const uint8_t *p, *end;
	bool bad;
};

static void get(struct reader *r, void *v, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		memset(v, 0, n);
		return;
	}
	memcpy(v, r->p, n);
	r->p += n;
}

static uint32_t get32(struct reader *r)
{
	uint32_t v;

	get(r, &v, sizeof(v));
	return v;
}

static uint64_t get64(struct reader *r)
{
	uint64_t v;

	get(r, &v, sizeof(v));
	return v;
}

/* Restored stack @idx (1-based, as saved; 0: none), NULL if not kept. */
static struct csi_stack *restored_stack(GPtrArray *restored, uint32_t idx)
{
	if (!idx || idx > restored->len)
		return NULL;
	return g_ptr_array_index(restored, idx - 1);
}

/*
 * Each vCPU's state, as csi_state_save() wrote it in format @version.  A
 * pending call whose frame did not come along is dropped.
 */
static void restore_vcpus(struct reader *r, uint32_t version,
			  GPtrArray *restored)
{
	uint32_t nv = get32(r);

	for (uint32_t i = 0; i < nv && !r->bad; i++) {
		uint32_t k = get32(r), si = get32(r);
		struct vcpu tmp = { 0 };

		tmp.call_depth = get32(r);
		tmp.expect_sp = get64(r);
		tmp.sp_mask = get64(r);
		tmp.call_ret = get64(r);
		tmp.call_sp = get64(r);
		tmp.armed = get64(r);
		if (version >= 3) {
			tmp.call_target = get64(r);
			tmp.misses = get64(r);
			tmp.cur = restored_stack(restored, get32(r));
			/*
			 * asid_ok stays 0: cr3 is read again at the next
			 * event, the same value (the guest has not run since
			 * the save), and that read is what lets the fast
			 * paths start again.
			 */
			tmp.cur_asid = get64(r);
			tmp.thread = get64(r);
			tmp.ret_from = get64(r);
		}
		if (r->bad || i >= csi_mh->num_vcpus())
			continue;
		tmp.stack = k == PEND_CALL ? restored_stack(restored, si) : NULL;
		if (tmp.stack)
			tmp.kind = PEND_CALL;
		else if ((tmp.armed & 3) != ARM_RET)
			tmp.armed = 0;	/* nothing pending any more */
		*csi_vcpu_of(i) = tmp;
	}
}

/* Frames of @s naming no node of the trie (a bad state) name none. */
static void check_nodes(struct csi_stack *s, void *opaque)
{
	uint32_t n = *(const uint32_t *)opaque;

	for (uint32_t i = 0; i < s->depth; i++)
		if (csi_frame_at(s, i)->node >= n)
			csi_frame_at(s, i)->node = 0;
}

int csi_state_restore(mh_module *self, const void *data, size_t len,
		      const char *old_version)
{
	struct reader r = { data, (const uint8_t *)data + len, false };
	g_autoptr(GPtrArray) restored = g_ptr_array_new();
	uint32_t magic, version, kind, nstats, nstacks, nnodes, kept = 0;
	uint64_t *stats = (uint64_t *)&csi_stats;
	bool same_kind;

	magic = get32(&r);
	version = (magic >> 24) - '0';
	if ((magic & 0xffffff) != STATE_MAGIC_CSI || version < 1 ||
	    version > 9) {
		csi_mh->log(self, MH_LOG_ERROR, "state from %s: not "
			    "callstack_instr's (magic 0x%08x): refused",
			    old_version, magic);
		return -EINVAL;
	}
	if (version > STATE_VERSION) {
		csi_mh->log(self, MH_LOG_WARN, "state from %s is in format "
			    "%u, this version reads 1 to %u: starting fresh, "
			    "its stacks and counts are not taken over",
			    old_version, version, STATE_VERSION);
		return 0;
	}
	kind = get32(&r);
	same_kind = kind == csi_stack_kind;
	nstats = version == 1 ? STATS_N_1 : get32(&r);
	for (uint32_t i = 0; i < nstats && !r.bad; i++) {
		uint64_t x = get64(&r);

		/* Stats a later version added are dropped. */
		if (i < STATS_N)
			stats[i] = x;
	}
	/* 0 from a version before the mode was handed over. */
	if (csi_stats.mode)
		csi_decode_set_mode(csi_stats.mode);
	if (version >= 3) {
		uint32_t has_offset = get32(&r);
		uint64_t offset = get64(&r);

		if (has_offset && !r.bad)
			csi_symbols_take_offset((int64_t)offset);
	}
	nstacks = get32(&r);
	for (uint32_t i = 0; i < nstacks && !r.bad; i++) {
		uint64_t asid = get64(&r), anchor = get64(&r), last = get64(&r);
		uint32_t depth = get32(&r);
		struct csi_stack *s = NULL;

		if (same_kind && !r.bad)
			s = csi_stack_restore(asid, anchor, last);
		g_ptr_array_add(restored, s);
		for (uint32_t k = 0; k < depth && !r.bad; k++) {
			uint64_t ret = get64(&r), func = get64(&r);
			uint64_t sp = get64(&r);
			uint32_t node = get32(&r);
			struct csi_frame *f;
			bool locked;

			if (!s)
				continue;
			/* A smaller max_depth keeps the innermost frames. */
			locked = csi_lock(s);
			f = csi_push_locked(s, ret, sp);
			f->func = func;
			f->node = node;
			csi_unlock(s, locked);
			kept++;
		}
	}
	nnodes = get32(&r);
	for (uint32_t i = 0; i < nnodes && !r.bad; i++) {
		uint32_t parent = get32(&r);
		uint64_t func = get64(&r), count = get64(&r);

		/* Fresh trie, same order: every node gets its old id back. */
		if (!csi_node_restore(parent, func, count) ||
		    csi_node_count() != i + 2)
			r.bad = true;
	}
	/* A frame's node is a node of the trie: the calls read no bound. */
	nnodes = csi_node_count();
	csi_stack_foreach(check_nodes, &nnodes);
	restore_vcpus(&r, version, restored);
	if (r.bad) {
		csi_mh->log(self, MH_LOG_ERROR, "state from %s: truncated",
			    old_version);
		return -EINVAL;
	}
	if (!same_kind)
		csi_mh->log(self, MH_LOG_WARN, "stack_type changed: %u "
			    "stacks from %s dropped", nstacks, old_version);
	csi_trace_continue();
	csi_mh->log(self, MH_LOG_INFO, "restored %u stacks, %u frames from %s "
		    "(state format %u)", same_kind ? nstacks : 0, kept,
		    old_version, version);
	return 0;
}
