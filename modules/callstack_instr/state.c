// SPDX-License-Identifier: MIT
/*
 * callstack_instr's state handoff across a reload: the stats, every stack
 * with its frames, the folded-stack trie and each vCPU's pending call or
 * ret, written by the old version (save_state) and read back by the new
 * one (restore_state), which may have been built from other sources.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * "CSI2" writes the stats as a count and that many u64s, so that stats
 * added later do not move what follows; "CSI1" (version 1.0) wrote the
 * eight it had as one struct.
 */
#define STATE_MAGIC 0x32495343u	/* "CSI2" */
#define STATE_MAGIC_1 0x31495343u	/* "CSI1" */
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
 * stats; the stacks with their frames; the folded-stack nodes in id order;
 * each vCPU's pending call or ret.
 */
int csi_state_save(mh_module *self, void **data, size_t *len)
{
	struct save_ctx c = { g_byte_array_new(), g_hash_table_new(NULL, NULL), 0 };
	unsigned int nv = csi_mh->num_vcpus();

	(void)self;
	put32(c.b, STATE_MAGIC);
	put32(c.b, csi_stack_kind);
	put32(c.b, STATS_N);
	csi_stats.mode = csi_decode_mode();
	g_byte_array_append(c.b, (const guint8 *)&csi_stats, sizeof(csi_stats));
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

int csi_state_restore(mh_module *self, const void *data, size_t len,
		      const char *old_version)
{
	struct reader r = { data, (const uint8_t *)data + len, false };
	g_autoptr(GPtrArray) restored = g_ptr_array_new();
	uint32_t magic, kind, nstats, nstacks, nnodes, nv, kept = 0;
	uint64_t *stats = (uint64_t *)&csi_stats;
	bool same_kind;

	magic = get32(&r);
	if (magic != STATE_MAGIC && magic != STATE_MAGIC_1) {
		csi_mh->log(self, MH_LOG_ERROR, "state from %s: not ours",
			    old_version);
		return -EINVAL;
	}
	kind = get32(&r);
	same_kind = kind == csi_stack_kind;
	nstats = magic == STATE_MAGIC_1 ? STATS_N_1 : get32(&r);
	for (uint32_t i = 0; i < nstats && !r.bad; i++) {
		uint64_t x = get64(&r);

		/* Stats a later version added are dropped. */
		if (i < STATS_N)
			stats[i] = x;
	}
	/* 0 from a version before the mode was handed over. */
	if (csi_stats.mode)
		csi_decode_set_mode(csi_stats.mode);
	nstacks = get32(&r);
	for (uint32_t i = 0; i < nstacks && !r.bad; i++) {
		uint64_t asid = get64(&r), anchor = get64(&r), last = get64(&r);
		uint32_t depth = get32(&r);
		struct csi_stack *s = NULL;

		if (same_kind) {
			s = csi_stack_get(asid, anchor);
			s->last_sp = last;
		}
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
	nv = get32(&r);
	for (uint32_t i = 0; i < nv && !r.bad; i++) {
		uint32_t k = get32(&r), si = get32(&r);
		struct vcpu tmp = { 0 };

		tmp.call_depth = get32(&r);
		tmp.expect_sp = get64(&r);
		tmp.sp_mask = get64(&r);
		tmp.call_ret = get64(&r);
		tmp.call_sp = get64(&r);
		tmp.armed = get64(&r);
		if (i >= csi_mh->num_vcpus() ||
		    (k != PEND_CALL && (tmp.armed & 3) != ARM_RET))
			continue;
		if (k == PEND_CALL) {
			/* The frame must have come along. */
			if (!si || si > restored->len ||
			    !g_ptr_array_index(restored, si - 1))
				continue;
			tmp.stack = g_ptr_array_index(restored, si - 1);
		}
		tmp.kind = k;
		*csi_vcpu_of(i) = tmp;
	}
	if (r.bad) {
		csi_mh->log(self, MH_LOG_ERROR, "state from %s: truncated",
			    old_version);
		return -EINVAL;
	}
	if (!same_kind)
		csi_mh->log(self, MH_LOG_WARN, "stack_type changed: %u "
			    "stacks from %s dropped", nstacks, old_version);
	csi_trace_continue();
	csi_mh->log(self, MH_LOG_INFO, "restored %u stacks, %u frames from %s",
		    same_kind ? nstacks : 0, kept, old_version);
	return 0;
}
