// SPDX-License-Identifier: MIT
/*
 * The QEMU plugin compatibility layer: QEMU's plugin API on top of the
 * module API table, so that an unmodified QEMU plugin source becomes a
 * modhost module (obj-q in tools/module.mk, Documentation/qemu-plugins.rst).
 *
 * The SDK compiles this file into each obj-q module, with hidden visibility
 * and -DMH_QCOMPAT_NAME='"NAME"' (and _VERSION, _LICENSE): it supplies the
 * module's metadata and hooks, and the plugin's calls to qemu_plugin_*()
 * bind to the definitions below at link time.  Built with
 * -DMH_QCOMPAT_BINARY instead, it is qcompat-bin.so, the layer the host
 * binds a plain plugin binary to at load (host/loader.c).  A function of the API that
 * is not defined here stays an undefined reference, and the SDK's -z defs
 * makes the link fail naming it: never a silent no-op.
 *
 * What QEMU keeps per plugin (one tb_trans, one vcpu_init, one atexit
 * callback; registering again replaces) is kept here per module instance:
 * each load maps a fresh private copy, so a reload starts from zero like a
 * plugin in a new QEMU.  The callbacks the plugin puts on blocks and
 * instructions go to QEMU unchanged (the table's entries are thin
 * wrappers), so at run time QEMU calls the plugin directly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <modhost/module.h>
#include <qemu-plugin.h>

#ifndef MH_QCOMPAT_NAME
#error "build QEMU plugins with obj-q (tools/module.mk): MH_QCOMPAT_NAME is not set"
#endif
#ifndef MH_QCOMPAT_VERSION
#define MH_QCOMPAT_VERSION "0"
#endif
#ifndef MH_QCOMPAT_LICENSE
#define MH_QCOMPAT_LICENSE "NOASSERTION"
#endif

/* The plugin API version this layer implements (the header's). */
#define QCOMPAT_API QEMU_PLUGIN_VERSION

/* The id the plugin gets: opaque to it, never compared by the layer. */
#define QCOMPAT_ID ((qemu_plugin_id_t)1)

static const struct mh_api *mh;
static mh_module *self;

static qemu_plugin_vcpu_tb_trans_cb_t tb_trans_cb;
static qemu_plugin_vcpu_simple_cb_t vcpu_init_cb;
static qemu_plugin_vcpu_simple_cb_t vcpu_event_cb[MH_VCPU_RESUME + 1];
static qemu_plugin_simple_cb_t flush_cb;
static qemu_plugin_vcpu_syscall_cb_t syscall_cb;
static qemu_plugin_vcpu_syscall_ret_cb_t syscall_ret_cb;
static qemu_plugin_udata_cb_t atexit_cb;
static void *atexit_udata;

/* qemu_plugin_install() runs: what it must not do fails the load. */
static bool installing;
static const char *refused;	/* the function that failed it */
/* qemu_plugin_uninstall(): the unload is queued; its cb runs at exit. */
static bool uninstalling;
static qemu_plugin_simple_cb_t uninstall_cb;
/* qemu_plugin_reset(): queued; cb runs once the callbacks are gone. */
static bool resetting;
static qemu_plugin_simple_cb_t reset_cb;
/* argv stays valid while the module lives: plugins keep pointers into it. */
static char **plugin_argv;

/* -- the plugin's lifetime --------------------------------------------- */

static void translate(mh_tb *tb, void *opaque)
{
	(void)opaque;
	tb_trans_cb(QCOMPAT_ID, (struct qemu_plugin_tb *)tb);
}

static void vcpu_init(unsigned int vcpu_index, void *opaque)
{
	(void)opaque;
	vcpu_init_cb(QCOMPAT_ID, vcpu_index);
}

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
					   qemu_plugin_vcpu_tb_trans_cb_t cb)
{
	(void)id;
	tb_trans_cb = cb;
	mh->set_translate(self, cb ? translate : NULL, NULL);
}

void qemu_plugin_register_vcpu_init_cb(qemu_plugin_id_t id,
				       qemu_plugin_vcpu_simple_cb_t cb)
{
	(void)id;
	vcpu_init_cb = cb;
	mh->set_vcpu_init(self, cb ? vcpu_init : NULL, NULL);
}

void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
				    qemu_plugin_udata_cb_t cb, void *userdata)
{
	(void)id;
	atexit_cb = cb;
	atexit_udata = userdata;
}

