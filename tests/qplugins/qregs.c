/*
 * qregs: a QEMU TCG plugin, written against QEMU's plugin API v4 alone,
 * that reads guest registers and memory.  At each vCPU's init it lists
 * the registers QEMU offers and reads that vCPU's pc; then, for the first
 * calls (opcode e8) the guest runs inside an address range, it prints the
 * call's address, the stack pointer, the word on top of the stack (read
 * from guest memory) and a few registers.  A report at exit says how many calls ran.
 *
 * Arguments: lo=ADDR hi=ADDR (default everything), show=N (calls to print,
 * default 8).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <qemu/qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static struct qemu_plugin_register *r_sp, *r_ax, *r_flags;
static struct qemu_plugin_scoreboard *calls;	/* uint64_t per vCPU */
static uint64_t lo, hi = UINT64_MAX, show = 8;

static void out(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void out(const char *fmt, ...)
{
	va_list ap;
	g_autofree char *s = NULL;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	qemu_plugin_outs(s);
}

/* A register's value, little-endian, up to 8 bytes. */
static uint64_t reg_value(struct qemu_plugin_register *r)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	uint64_t v = 0;
	int n = r ? qemu_plugin_read_register(r, buf) : -1;

	if (n <= 0)
		return UINT64_MAX;
	memcpy(&v, buf->data, MIN((size_t)n, sizeof(v)));
	return v;
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	g_autoptr(GArray) regs = qemu_plugin_get_registers();
	g_autoptr(GString) names = g_string_new(NULL);
	struct qemu_plugin_register *r_pc = NULL;

	(void)id;
	for (guint i = 0; i < regs->len; i++) {
		qemu_plugin_reg_descriptor *d =
			&g_array_index(regs, qemu_plugin_reg_descriptor, i);

		g_string_append_printf(names, " %s", d->name);
		if (!strcmp(d->name, "rsp") || !strcmp(d->name, "esp"))
			r_sp = d->handle;
		else if (!strcmp(d->name, "rax") || !strcmp(d->name, "eax"))
			r_ax = d->handle;
		else if (!strcmp(d->name, "eflags"))
			r_flags = d->handle;
		else if (!strcmp(d->name, "rip") || !strcmp(d->name, "eip"))
			r_pc = d->handle;
	}
	out("qregs: vcpu %u: %u registers, first in %s:%s\n", vcpu_index,
	    regs->len, regs->len ?
	    g_array_index(regs, qemu_plugin_reg_descriptor, 0).feature : "-",
	    names->str);
	/* This vCPU's own: at start the reset vector, later where it runs. */
	out("qregs: vcpu %u pc 0x%" PRIx64 "\n", vcpu_index, reg_value(r_pc));
}

static void on_call(unsigned int vcpu_index, void *udata)
{
	uint64_t *n = qemu_plugin_scoreboard_find(calls, vcpu_index);
	uint64_t sp, top = 0;
	g_autoptr(GByteArray) mem = g_byte_array_new();

	if ((*n)++ >= show)
		return;
	sp = reg_value(r_sp);
	if (qemu_plugin_read_memory_vaddr(sp & 0xffffffffu, mem, 4))
		memcpy(&top, mem->data, 4);
	out("qregs: call at 0x%" PRIx64 " esp 0x%" PRIx64 " [esp] 0x%" PRIx64
	    " eax 0x%" PRIx64 " eflags 0x%" PRIx64 "\n",
	    (uint64_t)(uintptr_t)udata, sp & 0xffffffffu, top,
	    reg_value(r_ax) & 0xffffffffu, reg_value(r_flags));
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t pc = qemu_plugin_insn_vaddr(insn);
		uint8_t op;

		if (pc < lo || pc >= hi ||
		    qemu_plugin_insn_data(insn, &op, 1) != 1 || op != 0xe8)
			continue;
		qemu_plugin_register_vcpu_insn_exec_cb(insn, on_call,
						       QEMU_PLUGIN_CB_R_REGS,
						       (void *)(uintptr_t)pc);
	}
}

static void report(qemu_plugin_id_t id, void *udata)
{
	uint64_t total = 0;

	(void)id;
	(void)udata;
	for (int i = 0; i < qemu_plugin_num_vcpus(); i++)
		total += *(uint64_t *)qemu_plugin_scoreboard_find(calls, i);
	out("qregs: %" PRIu64 " calls in range\n", total);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++) {
		if (g_str_has_prefix(argv[i], "lo="))
			lo = strtoull(argv[i] + 3, NULL, 0);
		else if (g_str_has_prefix(argv[i], "hi="))
			hi = strtoull(argv[i] + 3, NULL, 0);
		else if (g_str_has_prefix(argv[i], "show="))
			show = strtoull(argv[i] + 5, NULL, 0);
		else
			return -1;
	}
	calls = qemu_plugin_scoreboard_new(sizeof(uint64_t));
	qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, report, NULL);
	return 0;
}
