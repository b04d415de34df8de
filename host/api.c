// SPDX-License-Identifier: MIT
/*
 * The host API table handed to modules (struct mh_api).
 *
 * Instrumentation entries are thin wrappers over QEMU's plugin API: the
 * callbacks a module registers are QEMU's own, so at run time QEMU calls the
 * module directly.  What a module registers through @self (translate hook,
 * scoreboards) is recorded on its instance and removed by
 * mh_module_unregister() when the instance goes.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

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

	if (!d || d->type != want)
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
	qemu_plugin_register_vcpu_tb_exec_cond_cb(QTB(tb), cb,
						  (enum qemu_plugin_cb_flags)flags,
						  (enum qemu_plugin_cond)cond,
						  qu64(entry), imm, udata);
}

static void api_tb_exec_inline(mh_tb *tb, enum mh_op op, mh_u64 entry,
			       uint64_t imm)
{
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
	qemu_plugin_register_vcpu_insn_exec_cond_cb(QINSN(insn), cb,
						    (enum qemu_plugin_cb_flags)flags,
						    (enum qemu_plugin_cond)cond,
						    qu64(entry), imm, udata);
}

static void api_insn_exec_inline(mh_insn *insn, enum mh_op op, mh_u64 entry,
				 uint64_t imm)
{
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
	qemu_plugin_register_vcpu_mem_inline_per_vcpu(QINSN(insn),
						      (enum qemu_plugin_mem_rw)rw,
						      (enum qemu_plugin_op)op,
						      qu64(entry), imm);
}

/* -- scoreboards ------------------------------------------------------- */

static mh_scoreboard *api_scoreboard_new(mh_module *self, size_t element_size)
{
	struct qemu_plugin_scoreboard *s;

	if (!element_size)
		return NULL;
	s = qemu_plugin_scoreboard_new(element_size);
	g_ptr_array_add(self->scoreboards, s);
	return (mh_scoreboard *)s;
}

/*
 * Translated code may still point into a scoreboard until the next flush,
 * so a module's own free only drops it from the instance: the host frees it
 * in mh_module_unregister(), which runs after a flush.
 */
static void api_scoreboard_free(mh_module *self, mh_scoreboard *score)
{
	(void)self;
	(void)score;
}

static void *api_scoreboard_find(mh_scoreboard *score, unsigned int vcpu_index)
{
	return qemu_plugin_scoreboard_find((struct qemu_plugin_scoreboard *)score,
					   vcpu_index);
}

static uint64_t api_u64_get(mh_u64 entry, unsigned int vcpu_index)
{
	return qemu_plugin_u64_get(qu64(entry), vcpu_index);
}

static void api_u64_set(mh_u64 entry, unsigned int vcpu_index, uint64_t val)
{
	qemu_plugin_u64_set(qu64(entry), vcpu_index, val);
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

/* -- registers and memory ---------------------------------------------- */

/*
 * QEMU lists registers only from a vCPU thread, and modules look them up
 * in init(), which may run before any vCPU exists.  So a handle is made for
 * any name and bound to QEMU's register when the list is known.  Handles
 * live until QEMU exits.
 */
struct mh_reg {
	char *name;
	struct qemu_plugin_register *handle;
};

static GMutex reg_lock;
static GHashTable *regs;	/* name -> struct mh_reg */
static GHashTable *qemu_regs;	/* name -> struct qemu_plugin_register * */

static void reg_bind_locked(struct mh_reg *r) /* Must hold reg_lock. */
{
	if (!r->handle && qemu_regs)
		r->handle = g_hash_table_lookup(qemu_regs, r->name);
}

void mh_api_vcpu_init(void)
{
	g_autoptr(GArray) list = NULL;
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&reg_lock);
	if (qemu_regs)
		goto out;
	list = qemu_plugin_get_registers();
	qemu_regs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; list && i < list->len; i++) {
		qemu_plugin_reg_descriptor *d =
			&g_array_index(list, qemu_plugin_reg_descriptor, i);

		g_hash_table_insert(qemu_regs, g_strdup(d->name), d->handle);
	}
	if (regs) {
		g_hash_table_iter_init(&it, regs);
		while (g_hash_table_iter_next(&it, NULL, &v))
			reg_bind_locked(v);
	}
out:
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

void mh_module_unregister(struct mh_module *m)
{
	m->translate = NULL;
	m->translate_opaque = NULL;
	for (guint i = 0; i < m->scoreboards->len; i++)
		qemu_plugin_scoreboard_free(g_ptr_array_index(m->scoreboards, i));
	g_ptr_array_set_size(m->scoreboards, 0);
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
	.tb_exec_cb = api_tb_exec_cb,
	.tb_exec_cond_cb = api_tb_exec_cond_cb,
	.tb_exec_inline = api_tb_exec_inline,
	.insn_exec_cb = api_insn_exec_cb,
	.insn_exec_cond_cb = api_insn_exec_cond_cb,
	.insn_exec_inline = api_insn_exec_inline,
	.insn_mem_cb = api_insn_mem_cb,
	.insn_mem_inline = api_insn_mem_inline,
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
};
