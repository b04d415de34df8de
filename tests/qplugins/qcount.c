/*
 * qcount: a QEMU TCG plugin, written against QEMU's plugin API v4 alone,
 * that counts the blocks, instructions and memory accesses a guest runs
 * inside an address range, and prints a report when it ends.
 *
 * Built twice by the tests: as a plain QEMU plugin (-plugin qcount.so) and
 * as a modhost module with obj-q; both must print the same text.
 *
 * Arguments: lo=ADDR hi=ADDR (the range, default everything), mem=on|off
 * (memory callbacks, default on), mark=N (report when the vCPU runs its
 * Nth block in range, through a conditional callback; default 1000),
 * fail=N (install returns N: a refused load).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

struct counts {
	uint64_t blocks;	/* inline, per block */
	uint64_t insns;		/* inline, per block, by its length */
	uint64_t insns_each;	/* inline, per instruction */
	uint64_t cb_blocks;	/* a plain callback per block, u64_add */
	uint64_t loads;		/* memory callback */
	uint64_t stores;	/* inline, per store */
	uint64_t bytes;		/* memory callback: sizes */
	uint64_t marks;		/* conditional callback */
};

static struct qemu_plugin_scoreboard *sb;
static qemu_plugin_u64 blocks, insns, insns_each, cb_blocks, loads, stores,
	bytes, marks;
static uint64_t lo, hi = UINT64_MAX, mark = 1000;
static bool mem = true;
static GHashTable *seen;	/* distinct block addresses translated */
static uint64_t code_sum;	/* their instruction bytes, summed */
static GMutex lock;

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

static void on_block(unsigned int vcpu_index, void *udata)
{
	(void)udata;
	qemu_plugin_u64_add(cb_blocks, vcpu_index, 1);
}

static void on_mark(unsigned int vcpu_index, void *udata)
{
	qemu_plugin_u64_add(marks, vcpu_index, 1);
	out("qcount: vcpu %u reached block %" PRIu64 " at 0x%" PRIx64 "\n",
	    vcpu_index, qemu_plugin_u64_get(blocks, vcpu_index),
	    (uint64_t)(uintptr_t)udata);
}

static void on_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
		   uint64_t vaddr, void *udata)
{
	(void)vaddr;
	(void)udata;
	if (!qemu_plugin_mem_is_store(info))
		qemu_plugin_u64_add(loads, vcpu_index, 1);
	qemu_plugin_u64_add(bytes, vcpu_index,
			    1u << qemu_plugin_mem_size_shift(info));
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t pc = qemu_plugin_tb_vaddr(tb);
	size_t n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	if (pc < lo || pc >= hi)
		return;
	qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
		tb, QEMU_PLUGIN_INLINE_ADD_U64, blocks, 1);
	qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
		tb, QEMU_PLUGIN_INLINE_ADD_U64, insns, n);
	qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block,
					     QEMU_PLUGIN_CB_NO_REGS, NULL);
	qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, on_mark,
						  QEMU_PLUGIN_CB_NO_REGS,
						  QEMU_PLUGIN_COND_EQ, blocks,
						  mark, (void *)(uintptr_t)pc);

	g_mutex_lock(&lock);
	if (!g_hash_table_contains(seen, (gpointer)(uintptr_t)pc)) {
		g_hash_table_add(seen, (gpointer)(uintptr_t)pc);
		for (size_t i = 0; i < n; i++) {
			struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
			uint8_t buf[16];
			size_t len = qemu_plugin_insn_data(insn, buf, sizeof(buf));

			for (size_t k = 0; k < len; k++)
				code_sum += buf[k];
		}
		/* The first block in range, as QEMU disassembles it. */
		if (g_hash_table_size(seen) == 1) {
			for (size_t i = 0; i < n; i++) {
				struct qemu_plugin_insn *insn =
					qemu_plugin_tb_get_insn(tb, i);
				g_autofree char *d = qemu_plugin_insn_disas(insn);

				out("qcount: 0x%" PRIx64 " (%zu bytes) %s\n",
				    qemu_plugin_insn_vaddr(insn),
				    qemu_plugin_insn_size(insn), d);
			}
		}
	}
	g_mutex_unlock(&lock);

	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
			insn, QEMU_PLUGIN_INLINE_ADD_U64, insns_each, 1);
		if (!mem)
			continue;
		qemu_plugin_register_vcpu_mem_cb(insn, on_mem,
						 QEMU_PLUGIN_CB_NO_REGS,
						 QEMU_PLUGIN_MEM_RW, NULL);
		qemu_plugin_register_vcpu_mem_inline_per_vcpu(
			insn, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_INLINE_ADD_U64,
			stores, 1);
	}
}

static void report(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	out("qcount: blocks %" PRIu64 " insns %" PRIu64 " (each %" PRIu64
	    ") callbacks %" PRIu64 " marks %" PRIu64 "\n",
	    qemu_plugin_u64_sum(blocks), qemu_plugin_u64_sum(insns),
	    qemu_plugin_u64_sum(insns_each), qemu_plugin_u64_sum(cb_blocks),
	    qemu_plugin_u64_sum(marks));
	out("qcount: loads %" PRIu64 " stores %" PRIu64 " bytes %" PRIu64 "\n",
	    qemu_plugin_u64_sum(loads), qemu_plugin_u64_sum(stores),
	    qemu_plugin_u64_sum(bytes));
	out("qcount: distinct blocks %u code sum %" PRIu64 "\n",
	    g_hash_table_size(seen), code_sum);
	qemu_plugin_scoreboard_free(sb);
	g_hash_table_destroy(seen);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	out("qcount: %s, API %d to %d, %s, %d of %d vCPUs, %d args\n",
	    info->target_name, info->version.min, info->version.cur,
	    info->system_emulation ? "system" : "user",
	    info->system.smp_vcpus, info->system.max_vcpus, argc);
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		out("qcount: arg %d %s\n", i, argv[i]);
		if (!eq)
			return -1;
		*eq = '\0';
		if (!strcmp(argv[i], "lo"))
			lo = strtoull(eq + 1, NULL, 0);
		else if (!strcmp(argv[i], "hi"))
			hi = strtoull(eq + 1, NULL, 0);
		else if (!strcmp(argv[i], "mark"))
			mark = strtoull(eq + 1, NULL, 0);
		else if (!strcmp(argv[i], "fail"))
			return atoi(eq + 1);
		else if (!strcmp(argv[i], "mem")) {
			if (!qemu_plugin_bool_parse(argv[i], eq + 1, &mem))
				return -1;
		} else
			return -1;
	}
	sb = qemu_plugin_scoreboard_new(sizeof(struct counts));
	blocks = qemu_plugin_scoreboard_u64_in_struct(sb, struct counts, blocks);
	insns = qemu_plugin_scoreboard_u64_in_struct(sb, struct counts, insns);
	insns_each = qemu_plugin_scoreboard_u64_in_struct(sb, struct counts,
							  insns_each);
	cb_blocks = qemu_plugin_scoreboard_u64_in_struct(sb, struct counts,
							 cb_blocks);
	loads = qemu_plugin_scoreboard_u64_in_struct(sb, struct counts, loads);
	stores = qemu_plugin_scoreboard_u64_in_struct(sb, struct counts, stores);
	bytes = qemu_plugin_scoreboard_u64_in_struct(sb, struct counts, bytes);
	marks = qemu_plugin_scoreboard_u64_in_struct(sb, struct counts, marks);
	seen = g_hash_table_new(NULL, NULL);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, report, NULL);
	return 0;
}