static void vcpu_event(unsigned int vcpu_index, void *opaque)
{
	vcpu_event_cb[(uintptr_t)opaque](QCOMPAT_ID, vcpu_index);
}

/* The host refuses idle and resume with several vCPUs (it logs why). */
static void register_vcpu_event(enum mh_vcpu_event ev,
				qemu_plugin_vcpu_simple_cb_t cb,
				const char *fn)
{
	vcpu_event_cb[ev] = cb;
	if (mh->set_vcpu_event(self, ev, cb ? vcpu_event : NULL,
			       (void *)(uintptr_t)ev) == 0)
		return;
	vcpu_event_cb[ev] = NULL;
	if (installing && !refused)
		refused = fn;
	else
		mh->log(self, MH_LOG_ERROR, "%s: refused, the callback will "
			"not run", fn);
}

void qemu_plugin_register_vcpu_exit_cb(qemu_plugin_id_t id,
				       qemu_plugin_vcpu_simple_cb_t cb)
{
	(void)id;
	register_vcpu_event(MH_VCPU_EXIT, cb, __func__);
}

void qemu_plugin_register_vcpu_idle_cb(qemu_plugin_id_t id,
				       qemu_plugin_vcpu_simple_cb_t cb)
{
	(void)id;
	register_vcpu_event(MH_VCPU_IDLE, cb, __func__);
}

void qemu_plugin_register_vcpu_resume_cb(qemu_plugin_id_t id,
					 qemu_plugin_vcpu_simple_cb_t cb)
{
	(void)id;
	register_vcpu_event(MH_VCPU_RESUME, cb, __func__);
}

static void flush(void *opaque)
{
	(void)opaque;
	flush_cb(QCOMPAT_ID);
}

void qemu_plugin_register_flush_cb(qemu_plugin_id_t id,
				   qemu_plugin_simple_cb_t cb)
{
	(void)id;
	flush_cb = cb;
	mh->set_flush(self, cb ? flush : NULL, NULL);
}

/*
 * QEMU calls these only under user-mode emulation; under system
 * emulation, the only kind modhost runs in, a plugin may register them
 * and they are never called: the same here.
 */
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id,
					  qemu_plugin_vcpu_syscall_cb_t cb)
{
	(void)id;
	syscall_cb = cb;
}

void qemu_plugin_register_vcpu_syscall_ret_cb(qemu_plugin_id_t id,
					      qemu_plugin_vcpu_syscall_ret_cb_t cb)
{
	(void)id;
	syscall_ret_cb = cb;
}

/*
 * As QEMU: the plugin keeps getting callbacks until the unload is
 * applied; its exit hook then runs @cb instead of the atexit callback
 * (QEMU drops that one with the others).  A second call is ignored.
 */
void qemu_plugin_uninstall(qemu_plugin_id_t id, qemu_plugin_simple_cb_t cb)
{
	int ret;

	(void)id;
	if (installing) {
		/* QEMU aborts: "return !0 from the install function instead". */
		mh->log(self, MH_LOG_ERROR, "qemu_plugin_uninstall called from "
			"qemu_plugin_install: return non-zero instead");
		refused = "qemu_plugin_uninstall";
		return;
	}
	if (uninstalling)
		return;
	uninstalling = true;
	uninstall_cb = cb;
	ret = mh->unload_self(self);
	if (ret) {
		mh->log(self, MH_LOG_ERROR, "qemu_plugin_uninstall: the unload "
			"could not be queued (%d)", ret);
		uninstalling = false;
	}
}

/* Every vCPU stopped, the code flushed: drop every callback, then cb. */
static void reset_now(mh_module *me, void *opaque)
{
	qemu_plugin_simple_cb_t cb = reset_cb;

	(void)me;
	(void)opaque;
	tb_trans_cb = NULL;
	mh->set_translate(self, NULL, NULL);
	vcpu_init_cb = NULL;
	mh->set_vcpu_init(self, NULL, NULL);
	for (unsigned int ev = 0; ev <= MH_VCPU_RESUME; ev++)
		register_vcpu_event(ev, NULL, NULL);
	flush_cb = NULL;
	mh->set_flush(self, NULL, NULL);
	syscall_cb = NULL;
	syscall_ret_cb = NULL;
	atexit_cb = NULL;
	resetting = false;
	reset_cb = NULL;
	if (cb)
		cb(QCOMPAT_ID);
}

