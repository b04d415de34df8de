// SPDX-License-Identifier: MIT
/*
 * Quiesce: stop every vCPU, change the set of live modules, go on.
 *
 * A host thread cannot stop the vCPUs itself: qemu_plugin_reset() only
 * flushes translated code when called on a vCPU's thread.  So a request
 * has a vCPU make the call, one of two ways:
 *
 * - direct (the default): QEMU's own async_run_on_cpu(), which every
 *   qemu-system binary exports, queues ring() on a vCPU's thread and
 *   kicks it out of its loop.  No block carries anything, and a halted or
 *   paused vCPU answers too: QEMU runs queued work in its wait loop.
 *
 * - the doorbell (quiesce=doorbell, or when the binary does not export
 *   those functions): every block carries a conditional callback on a
 *   per-vCPU scoreboard flag.  Normally the flag is 0 and the inline
 *   compare costs a few instructions; a request sets it on every vCPU,
 *   and the first vCPU to run a block calls ring().  A Linux boot runs 92
 *   million such compares, 4 to 5% of its time.
 *
 * Either way ring() calls qemu_plugin_reset().  QEMU then drops the
 * host's callbacks, waits for every vCPU to leave its loop, flushes all
 * translated code and calls quiesce_done(), where the queued work is
 * applied, what the change let go is freed and the host's callbacks are
 * registered again.  No block that calls into an unloaded module survives
 * the flush.
 *
 * So this file owns the host's callbacks: vcpu_init, tb_trans (the
 * translation path: doorbell, hypercall instructions, the live modules'
 * translate hooks) and the atexit function plugin.c hands it.
 *
 * Blocks that end in a direct jump, call or conditional branch whose every
 * successor lies above the block's start carry no doorbell: any loop the
 * guest can stay in forever has an edge to an address at or below its
 * source block's start, and that edge leaves from a block with a doorbell
 * (a backward branch, or a ret, indirect jump, iret or interrupt, whose
 * target is unknown).  This halves the doorbell's cost on compiled code.
 */
#include <dlfcn.h>

#include "internal.h"

static qemu_plugin_id_t host_id;
static qemu_plugin_udata_cb_t host_atexit;
static struct qemu_plugin_scoreboard *bell;	/* the doorbell's only */
static qemu_plugin_u64 bell_flag;
static int armed;		/* a request waits for a vCPU to answer */
static int64_t answered_at;	/* when a vCPU answered (mh_log_now_us) */

/*
 * QEMU's run-on-vCPU, found in the running binary (not plugin API: the
 * declarations are the host's own, from QEMU's include/hw/core/cpu.h).
 * The data argument is a union of 8 bytes, passed as one integer.
 */
struct CPUState;
typedef union {
	int host_int;
	unsigned long host_ulong;
	void *host_ptr;
	uint64_t target_ptr;
} qemu_run_on_cpu_data;
typedef void (*qemu_run_on_cpu_func)(struct CPUState *cpu,
				     qemu_run_on_cpu_data data);

static void (*q_async_run_on_cpu)(struct CPUState *cpu,
				  qemu_run_on_cpu_func func,
				  qemu_run_on_cpu_data data);
static struct CPUState *(*q_get_cpu)(int index);
static bool direct;		/* no doorbell: q_async_run_on_cpu() */
static struct CPUState *ring_cpu;	/* the first vCPU up (direct) */

static void set_flags(uint64_t val)
{
	int n = qemu_plugin_num_vcpus();

	for (int i = 0; i < n; i++)
		qemu_plugin_u64_set(bell_flag, i, val);
}

static void ask_vcpu(void);

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	mh_api_vcpu_init();
	mh_hypercall_vcpu_init();
	if (direct) {
		/* A request made before any vCPU was up waits for this one. */
		if (!g_atomic_pointer_get(&ring_cpu)) {
			g_atomic_pointer_set(&ring_cpu, q_get_cpu(vcpu_index));
			if (g_atomic_int_get(&armed))
				ask_vcpu();
		}
	} else if (g_atomic_int_get(&armed)) {
		qemu_plugin_u64_set(bell_flag, vcpu_index, 1);
	}
	/* After the register table: modules' hooks may read registers. */
	mh_lifecycle_vcpu_init(vcpu_index);
}

static void vcpu_exit(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	mh_lifecycle_vcpu_event(MH_VCPU_EXIT, vcpu_index);
}

static void vcpu_idle(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	mh_lifecycle_vcpu_event(MH_VCPU_IDLE, vcpu_index);
}

