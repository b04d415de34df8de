// SPDX-License-Identifier: MIT
/*
 * The host API table handed to modules (struct mh_api).
 *
 * Instrumentation entries are thin wrappers over QEMU's plugin API: the
 * callbacks a module registers are QEMU's own, so at run time QEMU calls the
 * module directly (with accounting=on, through a timing trampoline: see
 * "accounting" below).  What a module registers through @self (translate hook,
 * scoreboards) is recorded on its instance and removed by
 * mh_api_release() when the instance goes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* -- logging and parameters ------------------------------------------- */

static const char *const level_names[] = {
	[MH_LOG_ERROR] = "error",
	[MH_LOG_WARN] = "warn",
	[MH_LOG_INFO] = "info",
	[MH_LOG_DEBUG] = "debug",
};

static void api_log(mh_module *self, enum mh_log_level level,
		    const char *fmt, ...)
{
	const char *name = self ? self->meta->name : "?";
	g_autofree char *text = NULL;
	va_list ap;
	GString *ev;

	if ((unsigned int)level > MH_LOG_DEBUG)
		level = MH_LOG_DEBUG;
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	mh_msg("%s: %s", name, text);
	if (self && level == MH_LOG_ERROR)
		mh_lifecycle_hook_said(self, text);
	ev = mh_event_new("message");
	mh_event_str(ev, "module", name);
	mh_event_str(ev, "level", level_names[level]);
	mh_event_str(ev, "text", text);
	mh_event_emit(ev);
}

static const char *api_module_name(mh_module *self)
{
	return self->meta->name;
}

static const char *param_value(mh_module *self, const char *name,
			       enum mh_ptype want)
{
	const struct mh_param_decl *d = mh_meta_param(self->meta, name);

	if (!d || (d->type != want &&
		   !(want == MH_PT_STR && d->type == MH_PT_LIST)))
		return NULL;
	return g_hash_table_lookup(self->params, name);
}

static const char *api_param_str(mh_module *self, const char *name)
{
	return param_value(self, name, MH_PT_STR);
}

static int64_t api_param_int(mh_module *self, const char *name)
{
	const char *v = param_value(self, name, MH_PT_INT);

	return v ? g_ascii_strtoll(v, NULL, 0) : 0;
}

static uint64_t api_param_uint(mh_module *self, const char *name)
{
	const char *v = param_value(self, name, MH_PT_UINT);

	return v ? g_ascii_strtoull(v, NULL, 0) : 0;
}

static bool api_param_bool(mh_module *self, const char *name)
{
	const char *v = param_value(self, name, MH_PT_BOOL);

	return v ? mh_param_as_bool(v) : false;
}

/* -- translation and instrumentation ----------------------------------- */

/* Called only while every vCPU is stopped (init) or from a vCPU (exit). */
static int api_set_translate(mh_module *self, mh_translate_cb cb, void *opaque)
{
	self->translate = cb;
	self->translate_opaque = opaque;
	return 0;
}

#define QTB(tb) ((struct qemu_plugin_tb *)(tb))
#define QINSN(insn) ((struct qemu_plugin_insn *)(insn))

static inline qemu_plugin_u64 qu64(mh_u64 e)
{
	return (qemu_plugin_u64){ (struct qemu_plugin_scoreboard *)e.score,
				  e.offset };
}

static size_t api_tb_n_insns(const mh_tb *tb)
{
	return qemu_plugin_tb_n_insns(QTB(tb));
}

static uint64_t api_tb_vaddr(const mh_tb *tb)
{
	return qemu_plugin_tb_vaddr(QTB(tb));
}

static mh_insn *api_tb_insn(const mh_tb *tb, size_t idx)
{
	if (idx >= qemu_plugin_tb_n_insns(QTB(tb)))
		return NULL;
	return (mh_insn *)qemu_plugin_tb_get_insn(QTB(tb), idx);
}

static uint64_t api_insn_vaddr(const mh_insn *insn)
{
	return qemu_plugin_insn_vaddr(QINSN(insn));
}

static size_t api_insn_size(const mh_insn *insn)
{
	return qemu_plugin_insn_size(QINSN(insn));
}

static size_t api_insn_data(const mh_insn *insn, void *dest, size_t len)
{
	return qemu_plugin_insn_data(QINSN(insn), dest, len);
}

static const char *api_insn_symbol(const mh_insn *insn)
{
	return qemu_plugin_insn_symbol(QINSN(insn));
}

/*
 * QEMU 10.0 corrupts the guest when TCG is not parallel (-icount, or
 * -accel tcg,thread=single) and there are several vCPUs, as soon as a
 * block carries an inline operation or a conditional callback.  Seen on
 * Linux boots at -smp 2 under -icount, with a QEMU plugin of nothing but
 * one conditional callback per block that never calls (its flag stays
 * 0), or one inline add per block: the kernel's sha1 self-test fails
 * ("wrong result"), BUG lines follow, and 1 boot in 5 hangs.  The same
 * plugin with a plain callback per block instead, or at -smp 1, or with a
 * thread per vCPU, boots clean.  (The block finds the scoreboard entry
 * from the vCPU index, which QEMU 10.0 compiles in as a constant when TCG
 * is not parallel; that constant appears to be changed in place: indices
 * 8 and 176 reach callbacks where there are 2 vCPUs.  At index 0 nothing
 * changes, which is why one vCPU is safe.)
 *
 * So once a second vCPU starts on a thread (one_thread_check(), before
 * that vCPU translates a block), each inline operation and conditional
 * callback is registered as a plain callback that does the same in C:
 * slower, and only in that mode.  Its description is kept until the next
 * flush of translated code (mh_api_flushed()), one for all the blocks that
 * ask the same (the host's doorbell is one).
 */
static bool no_inline_code;

static inline bool inline_unsafe(void)
{
	return __atomic_load_n(&no_inline_code, __ATOMIC_ACQUIRE);
}

struct emu_op {
	mh_vcpu_udata_cb cb;	/* conditional: called if the condition holds */
	void *udata;
	mh_u64 entry;
	int how;		/* enum mh_cond, or enum mh_op without cb */
	uint64_t imm;
};

static GMutex emu_lock;
static GHashTable *emu_ops;	/* struct emu_op, interned */

static guint emu_hash(gconstpointer p)
{
	const struct emu_op *o = p;

	return (g_direct_hash(o->cb) * 31 + g_direct_hash(o->udata)) * 31 +
	       g_direct_hash(o->entry.score) + (guint)o->entry.offset * 7 +
	       (guint)o->how * 131 + (guint)(o->imm ^ o->imm >> 32);
}