/* As QEMU: asynchronous, callbacks keep coming until @cb runs. */
void qemu_plugin_reset(qemu_plugin_id_t id, qemu_plugin_simple_cb_t cb)
{
	int ret;

	(void)id;
	if (resetting || uninstalling)
		return;
	resetting = true;
	reset_cb = cb;
	ret = mh->run_stopped(self, reset_now, NULL);
	if (ret) {
		mh->log(self, MH_LOG_ERROR, "qemu_plugin_reset: could not be "
			"queued (%d)", ret);
		resetting = false;
	}
}

void qemu_plugin_vcpu_for_each(qemu_plugin_id_t id,
			       qemu_plugin_vcpu_simple_cb_t cb)
{
	unsigned int n = mh->num_vcpus();

	for (unsigned int i = 0; i < n; i++)
		cb(id, i);
}

#ifdef MH_QCOMPAT_BINARY
/*
 * Built as qcompat-bin.so, for a plugin binary that QEMU's own build made
 * (not linked with this layer): the host maps a private copy of this
 * object per plugin, points the plugin's qemu_plugin_*() calls here, and
 * hands over the plugin's two entries before init.
 */
static int (*plugin_install)(qemu_plugin_id_t id, const qemu_info_t *info,
			     int argc, char **argv);
static const int *plugin_version;

__attribute__((visibility("default")))
void mh_qcompat_bind(void *install, const int *version)
{
	plugin_install = (int (*)(qemu_plugin_id_t, const qemu_info_t *, int,
				  char **))install;
	plugin_version = version;
}
#define PLUGIN_INSTALL plugin_install
#define PLUGIN_VERSION (*plugin_version)
#else
#define PLUGIN_INSTALL qemu_plugin_install
#define PLUGIN_VERSION qemu_plugin_version
#endif

/* QEMU refuses a plugin built for an API it does not have; so does this. */
static int check_version(const struct mh_qemu_info *qi)
{
	if (PLUGIN_VERSION < qi->version_min || PLUGIN_VERSION > QCOMPAT_API) {
		mh->log(self, MH_LOG_ERROR, "built for QEMU plugin API %d; this "
			"host supports %d to %d", PLUGIN_VERSION,
			qi->version_min, QCOMPAT_API);
		return -ENOTSUP;
	}
	return 0;
}

static int qcompat_init(mh_module *me, const struct mh_api *api)
{
	const struct mh_qemu_info *qi;
	qemu_info_t info;
	int argc, ret;

	/* Before anything: the table must have what this layer calls. */
	if (!MH_API_HAS(api, hwaddr_device)) {
		api->log(me, MH_LOG_ERROR, "the host's API table is older than "
			 "ABI 1.5: QEMU plugins need 1.5");
		return -ENOTSUP;
	}
	mh = api;
	self = me;
	qi = api->qemu_info();
	ret = check_version(qi);
	if (ret)
		return ret;

	/* QEMU hands a plugin "KEY=VALUE" words in the order given. */
	plugin_argv = g_strsplit(api->param_args(me), "\n", -1);
	argc = (int)g_strv_length(plugin_argv);
	if (argc == 1 && !*plugin_argv[0]) {
		g_free(plugin_argv[0]);
		plugin_argv[0] = NULL;
		argc = 0;
	}
	memset(&info, 0, sizeof(info));
	info.target_name = qi->target_name;
	info.version.min = qi->version_min;
	info.version.cur = qi->version_cur;
	info.system_emulation = qi->system_emulation;
	info.system.smp_vcpus = qi->smp_vcpus;
	info.system.max_vcpus = qi->max_vcpus;

	installing = true;
	ret = PLUGIN_INSTALL(QCOMPAT_ID, &info, argc, plugin_argv);
	installing = false;
	if (ret) {
		api->log(me, MH_LOG_ERROR, "qemu_plugin_install returned %d", ret);
		g_clear_pointer(&plugin_argv, g_strfreev);
		return -EINVAL;
	}
	if (refused) {
		api->log(me, MH_LOG_ERROR, "load refused: the plugin called %s",
			 refused);
		g_clear_pointer(&plugin_argv, g_strfreev);
		return -ENOTSUP;
	}
	/*
	 * vCPUs already running were initialised before this plugin came:
	 * QEMU would have called its vcpu_init for each at start, on that
	 * vCPU's thread, before it ran any of the plugin's callbacks.
	 */
	if (vcpu_init_cb && api->num_vcpus())
		return api->vcpu_init_existing(me);
	return 0;
}

/*
 * At unload, before a reload and at QEMU's exit: the plugin's atexit
 * callback prints its report.  The host then removes what was registered
 * through the table (hooks, callbacks, scoreboards).  At QEMU's exit other
 * vCPUs may still run the plugin's callbacks, so nothing is freed then.
 */