static void vcpu_resume(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	mh_lifecycle_vcpu_event(MH_VCPU_RESUME, vcpu_index);
}

/*
 * QEMU flushes with every vCPU stopped, its own flushes and a quiesce's
 * alike (a reset flushes before it drops the host's callbacks), so
 * modules hear of each flush once, before the quiesce applies anything.
 */
static void flush(qemu_plugin_id_t id)
{
	(void)id;
	mh_api_flushed();
	mh_lifecycle_flush();
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

/*
 * QEMU 10.0 runs idle and resume callbacks on a halting vCPU's thread
 * under the BQL, while a reset (a quiesce) runs exclusive but without the
 * BQL and frees the callbacks' entries: with several vCPUs the reset can
 * free the entry a halting vCPU is reading (QEMU then crashes in
 * qemu_wait_io_event).  So the host has them registered only while a
 * module asks for them, which it may only with a single vCPU
 * (api_set_vcpu_event, Documentation/qemu-plugins.rst).
 */
void mh_quiesce_want_vcpu_event(enum mh_vcpu_event ev)
{
	if (ev == MH_VCPU_IDLE)
		qemu_plugin_register_vcpu_idle_cb(host_id, vcpu_idle);
	else if (ev == MH_VCPU_RESUME)
		qemu_plugin_register_vcpu_resume_cb(host_id, vcpu_resume);
}

/* A reset drops every callback of the host: this registers them again. */
static void register_callbacks(void)
{
	qemu_plugin_register_vcpu_init_cb(host_id, vcpu_init);
	qemu_plugin_register_vcpu_exit_cb(host_id, vcpu_exit);
	if (mh_lifecycle_wants_vcpu_event(MH_VCPU_IDLE))
		mh_quiesce_want_vcpu_event(MH_VCPU_IDLE);
	if (mh_lifecycle_wants_vcpu_event(MH_VCPU_RESUME))
		mh_quiesce_want_vcpu_event(MH_VCPU_RESUME);
	qemu_plugin_register_flush_cb(host_id, flush);
	qemu_plugin_register_vcpu_tb_trans_cb(host_id, tb_trans);
	qemu_plugin_register_atexit_cb(host_id, host_atexit, NULL);
}

static void quiesce_done(qemu_plugin_id_t id)
{
	int64_t pause_us;
	GString *ev;
	int ops;

	(void)id;
	/* Clear before applying: a request queued from now on rings again. */
	if (!direct)
		set_flags(0);
	ops = mh_lifecycle_apply();
	/*
	 * Every vCPU is still stopped and the translated code flushed: what
	 * was replaced or let go (route tables, handler sets, scoreboards),
	 * before this quiesce or in the apply, is unreachable now.
	 */
	mh_hypercall_quiesced();
	mh_registry_quiesced();
	mh_api_quiesced();
	register_callbacks();
	pause_us = mh_log_now_us() - answered_at;
	mh_lifecycle_note_pause(pause_us);

	ev = mh_event_new("quiesce");
	mh_event_int(ev, "pause_us", pause_us);
	mh_event_int(ev, "ops", ops);
	mh_event_emit(ev);

	if (mh_plan_pending())
		mh_quiesce_request();
}

/* On a vCPU's thread: start the quiesce, unless another vCPU did. */
static void ring(void)
{
	/* Only one vCPU may start the reset: QEMU ignores a second one. */
	if (!g_atomic_int_compare_and_exchange(&armed, 1, 0))
		return;
	answered_at = mh_log_now_us();
	qemu_plugin_reset(host_id, quiesce_done);
}

static void doorbell(unsigned int vcpu_index, void *udata)
{
	(void)vcpu_index;
	(void)udata;
	ring();
}

/*
 * Queued work on ring_cpu's thread: it runs there between blocks, or in
 * the wait loop of a halted or paused vCPU.  qemu_plugin_reset() flushes
 * only when QEMU's current_cpu (thread-local) is set; every vCPU thread
 * sets it before it runs queued work, but were it not, QEMU would drop
 * the callbacks without the flush: so it is checked, and set for the call.
 */
static void ring_work(struct CPUState *cpu, qemu_run_on_cpu_data data)
{
	struct CPUState **cur = dlsym(RTLD_DEFAULT, "current_cpu");
	bool unset = cur && !*cur;

	(void)data;
	if (unset)
		*cur = cpu;
	ring();
	if (unset)
		*cur = NULL;
}

/*
 * Direct: have ring_cpu run ring_work().  Before any vCPU is up there is
 * none to ask: vcpu_init() asks the first one.
 */
static void ask_vcpu(void)
{
	struct CPUState *cpu = g_atomic_pointer_get(&ring_cpu);

	if (cpu)
		q_async_run_on_cpu(cpu, ring_work, (qemu_run_on_cpu_data){ 0 });
}

/*
 * Does the running QEMU export its run-on-vCPU?  Every qemu-system binary
 * with plugins does (it exports all its functions), but a build that
 * hid them falls back to the doorbell, with a line saying so.
 */
static bool find_direct(void)
{
	q_async_run_on_cpu = dlsym(RTLD_DEFAULT, "async_run_on_cpu");
	q_get_cpu = dlsym(RTLD_DEFAULT, "qemu_get_cpu");
	if (q_async_run_on_cpu && q_get_cpu &&
	    dlsym(RTLD_DEFAULT, "current_cpu"))
		return true;
	mh_msg("quiesce: this QEMU does not export async_run_on_cpu, "
	       "qemu_get_cpu and current_cpu: every block carries a "
	       "doorbell instead (quiesce=doorbell)");
	return false;
}

void mh_quiesce_init(qemu_plugin_id_t id, qemu_plugin_udata_cb_t atexit_fn,
		     bool doorbell)
{
	host_id = id;
	direct = !doorbell && find_direct();
	host_atexit = atexit_fn;
	if (!direct) {
		bell = qemu_plugin_scoreboard_new(sizeof(uint64_t));
		bell_flag = (qemu_plugin_u64){ bell, 0 };
	}
	register_callbacks();
}

/*
 * Is @insn a relative jmp, call, jcc, loop or jcxz?  If so, its target.
 * The encoding must fill the instruction QEMU decoded exactly, so a
 * prefix byte is never mistaken for an opcode.
 */
static bool direct_branch_target(struct qemu_plugin_insn *insn, uint64_t *target)
{
	uint8_t b[16];
	size_t len = qemu_plugin_insn_data(insn, b, sizeof(b));
	size_t i = 0, rest;
	int64_t rel;

	if (len != qemu_plugin_insn_size(insn))
		return false;
	/* operand/address size, segment (branch hint), bnd/rep, REX */
	while (i < len && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0x2e ||
			   b[i] == 0x3e || b[i] == 0xf2 || b[i] == 0xf3 ||
			   (b[i] & 0xf0) == 0x40))
		i++;
	if (i >= len)
		return false;
	rest = len - i;
	if (((b[i] >= 0x70 && b[i] <= 0x7f) || b[i] == 0xeb ||
	     (b[i] >= 0xe0 && b[i] <= 0xe3)) && rest == 2) {
		rel = (int8_t)b[i + 1];
	} else if ((b[i] == 0xe8 || b[i] == 0xe9) && (rest == 3 || rest == 5)) {
		rel = rest == 3 ? (int16_t)(b[i + 1] | b[i + 2] << 8) :
			(int32_t)(b[i + 1] | b[i + 2] << 8 | b[i + 3] << 16 |
				  (uint32_t)b[i + 4] << 24);
	} else if (b[i] == 0x0f && rest >= 2 && b[i + 1] >= 0x80 &&
		   b[i + 1] <= 0x8f && (rest == 4 || rest == 6)) {
		rel = rest == 4 ? (int16_t)(b[i + 2] | b[i + 3] << 8) :
			(int32_t)(b[i + 2] | b[i + 3] << 8 | b[i + 4] << 16 |
				  (uint32_t)b[i + 5] << 24);
	} else {
		return false;
	}
	*target = qemu_plugin_insn_vaddr(insn) + len + rel;
	return true;
}

static void ring_doorbell(struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	uint64_t target;

	if (direct)
		return;
	if (n && direct_branch_target(qemu_plugin_tb_get_insn(tb, n - 1), &target) &&
	    target > qemu_plugin_tb_vaddr(tb))
		return;		/* every way out goes forward */
	mh_api_tb_exec_cond_cb(tb, doorbell, QEMU_PLUGIN_CB_NO_REGS,
			       QEMU_PLUGIN_COND_NE, bell_flag, 0, NULL);
}

/* The translation path: the host's doorbell, hypercalls, then modules. */
static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	ring_doorbell(tb);
	mh_hypercall_instrument(tb);
	mh_api_late_init_instrument(tb);
	mh_lifecycle_translate(tb);
}

void mh_quiesce_request(void)
{
	g_atomic_int_set(&armed, 1);
	if (direct)
		ask_vcpu();
	else
		set_flags(1);
}