static gboolean emu_equal(gconstpointer a, gconstpointer b)
{
	const struct emu_op *x = a, *y = b;

	return x->cb == y->cb && x->udata == y->udata &&
	       x->entry.score == y->entry.score &&
	       x->entry.offset == y->entry.offset && x->how == y->how &&
	       x->imm == y->imm;
}

static void *emu_intern(const struct emu_op *o)
{
	struct emu_op *k;

	g_mutex_lock(&emu_lock);
	if (!emu_ops)
		emu_ops = g_hash_table_new_full(emu_hash, emu_equal, g_free, NULL);
	k = g_hash_table_lookup(emu_ops, o);
	if (!k) {
		k = g_memdup2(o, sizeof(*o));
		g_hash_table_add(emu_ops, k);
	}
	g_mutex_unlock(&emu_lock);
	return k;
}

void mh_api_flushed(void)
{
	g_mutex_lock(&emu_lock);
	g_clear_pointer(&emu_ops, g_hash_table_unref);
	g_mutex_unlock(&emu_lock);
}

static uint64_t *u64_word(mh_u64 entry, unsigned int vcpu_index);

static bool cond_holds(int cond, uint64_t v, uint64_t imm)
{
	switch (cond) {
	case MH_COND_ALWAYS: return true;
	case MH_COND_EQ: return v == imm;
	case MH_COND_NE: return v != imm;
	case MH_COND_LT: return v < imm;
	case MH_COND_LE: return v <= imm;
	case MH_COND_GT: return v > imm;
	case MH_COND_GE: return v >= imm;
	default: return false;
	}
}

static void emu_cond(unsigned int vcpu_index, void *udata)
{
	const struct emu_op *o = udata;
	const uint64_t *w = u64_word(o->entry, vcpu_index);

	if (cond_holds(o->how, w ? *w : 0, o->imm))
		o->cb(vcpu_index, o->udata);
}

static void emu_inline(unsigned int vcpu_index, void *udata)
{
	const struct emu_op *o = udata;
	uint64_t *w = u64_word(o->entry, vcpu_index);

	if (w)
		*w = o->how == MH_INLINE_ADD_U64 ? *w + o->imm : o->imm;
}

static void emu_mem_inline(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
			   uint64_t vaddr, void *udata)
{
	(void)info;
	(void)vaddr;
	emu_inline(vcpu_index, udata);
}

/* A conditional callback's stand-in; NULL if none is needed (never). */
static void *emu_cond_op(mh_vcpu_udata_cb cb, enum mh_cond cond,
			 mh_u64 entry, uint64_t imm, void *udata)
{
	struct emu_op o = { cb, udata, entry, cond, imm };

	return cond == MH_COND_NEVER ? NULL : emu_intern(&o);
}

static void *emu_inline_op(enum mh_op op, mh_u64 entry, uint64_t imm)
{
	struct emu_op o = { NULL, NULL, entry, op, imm };

	return emu_intern(&o);
}

void mh_api_tb_exec_cond_cb(struct qemu_plugin_tb *tb, mh_vcpu_udata_cb cb,
			    enum qemu_plugin_cb_flags flags,
			    enum qemu_plugin_cond cond, qemu_plugin_u64 entry,
			    uint64_t imm, void *udata)
{
	mh_u64 e = { (mh_scoreboard *)entry.score, entry.offset };
	void *o;

	if (!inline_unsafe()) {
		qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, cb, flags, cond,
							  entry, imm, udata);
		return;
	}
	o = emu_cond_op(cb, (enum mh_cond)cond, e, imm, udata);
	if (o)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, emu_cond, flags, o);
}

static void api_tb_exec_cb(mh_tb *tb, mh_vcpu_udata_cb cb,
			   enum mh_cb_flags flags, void *udata)
{
	qemu_plugin_register_vcpu_tb_exec_cb(QTB(tb), cb,
					     (enum qemu_plugin_cb_flags)flags,
					     udata);
}

static void api_tb_exec_cond_cb(mh_tb *tb, mh_vcpu_udata_cb cb,
				enum mh_cb_flags flags, enum mh_cond cond,
				mh_u64 entry, uint64_t imm, void *udata)
{
	mh_api_tb_exec_cond_cb(QTB(tb), cb, (enum qemu_plugin_cb_flags)flags,
			       (enum qemu_plugin_cond)cond, qu64(entry), imm,
			       udata);
}

static void api_tb_exec_inline(mh_tb *tb, enum mh_op op, mh_u64 entry,
			       uint64_t imm)
{
	if (inline_unsafe()) {
		qemu_plugin_register_vcpu_tb_exec_cb(QTB(tb), emu_inline,
						     QEMU_PLUGIN_CB_NO_REGS,
						     emu_inline_op(op, entry, imm));
		return;
	}
	qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(QTB(tb),
							  (enum qemu_plugin_op)op,
							  qu64(entry), imm);
}

static void api_insn_exec_cb(mh_insn *insn, mh_vcpu_udata_cb cb,
			     enum mh_cb_flags flags, void *udata)
{
	qemu_plugin_register_vcpu_insn_exec_cb(QINSN(insn), cb,
					       (enum qemu_plugin_cb_flags)flags,
					       udata);
}

static void api_insn_exec_cond_cb(mh_insn *insn, mh_vcpu_udata_cb cb,
				  enum mh_cb_flags flags, enum mh_cond cond,
				  mh_u64 entry, uint64_t imm, void *udata)
{
	void *o;

	if (inline_unsafe()) {
		o = emu_cond_op(cb, cond, entry, imm, udata);
		if (o)
			qemu_plugin_register_vcpu_insn_exec_cb(QINSN(insn), emu_cond,
							       (enum qemu_plugin_cb_flags)flags,
							       o);
		return;
	}
	qemu_plugin_register_vcpu_insn_exec_cond_cb(QINSN(insn), cb,
						    (enum qemu_plugin_cb_flags)flags,
						    (enum qemu_plugin_cond)cond,
						    qu64(entry), imm, udata);
}

static void api_insn_exec_inline(mh_insn *insn, enum mh_op op, mh_u64 entry,
				 uint64_t imm)
{
	if (inline_unsafe()) {
		qemu_plugin_register_vcpu_insn_exec_cb(QINSN(insn), emu_inline,
						       QEMU_PLUGIN_CB_NO_REGS,
						       emu_inline_op(op, entry, imm));
		return;
	}
	qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(QINSN(insn),
							    (enum qemu_plugin_op)op,
							    qu64(entry), imm);
}

