/*
 * qmem: a QEMU TCG plugin, written against QEMU's plugin API v4 alone,
 * that logs the memory accesses a guest makes from code inside an address
 * range: for the first ones, each access's size, direction, value,
 * endianness, sign extension and where it went (guest physical address,
 * RAM or which device); then totals at exit.  It also shows what QEMU says
 * of the first block's instructions (symbol, bytes, disassembly, whether
 * their bytes are mapped on the host).
 *
 * Built twice by the tests, natively and with obj-q: same output.
 *
 * Arguments: lo=ADDR hi=ADDR (default everything), show=N (accesses to
 * print, default 12).
 *
 * Built with obj-q, it also defines modhost's state hooks (under
 * MODHOST_QCOMPAT, so the same source still builds natively): its totals
 * survive a reload.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t lo, hi = UINT64_MAX, show = 12;
static GMutex lock;		/* everything below */
static uint64_t shown, loads, stores, io, value_sum, phys_sum;
static bool first_done;

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

/* The value as one hex string, and its low 64 bits for the sum. */
static uint64_t value_of(qemu_plugin_mem_value v, char *buf, size_t len)
{
	switch (v.type) {
	case QEMU_PLUGIN_MEM_VALUE_U8:
		snprintf(buf, len, "0x%02x", v.data.u8);
		return v.data.u8;
	case QEMU_PLUGIN_MEM_VALUE_U16:
		snprintf(buf, len, "0x%04x", v.data.u16);
		return v.data.u16;
	case QEMU_PLUGIN_MEM_VALUE_U32:
		snprintf(buf, len, "0x%08x", v.data.u32);
		return v.data.u32;
	case QEMU_PLUGIN_MEM_VALUE_U64:
		snprintf(buf, len, "0x%016" PRIx64, v.data.u64);
		return v.data.u64;
	default:
		snprintf(buf, len, "0x%016" PRIx64 "%016" PRIx64,
			 v.data.u128.high, v.data.u128.low);
		return v.data.u128.low;
	}
}

static void on_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
		   uint64_t vaddr, void *udata)
{
	struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
	bool store = qemu_plugin_mem_is_store(info);
	bool is_io = hw && qemu_plugin_hwaddr_is_io(hw);
	uint64_t phys = qemu_plugin_hwaddr_phys_addr(hw);
	char val[40];
	uint64_t v = value_of(qemu_plugin_mem_get_value(info), val, sizeof(val));

	g_mutex_lock(&lock);
	if (store)
		stores++;
	else
		loads++;
	io += is_io;
	value_sum += v;
	phys_sum += phys;
	if (shown < show) {
		shown++;
		out("qmem: vcpu %u pc 0x%" PRIx64 " %s %u bytes at 0x%" PRIx64
		    " value %s %s-endian%s phys 0x%" PRIx64 " %s\n",
		    vcpu_index, (uint64_t)(uintptr_t)udata,
		    store ? "store" : "load",
		    1u << qemu_plugin_mem_size_shift(info), vaddr, val,
		    qemu_plugin_mem_is_big_endian(info) ? "big" : "little",
		    qemu_plugin_mem_is_sign_extended(info) ? " signed" : "",
		    phys, qemu_plugin_hwaddr_device_name(hw));
	}
	g_mutex_unlock(&lock);
}

static void show_block(struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);

	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		g_autofree char *d = qemu_plugin_insn_disas(insn);
		const char *sym = qemu_plugin_insn_symbol(insn);
		uint8_t b[16];
		size_t len = qemu_plugin_insn_data(insn, b, sizeof(b));
		g_autoptr(GString) hex = g_string_new(NULL);

		for (size_t k = 0; k < len; k++)
			g_string_append_printf(hex, "%02x", b[k]);
		out("qmem: insn 0x%" PRIx64 " %s [%s] %s%s\n",
		    qemu_plugin_insn_vaddr(insn), sym ? sym : "-", hex->str, d,
		    qemu_plugin_insn_haddr(insn) ? "" : " (not mapped)");
	}
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t pc = qemu_plugin_tb_vaddr(tb);
	size_t n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	if (pc < lo || pc >= hi)
		return;
	g_mutex_lock(&lock);
	if (!first_done) {
		first_done = true;
		show_block(tb);
	}
	g_mutex_unlock(&lock);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		qemu_plugin_register_vcpu_mem_cb(
			insn, on_mem, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
			(void *)(uintptr_t)qemu_plugin_insn_vaddr(insn));
	}
}

static void report(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	out("qmem: loads %" PRIu64 " stores %" PRIu64 " io %" PRIu64
	    " value sum 0x%" PRIx64 " phys sum 0x%" PRIx64 "\n",
	    loads, stores, io, value_sum, phys_sum);
}

#ifdef MODHOST_QCOMPAT
/*
 * Built as a modhost module: the totals go on across a reload.  The
 * native build has no such hooks, and skips this.
 */
struct totals {
	uint64_t loads, stores, io, value_sum, phys_sum;
};

int modhost_save_state(void **data, size_t *len)
{
	struct totals *t = g_new(struct totals, 1);

	*t = (struct totals){ loads, stores, io, value_sum, phys_sum };
	*data = t;
	*len = sizeof(*t);
	return 0;
}

int modhost_restore_state(const void *data, size_t len,
			  const char *old_version)
{
	const struct totals *t = data;

	if (len != sizeof(*t))
		return -22;	/* -EINVAL: not what this version saved */
	loads += t->loads;
	stores += t->stores;
	io += t->io;
	value_sum += t->value_sum;
	phys_sum += t->phys_sum;
	out("qmem: restored %" PRIu64 " loads, %" PRIu64 " stores from "
	    "version %s\n", t->loads, t->stores, old_version);
	return 0;
}
#endif

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++) {
		g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);

		if (!kv[0] || !kv[1])
			return -1;
		if (!strcmp(kv[0], "lo"))
			lo = strtoull(kv[1], NULL, 0);
		else if (!strcmp(kv[0], "hi"))
			hi = strtoull(kv[1], NULL, 0);
		else if (!strcmp(kv[0], "show"))
			show = strtoull(kv[1], NULL, 0);
		else
			return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, report, NULL);
	return 0;
}
