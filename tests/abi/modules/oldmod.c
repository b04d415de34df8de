// SPDX-License-Identifier: MIT
/*
 * oldmod - a module built before the API table and the ops struct grew:
 * it declares its own, shorter copies of both (the first members only, as
 * an early header had them) and must keep working with today's host.
 *
 *  - Its mh_module_ops ends after init (size 16): the host must read no
 *    further.  The bytes after it in the file are pointers to poison(),
 *    which reports itself in $MODHOST_TEST_MARKER: a host that copies more
 *    than .size bytes would take them for exit/prepare/save_state hooks.
 *  - Its code reaches only the first members of struct mh_api.
 *
 * Built with OLDMOD_SIZE=N, its ops claim N bytes while the symbol keeps
 * 16: a host that believed the claim would take the poison for hooks.
 *
 * The static asserts check that the copies match the real header's layout
 * for the members they keep: this is what an old build saw.
 */
#include <stddef.h>
#include <stdlib.h>

#include <modhost/module.h>

#include "../../modules/testmod.h"

/* struct mh_api as an early minor declared it: up to set_translate... */
struct old_api {
	uint32_t size;
	uint16_t abi_major;
	uint16_t abi_minor;
	void (*log)(mh_module *self, enum mh_log_level level, const char *fmt, ...);
	const char *(*module_name)(mh_module *self);
	const char *(*param_str)(mh_module *self, const char *name);
	int64_t (*param_int)(mh_module *self, const char *name);
	uint64_t (*param_uint)(mh_module *self, const char *name);
	bool (*param_bool)(mh_module *self, const char *name);
	int (*set_translate)(mh_module *self, mh_translate_cb cb, void *opaque);
	size_t (*tb_n_insns)(const mh_tb *tb);
	uint64_t (*tb_vaddr)(const mh_tb *tb);
	mh_insn *(*tb_insn)(const mh_tb *tb, size_t idx);
	uint64_t (*insn_vaddr)(const mh_insn *insn);
	size_t (*insn_size)(const mh_insn *insn);
	size_t (*insn_data)(const mh_insn *insn, void *dest, size_t len);
	const char *(*insn_symbol)(const mh_insn *insn);
	void (*tb_exec_cb)(mh_tb *tb, mh_vcpu_udata_cb cb,
			   enum mh_cb_flags flags, void *udata);
};

/* ... and struct mh_module_ops, up to init. */
struct old_ops {
	uint32_t size;
	uint16_t abi_major;
	uint16_t abi_minor;
	int (*init)(mh_module *self, const struct old_api *api);
};

#define SAME(a, b, m) \
	_Static_assert(offsetof(struct a, m) == offsetof(struct b, m), #m)
SAME(old_api, mh_api, log);
SAME(old_api, mh_api, module_name);
SAME(old_api, mh_api, param_str);
SAME(old_api, mh_api, set_translate);
SAME(old_api, mh_api, tb_exec_cb);
SAME(old_ops, mh_module_ops, init);
_Static_assert(sizeof(struct old_ops) == 16, "ops ends after init");
_Static_assert(sizeof(struct old_api) < sizeof(struct mh_api),
	       "the old table is shorter");

/* Metadata, as MH_MODULE() writes it. */
MH_INFO("abi", "1.0");
MH_INFO("name", "oldmod");
MH_INFO("version", "old");
MH_INFO("license", "MIT");
MH_PARAM_STR(heartbeat, "", "file whose first 8 bytes count blocks");

#ifndef OLDMOD_SIZE
#define OLDMOD_SIZE sizeof(struct old_ops)
#endif

static const struct old_api *mh;
static uint64_t *beat;

/* Called only by a host that reads past .size. */
static int poison(void)
{
	static const char line[] = "oldmod poison: hook read past ops.size\n";

	testmod_mark(line);
	return -1;
}

static void on_block(unsigned int vcpu_index, void *udata)
{
	(void)vcpu_index;
	(void)udata;
	testmod_beat(beat);
}

static void translate(mh_tb *tb, void *opaque)
{
	(void)opaque;
	mh->tb_exec_cb(tb, on_block, MH_CB_NO_REGS, NULL);
}

static int oldmod_init(mh_module *self, const struct old_api *api)
{
	const char *hb = api->param_str(self, "heartbeat");

	mh = api;
	if (hb && *hb && testmod_beat_map(hb, &beat))
		return -1;
	api->log(self, MH_LOG_INFO, "up: %s, host table %u bytes, mine %zu",
		 api->module_name(self), api->size, sizeof(*api));
	return api->set_translate(self, translate, NULL);
}

/*
 * The exported symbol is the first 16 bytes of a larger object: what
 * follows it is poison, where a newer struct would have its hooks.
 */
static const struct {
	struct old_ops ops;
	int (*after[16])(void);
} oldmod_blob __attribute__((used)) = {
	.ops = {
		.size = OLDMOD_SIZE,
		.abi_major = 1,
		.abi_minor = 0,
		.init = oldmod_init,
	},
	.after = { poison, poison, poison, poison, poison, poison, poison,
		   poison, poison, poison, poison, poison, poison, poison,
		   poison, poison },
};
__asm__(".globl " MH_OPS_SYMBOL "\n"
	".type " MH_OPS_SYMBOL ", @object\n"
	".size " MH_OPS_SYMBOL ", 16\n"
	".set " MH_OPS_SYMBOL ", oldmod_blob");