static void api_insn_mem_cb(mh_insn *insn, mh_vcpu_mem_cb cb,
			    enum mh_cb_flags flags, enum mh_mem_rw rw,
			    void *udata)
{
	qemu_plugin_register_vcpu_mem_cb(QINSN(insn), cb,
					 (enum qemu_plugin_cb_flags)flags,
					 (enum qemu_plugin_mem_rw)rw, udata);
}

static void api_insn_mem_inline(mh_insn *insn, enum mh_mem_rw rw,
				enum mh_op op, mh_u64 entry, uint64_t imm)
{
	if (inline_unsafe()) {
		qemu_plugin_register_vcpu_mem_cb(QINSN(insn), emu_mem_inline,
						 QEMU_PLUGIN_CB_NO_REGS,
						 (enum qemu_plugin_mem_rw)rw,
						 emu_inline_op(op, entry, imm));
		return;
	}
	qemu_plugin_register_vcpu_mem_inline_per_vcpu(QINSN(insn),
						      (enum qemu_plugin_mem_rw)rw,
						      (enum qemu_plugin_op)op,
						      qu64(entry), imm);
}

/* -- scoreboards ------------------------------------------------------- */

/* Written once at start (mh_api_set_qemu_info()), before any module loads. */
static struct mh_qemu_info qinfo;

/*
 * Elements for a vCPU index QEMU has not counted.  Under -icount (or
 * -accel tcg,thread=single) one thread runs every vCPU in turn, and QEMU
 * 10.0 gives callbacks an index it compiled into the block (see
 * one_thread_check()), at times past the vCPUs it counted (8, 176 at
 * -smp 2): qemu_plugin_scoreboard_find() of it aborts QEMU.  Instead it
 * gets a zeroed element of the host's, one per scoreboard and index (one
 * for every index past the machine's vCPUs), kept as long as the
 * scoreboard.
 */
struct sb_early {
	size_t size;			/* the scoreboard's element size */
	void **el;			/* qinfo.max_vcpus + 1: by index */
};

static GMutex sb_lock;			/* sb_retired, sb_early */
static GHashTable *sb_early;		/* scoreboard -> struct sb_early */

static unsigned int sb_early_slots(void)
{
	return (unsigned int)MAX(qinfo.max_vcpus, 0) + 1;
}

static void sb_early_free(gpointer p)
{
	struct sb_early *e = p;

	for (unsigned int i = 0; e->el && i < sb_early_slots(); i++)
		g_free(e->el[i]);
	g_free(e->el);
	g_free(e);
}

/* @score's element for @vcpu_index, which QEMU has not counted. */
static void *sb_early_find(mh_scoreboard *score, unsigned int vcpu_index)
{
	unsigned int slot = MIN(vcpu_index, sb_early_slots() - 1);
	struct sb_early *e;
	void *el = NULL;

	g_mutex_lock(&sb_lock);
	e = sb_early ? g_hash_table_lookup(sb_early, score) : NULL;
	if (e) {
		if (!e->el)
			e->el = g_new0(void *, sb_early_slots());
		if (!e->el[slot])
			e->el[slot] = g_malloc0(e->size);
		el = e->el[slot];
	}
	g_mutex_unlock(&sb_lock);
	return el;
}

/* Free @score, with its early elements. */
static void sb_destroy(gpointer score)
{
	g_mutex_lock(&sb_lock);
	if (sb_early)
		g_hash_table_remove(sb_early, score);
	g_mutex_unlock(&sb_lock);
	qemu_plugin_scoreboard_free(score);
}

static mh_scoreboard *api_scoreboard_new(mh_module *self, size_t element_size)
{
	struct qemu_plugin_scoreboard *s;
	struct sb_early *e;

	if (!element_size)
		return NULL;
	s = qemu_plugin_scoreboard_new(element_size);
	e = g_new0(struct sb_early, 1);
	e->size = element_size;
	g_mutex_lock(&sb_lock);
	if (!sb_early)
		sb_early = g_hash_table_new_full(NULL, NULL, NULL, sb_early_free);
	g_hash_table_insert(sb_early, s, e);
	g_mutex_unlock(&sb_lock);
	g_ptr_array_add(self->scoreboards, s);
	return (mh_scoreboard *)s;
}

/*
 * Translated code may still point into a scoreboard until the next flush.
 * Inside an apply (init, exit: every vCPU stopped, the code flushed) it
 * is freed at once; from anywhere else (a vCPU callback, the exit hooks
 * at QEMU's exit) it is dropped from the instance and freed at the next
 * quiesce, after its flush.
 */
static GPtrArray *sb_retired;		/* scoreboards to free at the next quiesce */

static void api_scoreboard_free(mh_module *self, mh_scoreboard *score)
{
	if (!self || !score)
		return;
	/* Only its own, once: anything else would free what others use. */
	if (!g_ptr_array_remove_fast(self->scoreboards, score)) {
		api_log(self, MH_LOG_ERROR, "scoreboard_free: %p is not a "
			"scoreboard of this module (freed twice?)", (void *)score);
		return;
	}
	if (mh_lifecycle_applying()) {
		sb_destroy(score);
		return;
	}
	g_mutex_lock(&sb_lock);
	if (!sb_retired)
		sb_retired = g_ptr_array_new();
	g_ptr_array_add(sb_retired, score);
	g_mutex_unlock(&sb_lock);
}

void mh_api_quiesced(void)
{
	GPtrArray *gone;

	g_mutex_lock(&sb_lock);
	gone = g_steal_pointer(&sb_retired);
	g_mutex_unlock(&sb_lock);
	for (guint i = 0; gone && i < gone->len; i++)
		sb_destroy(g_ptr_array_index(gone, i));
	if (gone)
		g_ptr_array_unref(gone);
}

/* Has QEMU counted vCPU @vcpu_index (its scoreboard elements exist)? */
static inline bool sb_counted(unsigned int vcpu_index)
{
	return vcpu_index < (unsigned int)qemu_plugin_num_vcpus();
}

static void *api_scoreboard_find(mh_scoreboard *score, unsigned int vcpu_index)
{
	if (G_UNLIKELY(!sb_counted(vcpu_index)))
		return sb_early_find(score, vcpu_index);
	return qemu_plugin_scoreboard_find((struct qemu_plugin_scoreboard *)score,
					   vcpu_index);
}

/* @entry's word for @vcpu_index, counted by QEMU or not; NULL if none. */
static uint64_t *u64_word(mh_u64 entry, unsigned int vcpu_index)
{
	char *el = api_scoreboard_find(entry.score, vcpu_index);

	return el ? (uint64_t *)(el + entry.offset) : NULL;
}

