/*
 * qlife: a QEMU TCG plugin, written against QEMU's plugin API v4 alone,
 * that exercises a plugin's life: vCPU init, exit, idle and resume, code
 * flushes, syscall callbacks (user mode only: never called here), a reset
 * of its own callbacks, its own uninstall, time control, and a report at
 * exit that walks the vCPUs.
 *
 * Built twice by the tests, natively and with obj-q: same output.
 *
 * Arguments: lo=ADDR hi=ADDR (blocks counted, default everything),
 * reset=N (at the Nth block counted, reset: its callbacks go, then it
 * registers them again), uninstall=N (at the Nth block, uninstall itself),
 * events=on (print each vCPU's first idle and resume), time=on (ask for
 * control of the guest's clock).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static qemu_plugin_id_t self;
static uint64_t lo, hi = UINT64_MAX, reset_at, uninstall_at;
static bool events, time_control;
static struct qemu_plugin_scoreboard *sb;	/* struct per_vcpu */
static unsigned int syscalls;
static bool reset_asked, reset_done, uninstall_asked;
static GMutex lock;

struct per_vcpu {
	uint64_t blocks;	/* counted by a callback, before a reset */
	uint64_t after;		/* after it */
	uint64_t idle, resume;
};

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

static struct per_vcpu *mine(unsigned int vcpu_index)
{
	return qemu_plugin_scoreboard_find(sb, vcpu_index);
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	out("qlife: vcpu %u init, %d vCPUs\n", vcpu_index,
	    qemu_plugin_num_vcpus());
}

static void vcpu_exit(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	out("qlife: vcpu %u exit\n", vcpu_index);
}

static void vcpu_idle(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	if (mine(vcpu_index)->idle++ == 0 && events)
		out("qlife: vcpu %u idle\n", vcpu_index);
}

static void vcpu_resume(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	if (mine(vcpu_index)->resume++ == 0 && events)
		out("qlife: vcpu %u resume\n", vcpu_index);
}

static void flush(qemu_plugin_id_t id)
{
	(void)id;
	out("qlife: flush\n");
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu_index,
		       int64_t num, uint64_t a1, uint64_t a2, uint64_t a3,
		       uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
		       uint64_t a8)
{
	(void)id; (void)vcpu_index; (void)num; (void)a1; (void)a2; (void)a3;
	(void)a4; (void)a5; (void)a6; (void)a7; (void)a8;
	syscalls++;
}

static void on_syscall_ret(qemu_plugin_id_t id, unsigned int vcpu_idx,
			   int64_t num, int64_t ret)
{
	(void)id; (void)vcpu_idx; (void)num; (void)ret;
	syscalls++;
}

static void gone(qemu_plugin_id_t id)
{
	(void)id;
	out("qlife: uninstalled\n");
}

static void report_vcpu(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	out("qlife: vcpu %u at exit: counted %s, after reset %s\n", vcpu_index,
	    mine(vcpu_index)->blocks ? "yes" : "no",
	    mine(vcpu_index)->after ? "yes" : "no");
}

static void report(qemu_plugin_id_t id, void *udata)
{
	(void)udata;
	out("qlife: atexit, reset %s, syscalls %u\n",
	    reset_done ? "done" : "not done", syscalls);
	qemu_plugin_vcpu_for_each(id, report_vcpu);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

static void registered_again(qemu_plugin_id_t id)
{
	reset_done = true;
	out("qlife: reset done\n");
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, report, NULL);
}

static void on_block(unsigned int vcpu_index, void *udata)
{
	struct per_vcpu *v = mine(vcpu_index);
	uint64_t n;

	(void)udata;
	if (reset_done) {
		v->after++;
		return;
	}
	n = ++v->blocks;
	g_mutex_lock(&lock);
	if (reset_at && n == reset_at && !reset_asked) {
		reset_asked = true;
		out("qlife: vcpu %u asks for a reset at block %" PRIu64 "\n",
		    vcpu_index, n);
		qemu_plugin_reset(self, registered_again);
	}
	if (uninstall_at && n == uninstall_at && !uninstall_asked) {
		uninstall_asked = true;
		out("qlife: vcpu %u uninstalls at block %" PRIu64 "\n",
		    vcpu_index, n);
		qemu_plugin_uninstall(self, gone);
	}
	g_mutex_unlock(&lock);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t pc = qemu_plugin_tb_vaddr(tb);

	(void)id;
	if (pc >= lo && pc < hi)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block,
						     QEMU_PLUGIN_CB_NO_REGS,
						     NULL);
}

static bool parse(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);

		if (!kv[0] || !kv[1])
			return false;
		if (!strcmp(kv[0], "lo"))
			lo = strtoull(kv[1], NULL, 0);
		else if (!strcmp(kv[0], "hi"))
			hi = strtoull(kv[1], NULL, 0);
		else if (!strcmp(kv[0], "reset"))
			reset_at = strtoull(kv[1], NULL, 0);
		else if (!strcmp(kv[0], "uninstall"))
			uninstall_at = strtoull(kv[1], NULL, 0);
		else if (!strcmp(kv[0], "events")) {
			if (!qemu_plugin_bool_parse(kv[0], kv[1], &events))
				return false;
		} else if (!strcmp(kv[0], "time")) {
			if (!qemu_plugin_bool_parse(kv[0], kv[1], &time_control))
				return false;
		} else
			return false;
	}
	return true;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *bin = qemu_plugin_path_to_binary();

	(void)info;
	self = id;
	if (!parse(argc, argv))
		return -1;
	out("qlife: install, %d vCPUs, binary %s, code 0x%" PRIx64 "-0x%"
	    PRIx64 " entry 0x%" PRIx64 "\n", qemu_plugin_num_vcpus(),
	    bin ? bin : "none", qemu_plugin_start_code(),
	    qemu_plugin_end_code(), qemu_plugin_entry_code());
	if (time_control) {
		const void *handle = qemu_plugin_request_time_control();

		out("qlife: time control %s\n", handle ? "granted" : "refused");
		/* Not a handle QEMU gave: ignored, the clock stays as it is. */
		qemu_plugin_update_ns(NULL, 0);
	}
	sb = qemu_plugin_scoreboard_new(sizeof(struct per_vcpu));
	qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
	qemu_plugin_register_vcpu_exit_cb(id, vcpu_exit);
	qemu_plugin_register_vcpu_idle_cb(id, vcpu_idle);
	qemu_plugin_register_vcpu_resume_cb(id, vcpu_resume);
	qemu_plugin_register_flush_cb(id, flush);
	qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
	qemu_plugin_register_vcpu_syscall_ret_cb(id, on_syscall_ret);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, report, NULL);
	return 0;
}
