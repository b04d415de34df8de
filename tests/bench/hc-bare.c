// SPDX-License-Identifier: MIT
/*
 * hc-bare: the hypercall benchmark's baseline (tests/bench/run-all): a
 * minimal QEMU plugin that does what modhost's dispatch must do for one
 * route, and nothing else: a callback on each cpuid that reads eax, skips
 * real leaves and other magics, then reads EFER and the six argument
 * registers of the guest's width and counts the call.
 */
#include <glib.h>
#include <string.h>

#include "qemu/qemu-plugin.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAGIC 0x12345600u

static struct qemu_plugin_register *rax, *efer, *args[2][6];
static const char *const names[2][6] = {
	{ "rbx", "rcx", "rdx", "rsi", "rdi", "rbp" },
	{ "rdi", "rsi", "rdx", "r10", "r8", "r9" },
};
static uint64_t calls, sink;
static __thread GByteArray *buf;

static uint64_t rd(struct qemu_plugin_register *r)
{
	uint64_t v = 0;
	int n;

	if (!buf)
		buf = g_byte_array_sized_new(16);
	g_byte_array_set_size(buf, 0);
	n = qemu_plugin_read_register(r, buf);
	if (n > 0)
		memcpy(&v, buf->data, MIN((size_t)n, sizeof(v)));
	return v;
}

static void on_cpuid(unsigned int vcpu, void *udata)
{
	uint32_t magic = (uint32_t)rd(rax);
	bool is64;

	(void)vcpu;
	(void)udata;
	if (!(magic & 0x3fff0000u) || magic != MAGIC)
		return;
	is64 = rd(efer) & (1u << 10);
	for (int i = 0; i < 6; i++)
		sink += rd(args[is64][i]);
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint8_t b[2];

		if (qemu_plugin_insn_size(insn) == 2 &&
		    qemu_plugin_insn_data(insn, b, 2) == 2 &&
		    b[0] == 0x0f && b[1] == 0xa2)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_cpuid,
							       QEMU_PLUGIN_CB_R_REGS,
							       NULL);
	}
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
	g_autoptr(GArray) list = qemu_plugin_get_registers();

	(void)id;
	(void)vcpu;
	for (guint i = 0; i < list->len; i++) {
		qemu_plugin_reg_descriptor *d =
			&g_array_index(list, qemu_plugin_reg_descriptor, i);

		if (!strcmp(d->name, "rax"))
			rax = d->handle;
		if (!strcmp(d->name, "efer"))
			efer = d->handle;
		for (int w = 0; w < 2; w++)
			for (int k = 0; k < 6; k++)
				if (!strcmp(d->name, names[w][k]))
					args[w][k] = d->handle;
	}
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
	g_autofree char *line = g_strdup_printf("hc-bare: calls=%" G_GUINT64_FORMAT
						"\n", calls);

	(void)id;
	(void)p;
	qemu_plugin_outs(line);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info, int argc,
					   char **argv)
{
	(void)info;
	(void)argc;
	(void)argv;
	qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