static void qcompat_exit(mh_module *me)
{
	(void)me;
	/* An uninstall applied: QEMU runs its cb, not atexit. */
	if (uninstalling && !mh->exiting()) {
		if (uninstall_cb)
			uninstall_cb(QCOMPAT_ID);
	} else if (atexit_cb) {
		atexit_cb(QCOMPAT_ID, atexit_udata);
	}
	if (mh->exiting())
		return;
	atexit_cb = NULL;
	g_clear_pointer(&plugin_argv, g_strfreev);
}

/*
 * The plugin's own state hooks, if its source defines them (under
 * #ifdef MODHOST_QCOMPAT, so it still builds natively); weak, so a plugin
 * without them links and starts fresh at each reload, and hidden, so the
 * link settles it: never a symbol of another object at run time.
 */
extern int modhost_save_state(void **data, size_t *len)
	__attribute__((weak, visibility("hidden")));
extern int modhost_restore_state(const void *data, size_t len,
				 const char *old_version)
	__attribute__((weak, visibility("hidden")));

static int qcompat_save_state(mh_module *me, void **data, size_t *len)
{
	(void)me;
	*data = NULL;
	*len = 0;
	return modhost_save_state ? modhost_save_state(data, len) : 0;
}

static int qcompat_restore_state(mh_module *me, const void *data, size_t len,
				 const char *old_version)
{
	(void)me;
	return modhost_restore_state ?
		modhost_restore_state(data, len, old_version) : 0;
}

MH_MODULE(MH_QCOMPAT_NAME, MH_QCOMPAT_VERSION, MH_QCOMPAT_LICENSE,
	  "QEMU plugin " MH_QCOMPAT_NAME " (QEMU plugin API)",
	  .init = qcompat_init, .exit = qcompat_exit,
	  .save_state = qcompat_save_state,
	  .restore_state = qcompat_restore_state);
/* Plugins parse their own arguments: any KEY=VALUE reaches argv. */
MH_PARAM_ANY();

/* -- instrumentation ---------------------------------------------------- */

#define MTB(tb) ((mh_tb *)(tb))
#define MINSN(insn) ((mh_insn *)(insn))

static inline mh_u64 mu64(qemu_plugin_u64 e)
{
	return (mh_u64){ (mh_scoreboard *)e.score, e.offset };
}

void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
					  qemu_plugin_vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags,
					  void *userdata)
{
	mh->tb_exec_cb(MTB(tb), cb, (enum mh_cb_flags)flags, userdata);
}

void qemu_plugin_register_vcpu_tb_exec_cond_cb(struct qemu_plugin_tb *tb,
					       qemu_plugin_vcpu_udata_cb_t cb,
					       enum qemu_plugin_cb_flags flags,
					       enum qemu_plugin_cond cond,
					       qemu_plugin_u64 entry,
					       uint64_t imm, void *userdata)
{
	mh->tb_exec_cond_cb(MTB(tb), cb, (enum mh_cb_flags)flags,
			    (enum mh_cond)cond, mu64(entry), imm, userdata);
}

void qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
	struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
	qemu_plugin_u64 entry, uint64_t imm)
{
	mh->tb_exec_inline(MTB(tb), (enum mh_op)op, mu64(entry), imm);
}

void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
					    qemu_plugin_vcpu_udata_cb_t cb,
					    enum qemu_plugin_cb_flags flags,
					    void *userdata)
{
	mh->insn_exec_cb(MINSN(insn), cb, (enum mh_cb_flags)flags, userdata);
}

void qemu_plugin_register_vcpu_insn_exec_cond_cb(
	struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
	enum qemu_plugin_cb_flags flags, enum qemu_plugin_cond cond,
	qemu_plugin_u64 entry, uint64_t imm, void *userdata)
{
	mh->insn_exec_cond_cb(MINSN(insn), cb, (enum mh_cb_flags)flags,
			      (enum mh_cond)cond, mu64(entry), imm, userdata);
}

void qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
	struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
	qemu_plugin_u64 entry, uint64_t imm)
{
	mh->insn_exec_inline(MINSN(insn), (enum mh_op)op, mu64(entry), imm);
}

void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn,
				      qemu_plugin_vcpu_mem_cb_t cb,
				      enum qemu_plugin_cb_flags flags,
				      enum qemu_plugin_mem_rw rw,
				      void *userdata)
{
	mh->insn_mem_cb(MINSN(insn), cb, (enum mh_cb_flags)flags,
			(enum mh_mem_rw)rw, userdata);
}