static uint64_t api_u64_get(mh_u64 entry, unsigned int vcpu_index)
{
	const uint64_t *w;

	if (G_LIKELY(sb_counted(vcpu_index)))
		return qemu_plugin_u64_get(qu64(entry), vcpu_index);
	w = u64_word(entry, vcpu_index);
	return w ? *w : 0;
}

static void api_u64_set(mh_u64 entry, unsigned int vcpu_index, uint64_t val)
{
	uint64_t *w;

	if (G_LIKELY(sb_counted(vcpu_index))) {
		qemu_plugin_u64_set(qu64(entry), vcpu_index, val);
		return;
	}
	if ((w = u64_word(entry, vcpu_index)))
		*w = val;
}

static uint64_t api_u64_sum(mh_u64 entry)
{
	return qemu_plugin_u64_sum(qu64(entry));
}

static unsigned int api_mem_size_shift(uint32_t info)
{
	return qemu_plugin_mem_size_shift(info);
}

static bool api_mem_is_store(uint32_t info)
{
	return qemu_plugin_mem_is_store(info);
}

static bool api_mem_is_sign_extended(uint32_t info)
{
	return qemu_plugin_mem_is_sign_extended(info);
}

static void api_mem_get_value(uint32_t info, struct mh_mem_value *val);

static uint64_t api_mem_value(uint32_t info)
{
	struct mh_mem_value v;

	api_mem_get_value(info, &v);
	return v.low;
}

/* -- registers and memory ---------------------------------------------- */

/*
 * Modules look registers up in init(), which may run before any vCPU
 * exists and so before the register table (regs.c) is built.  So a handle
 * is made for any name and bound to the target's register once the table
 * is there.  Handles live until QEMU exits.
 */
struct mh_reg {
	char *name;
	struct qemu_plugin_register *handle;
};

static GMutex reg_lock;
static GHashTable *regs;	/* name -> struct mh_reg */

static void reg_bind_locked(struct mh_reg *r) /* Must hold reg_lock. */
{
	const struct mh_regs_reg *t;

	if (!r->handle && (t = mh_regs_find(r->name)))
		r->handle = t->handle;
}

/*
 * Under -icount (or -accel tcg,thread=single) one host thread runs every
 * vCPU in turn, and QEMU 10.0 compiles into each block, as the index its
 * callbacks get, the index of the vCPU that translated it; the block
 * then runs on every vCPU with that index, so per-vCPU state mixes the
 * vCPUs (with inline code in the blocks, also other indices: 8 where
 * there are 2; see inline_unsafe()).  Said once, when a second vCPU
 * starts on a thread where one started before.
 */
static void one_thread_check(void)
{
	static __thread bool started;	/* a vCPU started on this thread */
	static int said;
	bool shared;

	/* Before the second vCPU's first block: see inline_unsafe(). */
	if (started)
		__atomic_store_n(&no_inline_code, true, __ATOMIC_RELEASE);
	shared = started && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED);
	started = true;
	if (shared) {
		GString *ev = mh_event_new("vcpus_one_thread");

		mh_event_int(ev, "vcpus", qinfo.smp_vcpus);
		mh_event_emit(ev);
		mh_msg("warning: the %d vCPUs run on one thread (-icount, or "
		       "-accel tcg,thread=single): QEMU gives callbacks the index "
		       "of the vCPU that translated the block, not of the one "
		       "running it, so what modules keep per vCPU mixes the vCPUs "
		       "(record and replay with -smp 1); inline operations and "
		       "conditional callbacks, which QEMU 10.0 compiles wrongly "
		       "here (the guest computes wrong results), become plain "
		       "callbacks", qinfo.smp_vcpus);
	}
}

void mh_api_vcpu_init(void)
{
	GHashTableIter it;
	gpointer v;

	one_thread_check();

	mh_regs_vcpu_init();
	/* Bind what modules looked up before: no lock at their first read. */
	g_mutex_lock(&reg_lock);
	if (regs) {
		g_hash_table_iter_init(&it, regs);
		while (g_hash_table_iter_next(&it, NULL, &v))
			reg_bind_locked(v);
	}
	g_mutex_unlock(&reg_lock);
}

static mh_reg *api_reg_lookup(const char *name)
{
	struct mh_reg *r;

	if (!name || !*name)
		return NULL;
	g_mutex_lock(&reg_lock);
	if (!regs)
		regs = g_hash_table_new(g_str_hash, g_str_equal);
	r = g_hash_table_lookup(regs, name);
	if (!r) {
		r = g_new0(struct mh_reg, 1);
		r->name = g_strdup(name);
		g_hash_table_insert(regs, r->name, r);
	}
	reg_bind_locked(r);
	g_mutex_unlock(&reg_lock);
	return r;
}

static __thread GByteArray *vcpu_buf;

static GByteArray *scratch(void)
{
	if (!vcpu_buf)
		vcpu_buf = g_byte_array_sized_new(64);
	g_byte_array_set_size(vcpu_buf, 0);
	return vcpu_buf;
}

static int api_reg_read(const mh_reg *creg, void *buf, size_t len)
{
	struct mh_reg *reg = (struct mh_reg *)creg;
	GByteArray *ba;
	int n;

	if (!reg)
		return -EINVAL;
	if (!reg->handle) {
		g_mutex_lock(&reg_lock);
		reg_bind_locked(reg);
		g_mutex_unlock(&reg_lock);
		if (!reg->handle)
			return -ENOENT;
	}
	ba = scratch();
	n = qemu_plugin_read_register(reg->handle, ba);
	if (n <= 0)
		return -EIO;
	memset(buf, 0, len);
	memcpy(buf, ba->data, MIN((size_t)n, len));
	return n;
}

static int api_mem_read(uint64_t vaddr, void *buf, size_t len)
{
	GByteArray *ba = scratch();

	if (!len)
		return 0;
	if (!qemu_plugin_read_memory_vaddr(vaddr, ba, len) || ba->len < len)
		return -EFAULT;
	memcpy(buf, ba->data, len);
	return 0;
}

static unsigned int api_num_vcpus(void)
{
	return qemu_plugin_num_vcpus();
}

/* -- accounting -------------------------------------------------------- */

/*
 * Per-module accounting for the control socket's stats.  The host knows
 * whose translate hook runs (mh_api_translate), so the instrumentation
 * entries below count what that module registers, on its entry.
 *
 * With accounting=on, its exec and memory callbacks are registered through
 * a host trampoline that times them.  The trampoline's data is interned per
 * (instance, callback, udata): retranslating a block reuses it, so memory
 * stays bounded by the distinct registrations, and it is freed with the
 * instance (mh_api_release, after the flush that dropped every block
 * using it).  Without accounting=on QEMU calls the module directly and the
 * run-time path is exactly as before.
 */
static bool accounting;
static __thread struct mh_module *translating;

struct acct_cb {
	struct mh_module *mod;		/* key: mod, fn, udata */
	void (*fn)(void);
	void *udata;
	struct mh_entry *entry;		/* charged; entries live until exit */
};

static GMutex acct_lock;		/* acct_cbs; taken at translation only */
static GHashTable *acct_cbs;		/* struct acct_cb -> itself */

void mh_api_set_accounting(bool on)
{
	accounting = on;
}

bool mh_api_accounting(void)
{
	return accounting;
}

void mh_api_translate(struct mh_module *m, struct qemu_plugin_tb *tb)
{
	translating = m;
	m->translate((mh_tb *)tb, m->translate_opaque);
	translating = NULL;
}

static guint acct_hash(gconstpointer p)
{
	const struct acct_cb *a = p;

	return g_direct_hash(a->mod) ^ g_direct_hash((void *)(uintptr_t)a->fn) ^
	       g_direct_hash(a->udata);
}

static gboolean acct_equal(gconstpointer x, gconstpointer y)
{
	const struct acct_cb *a = x, *b = y;

	return a->mod == b->mod && a->fn == b->fn && a->udata == b->udata;
}

/* The module registering now, counted; NULL outside a translate hook. */
static struct mh_module *acct_count(bool is_inline)
{
	struct mh_module *m = translating;

	if (!m || !m->entry)
		return NULL;
	__atomic_add_fetch(is_inline ? &m->entry->inline_ops :
			   &m->entry->callbacks, 1, __ATOMIC_RELAXED);
	return m;
}

static struct acct_cb *acct_intern(struct mh_module *m, void (*fn)(void),
				   void *udata)
{
	struct acct_cb key = { .mod = m, .fn = fn, .udata = udata }, *a;

	g_mutex_lock(&acct_lock);
	if (!acct_cbs)
		acct_cbs = g_hash_table_new_full(acct_hash, acct_equal, g_free,
						 NULL);
	a = g_hash_table_lookup(acct_cbs, &key);
	if (!a) {
		a = g_memdup2(&key, sizeof(key));
		a->entry = m->entry;
		g_hash_table_add(acct_cbs, a);
	}
	g_mutex_unlock(&acct_lock);
	return a;
}

static gboolean acct_of(gpointer key, gpointer value, gpointer m)
{
	(void)value;
	return ((struct acct_cb *)key)->mod == m;
}

/* @m goes, and no translated block refers to its trampolines any more. */
static void acct_forget(struct mh_module *m)
{
	g_mutex_lock(&acct_lock);
	if (acct_cbs)
		g_hash_table_foreach_remove(acct_cbs, acct_of, m);
	g_mutex_unlock(&acct_lock);
}

/* A cheap clock: CLOCK_MONOTONIC is read in the vDSO, ~20 ns. */
static inline uint64_t acct_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/*
 * Timed calls nest: a provider's callback runs its consumers' PPP handlers,
 * each timed for its owner.  A frame charges its module the time it took
 * less what the frames nested in it charged (acct_nested, per thread).
 */
static __thread uint64_t acct_nested;

void mh_api_acct_enter(struct mh_acct_frame *f)
{
	f->outer_nested = acct_nested;
	acct_nested = 0;
	f->t0 = acct_now_ns();
}

void mh_api_acct_leave(struct mh_acct_frame *f, struct mh_entry *e)
{
	uint64_t dt = acct_now_ns() - f->t0;

	__atomic_add_fetch(&e->cb_ns, dt - MIN(dt, acct_nested),
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&e->cb_calls, 1, __ATOMIC_RELAXED);
	acct_nested = f->outer_nested + dt;
}

static void acct_udata_cb(unsigned int vcpu_index, void *p)
{
	struct acct_cb *a = p;
	struct mh_acct_frame f;

	mh_api_acct_enter(&f);
	((mh_vcpu_udata_cb)a->fn)(vcpu_index, a->udata);
	mh_api_acct_leave(&f, a->entry);
}

static void acct_mem_cb(unsigned int vcpu_index, uint32_t meminfo,
			uint64_t vaddr, void *p)
{
	struct acct_cb *a = p;
	struct mh_acct_frame f;

	mh_api_acct_enter(&f);
	((mh_vcpu_mem_cb)a->fn)(vcpu_index, meminfo, vaddr, a->udata);
	mh_api_acct_leave(&f, a->entry);
}

/* With accounting=on, route @cb/@udata through the timing trampoline. */
static void acct_wrap_udata(struct mh_module *m, mh_vcpu_udata_cb *cb,
			    void **udata)
{
	if (!accounting || !m)
		return;
	*udata = acct_intern(m, (void (*)(void))*cb, *udata);
	*cb = acct_udata_cb;
}

static void acct_tb_exec_cb(mh_tb *tb, mh_vcpu_udata_cb cb,
			    enum mh_cb_flags flags, void *udata)
{
	acct_wrap_udata(acct_count(false), &cb, &udata);
	api_tb_exec_cb(tb, cb, flags, udata);
}

static void acct_tb_exec_cond_cb(mh_tb *tb, mh_vcpu_udata_cb cb,
				 enum mh_cb_flags flags, enum mh_cond cond,
				 mh_u64 entry, uint64_t imm, void *udata)
{
	acct_wrap_udata(acct_count(false), &cb, &udata);
	api_tb_exec_cond_cb(tb, cb, flags, cond, entry, imm, udata);
}

static void acct_insn_exec_cb(mh_insn *insn, mh_vcpu_udata_cb cb,
			      enum mh_cb_flags flags, void *udata)
{
	acct_wrap_udata(acct_count(false), &cb, &udata);
	api_insn_exec_cb(insn, cb, flags, udata);
}

static void acct_insn_exec_cond_cb(mh_insn *insn, mh_vcpu_udata_cb cb,
				   enum mh_cb_flags flags, enum mh_cond cond,
				   mh_u64 entry, uint64_t imm, void *udata)
{
	acct_wrap_udata(acct_count(false), &cb, &udata);
	api_insn_exec_cond_cb(insn, cb, flags, cond, entry, imm, udata);
}

static void acct_insn_mem_cb(mh_insn *insn, mh_vcpu_mem_cb cb,
			     enum mh_cb_flags flags, enum mh_mem_rw rw,
			     void *udata)
{
	struct mh_module *m = acct_count(false);

	if (accounting && m) {
		udata = acct_intern(m, (void (*)(void))cb, udata);
		cb = acct_mem_cb;
	}
	api_insn_mem_cb(insn, cb, flags, rw, udata);
}