void qemu_plugin_register_vcpu_mem_inline_per_vcpu(
	struct qemu_plugin_insn *insn, enum qemu_plugin_mem_rw rw,
	enum qemu_plugin_op op, qemu_plugin_u64 entry, uint64_t imm)
{
	mh->insn_mem_inline(MINSN(insn), (enum mh_mem_rw)rw, (enum mh_op)op,
			    mu64(entry), imm);
}

/* -- queries of the block being translated ------------------------------ */

size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb)
{
	return mh->tb_n_insns(MTB(tb));
}

uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb)
{
	return mh->tb_vaddr(MTB(tb));
}

struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
						 size_t idx)
{
	return (struct qemu_plugin_insn *)mh->tb_insn(MTB(tb), idx);
}

size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest,
			     size_t len)
{
	return mh->insn_data(MINSN(insn), dest, len);
}

size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn)
{
	return mh->insn_size(MINSN(insn));
}

uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn)
{
	return mh->insn_vaddr(MINSN(insn));
}

const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn)
{
	return mh->insn_symbol(MINSN(insn));
}

void *qemu_plugin_insn_haddr(const struct qemu_plugin_insn *insn)
{
	return mh->insn_haddr(MINSN(insn));
}

char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn)
{
	return mh->insn_disas(MINSN(insn));
}

/* -- memory accesses ------------------------------------------------------ */

unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info)
{
	return mh->mem_size_shift(info);
}

bool qemu_plugin_mem_is_sign_extended(qemu_plugin_meminfo_t info)
{
	return mh->mem_is_sign_extended(info);
}

bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info)
{
	return mh->mem_is_store(info);
}

bool qemu_plugin_mem_is_big_endian(qemu_plugin_meminfo_t info)
{
	return mh->mem_is_big_endian(info);
}

qemu_plugin_mem_value qemu_plugin_mem_get_value(qemu_plugin_meminfo_t info)
{
	qemu_plugin_mem_value v = { 0 };
	struct mh_mem_value m;

	mh->mem_get_value(info, &m);
	switch (m.size) {
	case 1:
		v.type = QEMU_PLUGIN_MEM_VALUE_U8;
		v.data.u8 = m.low;
		break;
	case 2:
		v.type = QEMU_PLUGIN_MEM_VALUE_U16;
		v.data.u16 = m.low;
		break;
	case 4:
		v.type = QEMU_PLUGIN_MEM_VALUE_U32;
		v.data.u32 = m.low;
		break;
	case 8:
		v.type = QEMU_PLUGIN_MEM_VALUE_U64;
		v.data.u64 = m.low;
		break;
	default:
		v.type = QEMU_PLUGIN_MEM_VALUE_U128;
		v.data.u128.low = m.low;
		v.data.u128.high = m.high;
		break;
	}
	return v;
}

struct qemu_plugin_hwaddr *qemu_plugin_get_hwaddr(qemu_plugin_meminfo_t info,
						  uint64_t vaddr)
{
	return (struct qemu_plugin_hwaddr *)mh->hwaddr(info, vaddr);
}

#define MHW(h) ((const mh_hwaddr *)(h))

bool qemu_plugin_hwaddr_is_io(const struct qemu_plugin_hwaddr *haddr)
{
	return mh->hwaddr_is_io(MHW(haddr));
}

uint64_t qemu_plugin_hwaddr_phys_addr(const struct qemu_plugin_hwaddr *haddr)
{
	return mh->hwaddr_phys(MHW(haddr));
}

const char *qemu_plugin_hwaddr_device_name(const struct qemu_plugin_hwaddr *h)
{
	return mh->hwaddr_device(MHW(h));
}

/* -- scoreboards ------------------------------------------------------------ */

struct qemu_plugin_scoreboard *qemu_plugin_scoreboard_new(size_t element_size)
{
	return (struct qemu_plugin_scoreboard *)mh->scoreboard_new(self,
								   element_size);
}

void qemu_plugin_scoreboard_free(struct qemu_plugin_scoreboard *score)
{
	mh->scoreboard_free(self, (mh_scoreboard *)score);
}

void *qemu_plugin_scoreboard_find(struct qemu_plugin_scoreboard *score,
				  unsigned int vcpu_index)
{
	return mh->scoreboard_find((mh_scoreboard *)score, vcpu_index);
}