static void acct_tb_exec_inline(mh_tb *tb, enum mh_op op, mh_u64 entry,
				uint64_t imm)
{
	acct_count(true);
	api_tb_exec_inline(tb, op, entry, imm);
}

static void acct_insn_exec_inline(mh_insn *insn, enum mh_op op, mh_u64 entry,
				  uint64_t imm)
{
	acct_count(true);
	api_insn_exec_inline(insn, op, entry, imm);
}

static void acct_insn_mem_inline(mh_insn *insn, enum mh_mem_rw rw,
				 enum mh_op op, mh_u64 entry, uint64_t imm)
{
	acct_count(true);
	api_insn_mem_inline(insn, rw, op, entry, imm);
}

/* -- symbol registry ---------------------------------------------------- */

static void *api_import(mh_module *self, const char *module, const char *symbol,
			const char *sig)
{
	g_autofree char *err = NULL;
	void *p;

	if (!module || !symbol || !sig)
		return NULL;
	/* Like panda_require(): a provider not loaded is loaded now. */
	if (mh_lifecycle_require(module, &err)) {
		api_log(self, MH_LOG_ERROR, "import %s.%s: %s", module, symbol, err);
		return NULL;
	}
	p = mh_registry_import(self, module, symbol, sig, &err);
	if (!p)
		api_log(self, MH_LOG_ERROR, "import: %s", err);
	return p;
}

static struct mh_ppp_point *api_ppp_declare(mh_module *self, const char *point,
					    const char *sig)
{
	g_autofree char *err = NULL;
	struct mh_ppp_point *p;

	p = mh_registry_ppp_declare(self, point ? point : "", sig ? sig : "",
				    &err);
	if (!p) {
		api_log(self, MH_LOG_ERROR, "%s", err);
		/* The load (or reload) fails even if init ignores the NULL. */
		if (!self->reg_error)
			self->reg_error = g_steal_pointer(&err);
	}
	return p;
}

static int api_ppp_register(mh_module *self, const char *module,
			    const char *point, const char *sig, void (*fn)(void))
{
	g_autofree char *err = NULL;
	int ret;

	if (!module || !point || !sig)
		return -EINVAL;
	if (mh_lifecycle_require(module, &err)) {
		api_log(self, MH_LOG_ERROR, "PPP %s.%s: %s", module, point, err);
		return -ENOENT;
	}
	ret = mh_registry_ppp_register(self, module, point, sig, fn, &err);
	if (ret)
		api_log(self, MH_LOG_ERROR, "%s", err);
	return ret;
}

static int api_ppp_unregister(mh_module *self, const char *module,
			      const char *point, void (*fn)(void))
{
	if (!module || !point)
		return -EINVAL;
	return mh_registry_ppp_unregister(self, module, point, fn);
}

/* -- hypercall routes (hypercall.c) -------------------------------------- */

static int api_hypercall_register(mh_module *self, uint32_t magic,
				  mh_hypercall_fn fn, void *opaque)
{
	g_autofree char *err = NULL;
	int ret;

	ret = mh_hypercall_register(self, magic, fn, opaque, &err);
	if (ret)
		api_log(self, MH_LOG_ERROR, "%s (%s)", err,
			ret == -EEXIST ? "-EEXIST" : "-EINVAL");
	return ret;
}

static int api_hypercall_unregister(mh_module *self, uint32_t magic)
{
	return mh_hypercall_unregister(self, magic);
}

static const struct mh_hypercall *api_hypercall_current(mh_cpu *cpu)
{
	return cpu ? mh_hypercall_current(mh_cpu_index(cpu)) : NULL;
}

static bool api_hypercall_returns(void)
{
	return mh_hypercall_returns();
}

static void late_init_forget(struct mh_module *m);
static void stopped_forget(struct mh_module *m);

void mh_api_release(struct mh_module *m)
{
	acct_forget(m);
	late_init_forget(m);
	stopped_forget(m);
	m->translate = NULL;
	m->translate_opaque = NULL;
	m->vcpu_init = NULL;
	m->vcpu_init_opaque = NULL;
	memset(m->vcpu_event, 0, sizeof(m->vcpu_event));
	memset(m->vcpu_event_opaque, 0, sizeof(m->vcpu_event_opaque));
	m->flush = NULL;
	m->flush_opaque = NULL;
	for (guint i = 0; i < m->scoreboards->len; i++)
		sb_destroy(g_ptr_array_index(m->scoreboards, i));
	g_ptr_array_set_size(m->scoreboards, 0);
}

/* -- which module holds an address ------------------------------------ */

/* Is @key (a struct link_map *) the link map of @m's private copy? */
static bool instance_is_map(const struct mh_module *m, const void *key)
{
	struct link_map *lm;

	return m->handle && !dlinfo(m->handle, RTLD_DI_LINKMAP, &lm) && lm == key;
}

/*
 * The loaded object whose mapping holds @addr (its code, data or bss), then
 * the module whose instance that object is.  The link map names one mapped
 * copy exactly: no file name is read.
 */