void qemu_plugin_u64_add(qemu_plugin_u64 entry, unsigned int vcpu_index,
			 uint64_t added)
{
	/* As QEMU: a plain add on the vCPU's own entry, not atomic. */
	char *base = qemu_plugin_scoreboard_find(entry.score, vcpu_index);

	*(uint64_t *)(base + entry.offset) += added;
}

uint64_t qemu_plugin_u64_get(qemu_plugin_u64 entry, unsigned int vcpu_index)
{
	return mh->u64_get(mu64(entry), vcpu_index);
}

void qemu_plugin_u64_set(qemu_plugin_u64 entry, unsigned int vcpu_index,
			 uint64_t val)
{
	mh->u64_set(mu64(entry), vcpu_index, val);
}

uint64_t qemu_plugin_u64_sum(qemu_plugin_u64 entry)
{
	return mh->u64_sum(mu64(entry));
}

/* -- guest state ---------------------------------------------------------- */

GArray *qemu_plugin_get_registers(void)
{
	GArray *list = g_array_new(false, false,
				   sizeof(qemu_plugin_reg_descriptor));
	const char *name, *feature;

	/* The names are the host's and live until QEMU exits, like QEMU's. */
	for (unsigned int i = 0; (name = mh->reg_name(i, &feature)); i++) {
		qemu_plugin_reg_descriptor d = {
			.handle = (struct qemu_plugin_register *)mh->reg_lookup(name),
			.name = name,
			.feature = feature,
		};
		g_array_append_val(list, d);
	}
	return list;
}

int qemu_plugin_read_register(struct qemu_plugin_register *handle,
			      GByteArray *buf)
{
	uint8_t val[256];	/* the widest x86 and Arm registers fit */
	int n = mh->reg_read((const mh_reg *)handle, val, sizeof(val));

	if (n <= 0 || (size_t)n > sizeof(val))
		return -1;
	g_byte_array_append(buf, val, n);
	return n;
}

bool qemu_plugin_read_memory_vaddr(uint64_t addr, GByteArray *data, size_t len)
{
	if (!len)
		return false;
	g_byte_array_set_size(data, len);
	return !mh->mem_read(addr, data->data, len);
}

/* -- output and helpers ----------------------------------------------------- */

void qemu_plugin_outs(const char *string)
{
	mh->outs(string);
}

int qemu_plugin_num_vcpus(void)
{
	return (int)mh->num_vcpus();
}

/*
 * QEMU's words for true and false.  QEMU itself aborts on any other value
 * (it parses with &error_abort); a module must not end QEMU, so this
 * returns false and leaves *@ret alone.
 */
bool qemu_plugin_bool_parse(const char *name, const char *val, bool *ret)
{
	static const char *const yes[] = { "on", "yes", "true", "y" };
	static const char *const no[] = { "off", "no", "false", "n" };

	if (!name || !val)
		return false;
	for (unsigned int i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (!strcmp(val, yes[i]) || !strcmp(val, no[i])) {
			*ret = !strcmp(val, yes[i]);
			return true;
		}
	}
	mh->log(self, MH_LOG_ERROR, "%s=%s: expected on or off", name, val);
	return false;
}

/*
 * Time control cannot be honoured inside modhost.  QEMU grants it once per
 * run to one plugin, which then owns the guest's virtual clock for the
 * rest of the run; a module may be unloaded (the clock would be left to
 * no one) or reloaded (the new version counts from 0 again and would ask
 * for times already past).  So a plugin that asks in its install is
 * refused at load, naming the function; asked later, it gets NULL, which
 * QEMU's API defines as "refused", and the log says why.
 */
const void *qemu_plugin_request_time_control(void)
{
	mh->log(self, MH_LOG_ERROR, "qemu_plugin_request_time_control: "
		"modules cannot drive the guest's clock (they may be unloaded "
		"or reloaded while it runs)");
	if (installing)
		refused = "qemu_plugin_request_time_control";
	return NULL;
}

/* No handle is ever granted (above); QEMU ignores a wrong one too. */
void qemu_plugin_update_ns(const void *handle, int64_t time)
{
	(void)handle;
	(void)time;
}

/* User-mode emulation only; the host runs under system emulation. */
const char *qemu_plugin_path_to_binary(void)
{
	return NULL;
}

uint64_t qemu_plugin_start_code(void)
{
	return 0;
}

uint64_t qemu_plugin_end_code(void)
{
	return 0;
}

uint64_t qemu_plugin_entry_code(void)
{
	return 0;
}