static const char *api_module_of(const void *addr)
{
	struct link_map *lm = NULL;
	Dl_info info;

	if (!addr || !dladdr1(addr, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return NULL;
	return mh_lifecycle_owner(instance_is_map, lm);
}

/* -- what QEMU plugins see (since 1.4) ---------------------------------- */

static void api_outs(const char *text)
{
	if (text)
		qemu_plugin_outs(text);
}

void mh_api_set_qemu_info(const qemu_info_t *info)
{
	/* QEMU's own copy is gone once install returns. */
	qinfo = (struct mh_qemu_info){
		.target_name = g_strdup(info->target_name),
		.version_min = info->version.min,
		.version_cur = info->version.cur,
		.system_emulation = info->system_emulation,
		.smp_vcpus = info->system.smp_vcpus,
		.max_vcpus = info->system.max_vcpus,
	};
}

static const struct mh_qemu_info *api_qemu_info(void)
{
	return &qinfo;
}

static const char *api_param_args(mh_module *self)
{
	const char *v = g_hash_table_lookup(self->params, MH_PARAM_ORDER);

	return v ? v : "";
}

/* Like set_translate: from init or exit, every vCPU stopped. */
static int api_set_vcpu_init(mh_module *self, mh_vcpu_udata_cb cb,
			     void *opaque)
{
	self->vcpu_init = cb;
	self->vcpu_init_opaque = opaque;
	return 0;
}

static const char *api_reg_name(unsigned int idx, const char **feature)
{
	const struct mh_regs_reg *r = mh_regs_nth(idx);

	if (feature)
		*feature = r ? r->feature : NULL;
	return r ? r->name : NULL;
}

static char *api_insn_disas(const mh_insn *insn)
{
	/* g_malloc() is malloc() (glib >= 2.46): the module may free() it. */
	return qemu_plugin_insn_disas(QINSN(insn));
}

static void *api_insn_haddr(const mh_insn *insn)
{
	return qemu_plugin_insn_haddr(QINSN(insn));
}

/* -- the rest of QEMU's plugin API (since 1.5) ---------------------------- */

/*
 * Like set_vcpu_init: from init, exit or a run_stopped() call.
 *
 * Idle and resume only with a single vCPU.  QEMU 10.0 runs them on a
 * halting vCPU's thread under the BQL, outside the exclusive section a
 * reset runs in; the reset, which every quiesce is, frees their entries
 * at once (no RCU grace period: it counts on every vCPU being stopped).
 * With two vCPU threads one can free the entry the other is about to
 * call through: QEMU crashes.  No call of the plugin API can close that
 * window (only under the BQL is an unregistration safe, and only these
 * very callbacks run under it), so the host refuses rather than risk
 * the guest: Documentation/qemu-plugins.rst.
 */
static int api_set_vcpu_event(mh_module *self, enum mh_vcpu_event ev,
			      mh_vcpu_udata_cb cb, void *opaque)
{
	if ((unsigned int)ev > MH_VCPU_RESUME)
		return -EINVAL;
	if (cb && ev != MH_VCPU_EXIT && qinfo.max_vcpus > 1) {
		api_log(self, MH_LOG_ERROR, "vCPU %s callbacks need a single "
			"vCPU (-smp 1): with %d, QEMU 10.0 may free one while "
			"a halting vCPU calls it",
			ev == MH_VCPU_IDLE ? "idle" : "resume", qinfo.max_vcpus);
		return -EOPNOTSUPP;
	}
	self->vcpu_event[ev] = cb;
	self->vcpu_event_opaque[ev] = opaque;
	if (cb)
		mh_quiesce_want_vcpu_event(ev);
	return 0;
}

static int api_set_flush(mh_module *self, mh_opaque_cb cb, void *opaque)
{
	self->flush = cb;
	self->flush_opaque = opaque;
	return 0;
}

/*
 * Late vcpu_init.  A module loaded after the vCPUs started owes each of
 * them its vcpu_init, and QEMU would have run it on that vCPU's thread
 * (register reads read the vCPU they run on).  No plugin call runs code on
 * another vCPU, so the host puts a check on every block translated while
 * some vCPU is owed one: a conditional callback on the vCPU's own flag in
 * late_sb, first in the block, which runs what that vCPU is owed before
 * anything the module instrumented.  late_owed counts the (module, vCPU)
 * pairs still owed; once it is 0, blocks translated afterwards carry no
 * check.  Flags are set with every vCPU stopped and cleared by their own
 * vCPU; late_init[] entries are claimed with an atomic exchange.
 */
static struct qemu_plugin_scoreboard *late_sb;
static qemu_plugin_u64 late_flag;
static int late_owed;

static int api_vcpu_init_existing(mh_module *self)
{
	unsigned int n = qemu_plugin_num_vcpus();

	if (!mh_lifecycle_applying() || !self->vcpu_init)
		return -EINVAL;
	if (!n || self->late_init)
		return 0;
	if (!late_sb) {
		late_sb = qemu_plugin_scoreboard_new(sizeof(uint64_t));
		late_flag = (qemu_plugin_u64){ late_sb, 0 };
	}
	self->late_init = g_new(int, n);
	self->late_n = n;
	for (unsigned int i = 0; i < n; i++) {
		self->late_init[i] = 1;
		qemu_plugin_u64_set(late_flag, i, 1);
	}
	g_atomic_int_add(&late_owed, (int)n);
	return 0;
}

/* On vCPU @vcpu_index, first in a block: run the vcpu_init it is owed. */
static void late_init_run(unsigned int vcpu_index, void *udata)
{
	(void)udata;
	qemu_plugin_u64_set(late_flag, vcpu_index, 0);
	mh_lifecycle_late_init(vcpu_index);
}

void mh_api_late_init_vcpu(struct mh_module *m, unsigned int vcpu_index)
{
	if (vcpu_index >= m->late_n ||
	    !g_atomic_int_exchange(&m->late_init[vcpu_index], 0))
		return;
	g_atomic_int_add(&late_owed, -1);
	if (m->vcpu_init)
		m->vcpu_init(vcpu_index, m->vcpu_init_opaque);
}

void mh_api_late_init_instrument(struct qemu_plugin_tb *tb)
{
	if (!g_atomic_int_get(&late_owed))
		return;
	mh_api_tb_exec_cond_cb(tb, late_init_run, QEMU_PLUGIN_CB_R_REGS,
			       QEMU_PLUGIN_COND_NE, late_flag, 0, NULL);
}

/* @m goes (every vCPU stopped): what it was still owed is owed no more. */
static void late_init_forget(struct mh_module *m)
{
	for (unsigned int i = 0; i < m->late_n; i++)
		if (m->late_init[i])
			g_atomic_int_add(&late_owed, -1);
	g_clear_pointer(&m->late_init, g_free);
	m->late_n = 0;
}

static int api_unload_self(mh_module *self)
{
	if (mh_lifecycle_applying() && self->entry->state == MH_COMING)
		return -EINVAL;
	return mh_request_async(MH_REQ_UNLOAD, self->entry->name, MH_FROM_SELF);
}

/*
 * run_stopped(): calls queued under stopped_lock, run by the next apply
 * (every vCPU stopped, the code flushed).  A call whose module went in
 * between is dropped (mh_api_release).
 */
struct stopped_call {
	struct mh_module *mod;
	mh_stopped_cb fn;
	void *opaque;
};

static GMutex stopped_lock;
static GArray *stopped_calls;	/* struct stopped_call */

static int api_run_stopped(mh_module *self, mh_stopped_cb fn, void *opaque)
{
	struct stopped_call c = { .mod = self, .fn = fn, .opaque = opaque };

	if (!fn)
		return -EINVAL;
	g_mutex_lock(&stopped_lock);
	if (!stopped_calls)
		stopped_calls = g_array_new(false, false, sizeof(c));
	g_array_append_val(stopped_calls, c);
	g_mutex_unlock(&stopped_lock);
	/* From a hook inside an apply, the calls run at its end. */
	if (!mh_lifecycle_applying())
		mh_quiesce_request();
	return 0;
}

MH_GUARD_ENTRY static int stopped_call(void *p)
{
	struct stopped_call *c = p;

	c->fn(c->mod, c->opaque);
	return 0;
}

void mh_api_run_stopped(void)
{
	struct mh_guard_fault fault;
	g_autoptr(GArray) calls = NULL;

	g_mutex_lock(&stopped_lock);
	calls = g_steal_pointer(&stopped_calls);
	g_mutex_unlock(&stopped_lock);
	for (guint i = 0; calls && i < calls->len; i++) {
		struct stopped_call *c = &g_array_index(calls, struct stopped_call, i);

		/* A call queued by one that went before is gone (released). */
		if (!c->mod)
			continue;
		mh_guard_call(c->mod, "run_stopped", stopped_call, c, &fault);
		if (fault.kind != MH_GUARD_NONE) {
			g_autofree char *why = mh_guard_describe("run_stopped", &fault);

			c->mod->tainted = true;
			mh_err("%s: %s", c->mod->meta->name, why);
		}
	}
	/* Calls queued by these calls run at the next quiesce. */
	g_mutex_lock(&stopped_lock);
	if (stopped_calls && stopped_calls->len)
		mh_quiesce_request();
	g_mutex_unlock(&stopped_lock);
}

/* Every vCPU stopped, @m goes: its calls not run yet are dropped. */
static void stopped_forget(struct mh_module *m)
{
	g_mutex_lock(&stopped_lock);
	for (guint i = 0; stopped_calls && i < stopped_calls->len; i++) {
		struct stopped_call *c = &g_array_index(stopped_calls,
							struct stopped_call, i);

		if (c->mod == m)
			c->mod = NULL;
	}
	g_mutex_unlock(&stopped_lock);
}

static bool api_mem_is_big_endian(uint32_t info)
{
	return qemu_plugin_mem_is_big_endian(info);
}

static void api_mem_get_value(uint32_t info, struct mh_mem_value *val)
{
	qemu_plugin_mem_value v = qemu_plugin_mem_get_value(info);

	*val = (struct mh_mem_value){ .size = 1u << v.type };
	switch (v.type) {
	case QEMU_PLUGIN_MEM_VALUE_U8:
		val->low = v.data.u8;
		break;
	case QEMU_PLUGIN_MEM_VALUE_U16:
		val->low = v.data.u16;
		break;
	case QEMU_PLUGIN_MEM_VALUE_U32:
		val->low = v.data.u32;
		break;
	case QEMU_PLUGIN_MEM_VALUE_U64:
		val->low = v.data.u64;
		break;
	default:
		val->size = 16;
		val->low = v.data.u128.low;
		val->high = v.data.u128.high;
		break;
	}
}

static const mh_hwaddr *api_hwaddr(uint32_t info, uint64_t vaddr)
{
	return (const mh_hwaddr *)qemu_plugin_get_hwaddr(info, vaddr);
}

#define QHW(h) ((const struct qemu_plugin_hwaddr *)(h))

/* QEMU reads through the handle; the other two take NULL themselves. */
static bool api_hwaddr_is_io(const mh_hwaddr *haddr)
{
	return haddr && qemu_plugin_hwaddr_is_io(QHW(haddr));
}

static uint64_t api_hwaddr_phys(const mh_hwaddr *haddr)
{
	return qemu_plugin_hwaddr_phys_addr(QHW(haddr));
}

static const char *api_hwaddr_device(const mh_hwaddr *haddr)
{
	return qemu_plugin_hwaddr_device_name(QHW(haddr));
}

const struct mh_api mh_host_api = {
	.size = sizeof(struct mh_api),
	.abi_major = MODHOST_ABI_MAJOR,
	.abi_minor = MODHOST_ABI_MINOR,
	.log = api_log,
	.module_name = api_module_name,
	.param_str = api_param_str,
	.param_int = api_param_int,
	.param_uint = api_param_uint,
	.param_bool = api_param_bool,
	.set_translate = api_set_translate,
	.tb_n_insns = api_tb_n_insns,
	.tb_vaddr = api_tb_vaddr,
	.tb_insn = api_tb_insn,
	.insn_vaddr = api_insn_vaddr,
	.insn_size = api_insn_size,
	.insn_data = api_insn_data,
	.insn_symbol = api_insn_symbol,
	.tb_exec_cb = acct_tb_exec_cb,
	.tb_exec_cond_cb = acct_tb_exec_cond_cb,
	.tb_exec_inline = acct_tb_exec_inline,
	.insn_exec_cb = acct_insn_exec_cb,
	.insn_exec_cond_cb = acct_insn_exec_cond_cb,
	.insn_exec_inline = acct_insn_exec_inline,
	.insn_mem_cb = acct_insn_mem_cb,
	.insn_mem_inline = acct_insn_mem_inline,
	.mem_size_shift = api_mem_size_shift,
	.mem_is_store = api_mem_is_store,
	.mem_is_sign_extended = api_mem_is_sign_extended,
	.scoreboard_new = api_scoreboard_new,
	.scoreboard_free = api_scoreboard_free,
	.scoreboard_find = api_scoreboard_find,
	.u64_get = api_u64_get,
	.u64_set = api_u64_set,
	.u64_sum = api_u64_sum,
	.reg_lookup = api_reg_lookup,
	.reg_read = api_reg_read,
	.mem_read = api_mem_read,
	.num_vcpus = api_num_vcpus,
	.import = api_import,
	.ppp_declare = api_ppp_declare,
	.ppp_register = api_ppp_register,
	.ppp_unregister = api_ppp_unregister,
	.hypercall_register = api_hypercall_register,
	.hypercall_unregister = api_hypercall_unregister,
	.hypercall_current = api_hypercall_current,
	.hypercall_returns = api_hypercall_returns,
	.mem_value = api_mem_value,
	.exiting = mh_lifecycle_exiting,
	.module_of = api_module_of,
	.outs = api_outs,
	.qemu_info = api_qemu_info,
	.param_args = api_param_args,
	.set_vcpu_init = api_set_vcpu_init,
	.reg_name = api_reg_name,
	.insn_disas = api_insn_disas,
	.insn_haddr = api_insn_haddr,
	.set_vcpu_event = api_set_vcpu_event,
	.set_flush = api_set_flush,
	.vcpu_init_existing = api_vcpu_init_existing,
	.unload_self = api_unload_self,
	.run_stopped = api_run_stopped,
	.mem_is_big_endian = api_mem_is_big_endian,
	.mem_get_value = api_mem_get_value,
	.hwaddr = api_hwaddr,
	.hwaddr_is_io = api_hwaddr_is_io,
	.hwaddr_phys = api_hwaddr_phys,
	.hwaddr_device = api_hwaddr_device,
};
