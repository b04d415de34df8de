// SPDX-License-Identifier: MIT
/*
 * callstack_instr - shadow call stacks of the guest, PANDA's plugin of the
 * same name as a hot-reloadable module.
 *
 * At translation, a block whose last instruction is a call or a ret gets
 * instrumented on that instruction (decode.c says how the mode is found).
 *
 *  - Near calls and rets in 32/64-bit code, nearly all of them, get a
 *    memory callback on their stack access: the slot the call pushed the
 *    return address to, or the ret popped it from.  A direct call's
 *    callee is known, so its frame is complete in that one callback.  An
 *    indirect call reads its target before it runs (on_call_target) and
 *    is then complete in its memory callback too.  A ret pops the frame
 *    whose slot it read, and every frame above it (on_ret_mem says how
 *    the frame is found).
 *  - 16-bit code and far calls and rets, where segment bases count, keep
 *    register reads: the call pushes (return address, sp) and arms, the
 *    ret arms with an inline store, and the next block that fits
 *    completes the call or pops down to the frame the ret returned to.
 *    So does an indirect call whose operand cannot be followed.
 *
 * Blocks translated outside long mode also get a conditional callback on
 * the vCPU's "armed" flag: an inline compare, a call only right after an
 * armed call or ret.  The stack pointer check there is what keeps an
 * interrupt or a fault taken between such a call and its callee from
 * being taken for the callee: the handler's blocks do not have the
 * expected stack pointer, so the vCPU stays armed until the guest comes
 * back.  In long mode far calls and rets are settled at the instruction
 * (on_call_far_lm, on_ret_far_lm) and blocks go without: that compare on
 * every block cost a Linux boot more than all its calls' callbacks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

MH_PARAM_STR(stack_type, "asid",
	     "how stacks are told apart: asid (cr3), heuristic or threaded");
MH_PARAM_BOOL(verbose, false, "log every call and return");
MH_PARAM_STR(symbols, "", "names functions: an ELF file, a System.map, a kallsyms list or a kernel image; kernel: QEMU's -kernel");
MH_PARAM_STR(symbols_offset, "auto",
	     "guest address minus symbols= address: auto (found for a kernel) or a number");
MH_PARAM_STR(folded, "", "write folded stacks (outer;inner COUNT) here at exit");
MH_PARAM_STR(trace, "", "write call and return events here, JSON lines");
MH_PARAM_UINT(max_depth, 1024, "frames kept per stack (the oldest go first)");
MH_PARAM_STR(rets, "exact",
	     "x86-64 kernel rets: exact (a callback each) or counted (an inline count, settled at the next call: faster)");

/* Blocks an armed vCPU may run before its call or ret is given up. */
#define MISS_LIMIT 4096

/*
 * The memory callbacks on near calls and rets (see translate()) read cr3
 * after an address-space change, and consumers' handlers may read
 * registers: declare it.  Measured no slower than MH_CB_NO_REGS, as these
 * instructions end their block anyway.
 */
#define MEM_CB_FLAGS MH_CB_R_REGS

const struct mh_api *csi_mh;
mh_module *csi_self;
unsigned int csi_vcpus;	/* 0 until the first callback counts them */

/*
 * A ret arms its vCPU with an inline store of this value: no call at all.
 * The block it lands on decodes it (on_block).
 */
static inline uint64_t arm_ret_value(unsigned int imm, unsigned int mode)
{
	return ARM_RET | (uint64_t)(mode == 16 ? 0 : mode == 32 ? 1 : 2) << 2 |
	       (uint64_t)imm << 8;
}

static mh_scoreboard *score;
static struct mh_ppp_point *pt_on_call, *pt_on_ret;
static mh_reg *reg_sp, *reg_cr3, *reg_pc, *reg_cs;
static mh_reg *reg_cpsr;	/* Arm: the instruction set, at translation */
static mh_reg *reg_ttbr1, *reg_tcr;	/* aarch64: where the ASID is */
static uint64_t asid_mask;	/* the address bits of cr3 or TTBR0 */
static bool verbose;
static bool outputs;	/* folded, trace or verbose: work beyond the stacks */
static bool ret_outputs;	/* trace or verbose: rets are reported */
static int target;	/* csi_target_check(): enum csi_target, or -errno */
static char *folded_path;

/*
 * The fast paths of near calls and rets (on_call_direct, on_ret_mem): with
 * one vCPU, asid stacks, cr3 known and no outputs (folded, trace,
 * verbose), fast_stack is that vCPU's stack and fast_vcpu its state, found
 * without the vCPU table or a lock; NULL otherwise.  Set by
 * stack_of_slow(), cleared with asid_ok (asid_stale()).  A call and its
 * return cost a few loads and stores this way, about half of what the
 * general path costs on a call-heavy guest.
 */
static struct csi_stack *fast_stack;
static struct vcpu *fast_vcpu;

/*
 * rets=counted (x86, threaded stacks): a kernel's near ret carries no
 * callback, only an inline add to its vCPU's rets_pending; the next call,
 * API question, task change or state save settles them on the thread's
 * stack (settle()).  Cleared by trace and verbose; translate() gives rets
 * their callback anyway while anything handles on_ret.
 */
static bool counted_rets;
/* A ret was translated without its callback (counted_rets). */
static bool rets_skipped;
static bool rets_asked;		/* rets_wanted() asked for the flush */

static inline mh_u64 armed_entry(void)
{
	return (mh_u64){ score, offsetof(struct vcpu, armed) };
}

static inline mh_u64 rets_pending_entry(void)
{
	return (mh_u64){ score, offsetof(struct vcpu, rets_pending) };
}

static inline mh_u64 ret_from_entry(void)
{
	return (mh_u64){ score, offsetof(struct vcpu, ret_from) };
}

/*
 * Each vCPU's scoreboard element, looked up once: through the host and
 * QEMU, a lookup costs a good part of a call's whole bookkeeping.  QEMU
 * moves scoreboards only when a hot-plugged vCPU outgrows them, and it
 * flushes all translated code then: translate() runs before any new block
 * can call us, and makes a new table when the number of vCPUs changed.
 * Old tables stay until the module goes, as another vCPU may be reading
 * one.
 */
struct vcpu_table {
	unsigned int n;
	struct vcpu *v[];
};
static struct vcpu_table *vcpu_table;	/* published with release */
static GPtrArray *old_tables;		/* under table_lock */
static GMutex table_lock;

static inline struct vcpu *vcpu_of(unsigned int vcpu_index)
{
	const struct vcpu_table *t = __atomic_load_n(&vcpu_table,
						     __ATOMIC_ACQUIRE);

	if (t && vcpu_index < t->n)
		return t->v[vcpu_index];
	return csi_mh->scoreboard_find(score, vcpu_index);
}

struct vcpu *csi_vcpu_of(unsigned int vcpu_index)
{
	return vcpu_of(vcpu_index);
}

/* @v pushed onto @s: the deepest stack it has seen. */
static inline void note_depth(struct vcpu *v, const struct csi_stack *s)
{
	if (s->depth > v->max_depth)
		v->max_depth = s->depth;
}

void csi_stats_total(struct csi_stats *out)
{
	unsigned int n = csi_mh->num_vcpus();

	*out = csi_stats;
	for (unsigned int i = 0; i < n; i++) {
		const struct vcpu *v = vcpu_of(i);

		if (!v)
			continue;
		out->calls += v->calls;
		out->rets += v->rets;
		out->frames_popped += v->popped;
		out->max_depth = MAX(out->max_depth, v->max_depth);
	}
}

static void vcpu_table_update(void)
{
	unsigned int n = csi_mh->num_vcpus();
	struct vcpu_table *t = __atomic_load_n(&vcpu_table, __ATOMIC_ACQUIRE);

	if ((t && t->n == n) || !n)
		return;
	g_mutex_lock(&table_lock);
	t = vcpu_table;
	if (!t || t->n != n) {
		struct vcpu_table *nt = g_malloc(sizeof(*nt) +
						 n * sizeof(nt->v[0]));

		nt->n = n;
		for (unsigned int i = 0; i < n; i++)
			nt->v[i] = csi_mh->scoreboard_find(score, i);
		if (t)
			g_ptr_array_add(old_tables, t);
		__atomic_store_n(&vcpu_table, nt, __ATOMIC_RELEASE);
		/* fast_vcpu may be in the old scoreboard. */
		fast_stack = NULL;
	}
	g_mutex_unlock(&table_lock);
}

static void vcpu_table_free(void)
{
	fast_stack = NULL;
	g_clear_pointer(&vcpu_table, g_free);
	g_clear_pointer(&old_tables, g_ptr_array_unref);
}

/* Only valid in callbacks registered with MH_CB_R_REGS. */
static inline uint64_t read_reg(const mh_reg *reg)
{
	uint64_t v = 0;

	csi_mh->reg_read(reg, &v, sizeof(v));
	return v;
}

/*
 * qemu-system-x86_64 names the registers rsp/rip even for 32-bit code;
 * qemu-system-i386 (which gdb needs for 32-bit guests) names them
 * esp/eip.  The first read that fails switches to the other name.
 */
static uint64_t read_named(mh_reg **reg, const char *other)
{
	uint64_t v = 0;

	if (csi_mh->reg_read(*reg, &v, sizeof(v)) == -ENOENT) {
		*reg = csi_mh->reg_lookup(other);
		csi_mh->reg_read(*reg, &v, sizeof(v));
	}
	return v;
}

static inline uint64_t read_sp(void)
{
	return read_named(&reg_sp, "esp");
}

static inline uint64_t read_pc(void)
{
	return read_named(&reg_pc, "eip");
}

/*
 * The address space: cr3 without its PCID and cache-control bits; on
 * aarch64 TTBR0_EL1's table (the user half, switched with the process)
 * with the process's ASID (csi_a64_asid()); on arm TTBR0 without its ASID
 * and attribute bits.
 */
static inline uint64_t read_asid(void)
{
	if (target == CSI_TARGET_A64)
		return csi_a64_asid(read_reg(reg_cr3), read_reg(reg_ttbr1),
				    read_reg(reg_tcr));
	return read_reg(reg_cr3) & asid_mask;
}

/*
 * The stack in use on this vCPU now; sp selects heuristic stacks.
 *
 * cr3 is read again only after an instruction that may load it: a mov to
 * cr3 or a task switch (decode.c).  QEMU ends a block after each of them,
 * so they are always a block's last instruction, which the translator
 * classifies anyway; their callback only clears asid_ok.  This halves the
 * register reads of a call and its return.
 */
static struct csi_stack *stack_of_slow(struct vcpu *v, uint64_t sp)
{
	/* Threaded: the thread's stack until the next task change. */
	if (csi_stack_kind == CS_STACK_THREADED) {
		v->cur = csi_thread_stack(v);
		v->asid_ok = 1;
		return v->cur;
	}
	if (!v->asid_ok) {
		uint64_t asid = read_asid();

		if (asid != v->cur_asid)
			v->cur = NULL;
		v->cur_asid = asid;
		v->asid_ok = 1;
	}
	if (csi_stack_kind != CS_STACK_ASID || !v->cur)
		v->cur = csi_stack_get(v->cur_asid, sp);
	/* Every x86 vCPU exists before the first block runs. */
	if (!csi_vcpus)
		csi_vcpus = csi_mh->num_vcpus();
	if (csi_stack_kind == CS_STACK_ASID && csi_vcpus <= 1 && !outputs) {
		fast_vcpu = v;
		fast_stack = v->cur;
	}
	return v->cur;
}

static inline struct csi_stack *stack_of(struct vcpu *v, uint64_t sp)
{
	if (v->asid_ok && v->cur && csi_stack_kind != CS_STACK_HEURISTIC)
		return v->cur;
	return stack_of_slow(v, sp);
}

/*
 * The next event reads cr3 again: it may have changed.  Threaded stacks
 * follow the thread, which only on_task_change changes: a Linux boot's
 * 100,000 irets would each look the thread's stack up again, under the
 * stack table's lock.
 */
static inline bool asid_matters(void)
{
	return csi_stack_kind != CS_STACK_THREADED;
}

static inline void asid_stale(struct vcpu *v)
{
	if (!asid_matters())
		return;
	v->asid_ok = 0;
	/*
	 * Written only when set (one vCPU): its line, which every call and
	 * return reads, would otherwise move between the vCPUs' caches at
	 * every iret.
	 */
	if (fast_stack)
		fast_stack = NULL;
}

/* -- vCPU callbacks --------------------------------------------------------- */

/* A pending call or ret that another event replaces never completed. */
static void supersede(struct vcpu *v)
{
	if (v->kind == PEND_CALL)
		csi_stats.unresolved++;
	else if ((v->armed & 3) == ARM_RET)
		csi_stats.unmatched_rets++;
}

/*
 * Run @pt's handlers.  Meanwhile the API answers from @s and @pc (where
 * the guest is headed) instead of the registers: the memory callbacks
 * that run most handlers cannot read registers that are still being
 * updated by the instruction.
 */
static void run_handlers(struct vcpu *v, const struct mh_ppp_point *pt,
			 unsigned int vcpu, struct csi_stack *s, uint64_t pc,
			 uint64_t func)
{
	const struct mh_ppp_handlers *h = mh_ppp_handlers(pt);

	if (!h->n)
		return;
	v->hstack = s;
	v->hpc = pc;
	for (uint32_t i = 0; i < h->n; i++)
		((on_call_t)h->fn[i])(mh_cpu_of(vcpu), func);
	v->hstack = NULL;
}

/* The trace and the debug log of a call. */
static void __attribute__((noinline))
enter_report(unsigned int vcpu, struct csi_stack *s, struct csi_frame *f)
{
	if (csi_trace_on())
		csi_trace_event("call", vcpu, s, s->depth, f->func, f->ret);
	if (verbose)
		csi_mh->log(csi_self, MH_LOG_DEBUG, "call 0x%" PRIx64
			    " ret 0x%" PRIx64 " depth %u", f->func, f->ret,
			    s->depth);
}

/* @f, on top of @s, is @func's frame: complete it, run on_call.  Lock held. */
static inline void enter_locked(struct vcpu *v, unsigned int vcpu,
				struct csi_stack *s, struct csi_frame *f,
				uint64_t func)
{
	f->func = func;
	v->calls++;
	/* Folded stacks: the node of this path, counted. */
	if (csi_folded_on) {
		if (__builtin_expect(!v->counts, 0))
			v->counts = csi_counts_new();
		if (s->depth > 1) {
			struct csi_frame *up = csi_frame_at(s, 1);

			f->node = csi_node_child_kid(v->counts, up->node, func,
						     &up->kid);
		} else {
			f->node = csi_node_child(v->counts, 0, func);
		}
	}
	if (ret_outputs)
		enter_report(vcpu, s, f);
	run_handlers(v, pt_on_call, vcpu, s, func, func);
}

/*
 * Pop the top @n frames of @s, innermost first, each with its on_ret; the
 * guest continues at @to.  A pending call whose frame goes with them will
 * never be completed.  Lock held.
 */
/* Does anything report where rets go (on_ret handlers, trace, verbose)? */
static inline bool rets_reported(void)
{
	return ret_outputs || mh_ppp_handlers(pt_on_ret)->n;
}

static void __attribute__((noinline))
pop_report(struct vcpu *v, unsigned int vcpu, struct csi_stack *s,
	   uint32_t n, uint64_t to)
{
	while (n--) {
		struct csi_frame *f = csi_frame_at(s, 0);

		/* Handlers see the frame on top, as at its on_call. */
		if (f->func) {
			if (csi_trace_on())
				csi_trace_event("ret", vcpu, s, s->depth,
						f->func, f->ret);
			if (verbose)
				csi_mh->log(csi_self, MH_LOG_DEBUG,
					    "ret 0x%" PRIx64 " to 0x%" PRIx64
					    " depth %u", f->func, to, s->depth);
			run_handlers(v, pt_on_ret, vcpu, s, to, f->func);
		}
		s->depth--;
	}
}

static inline void pop_locked(struct vcpu *v, unsigned int vcpu,
			      struct csi_stack *s, uint32_t n, uint64_t to)
{
	v->rets++;
	v->popped += n;
	if (rets_reported())
		pop_report(v, vcpu, s, n, to);
	else
		s->depth -= n;
	if (v->kind == PEND_CALL && v->stack == s && s->depth < v->call_depth) {
		csi_stats.unresolved++;
		v->kind = PEND_NONE;
		v->armed = 0;
		v->misses = 0;
	}
}

/*
 * A frame's block: 16 KiB, aligned, as a Linux kernel stack.  Frames in
 * another block than the stack pointer are on another stack.  A frame's
 * sp may be its block's end, so sp - 1 is compared.
 */
#define SETTLE_BLOCK 16384ull

static inline bool same_block(uint64_t a, uint64_t b)
{
	return ((a - 1) ^ (b - 1)) < SETTLE_BLOCK;
}

/*
 * rets=counted: drop the translated code once on_ret has handlers while
 * blocks whose rets have no callback may still run.  Every vCPU stopped
 * here: the blocks translated from now on follow the handlers' presence,
 * and handlers that come again after they went ask again.
 */
static void rets_flushed(mh_module *self, void *opaque)
{
	(void)self;
	(void)opaque;
	rets_skipped = rets_asked = false;
}

static void __attribute__((noinline)) rets_wanted(void)
{
	if (!__atomic_exchange_n(&rets_asked, true, __ATOMIC_RELAXED))
		csi_mh->run_stopped(csi_self, rets_flushed, NULL);
}

/*
 * Settle @v's counted rets on @s: each popped the top frame.  Then, with
 * the guest's stack pointer @sp (~0: unknown), the frames whose calls
 * started at or below it, on the same stack, have returned too: a
 * longjmp, or a ret that popped two frames' worth, went past them.
 * Lock held.
 */
static void __attribute__((noinline))
settle_slow(struct vcpu *v, unsigned int vcpu, struct csi_stack *s,
	    uint64_t sp)
{
	uint64_t n = v->rets_pending;
	uint32_t m = MIN(n, s->depth), k = m;

	v->rets_pending = 0;
	/*
	 * Only when there are some: csi_stats is shared by the vCPUs, and a
	 * store at every settle (every call) took its line, with the globals
	 * beside it, from the other vCPU each time.
	 */
	if (n > m)
		csi_stats.unmatched_rets += n - m;
	while (sp != ~0ull && k < s->depth) {
		uint64_t fsp = csi_frame_at(s, k)->sp;

		if (!same_block(fsp, sp) || sp < fsp)
			break;
		k++;
	}
	/* m rets, and one more for the frames the stack pointer ended */
	if (k) {
		pop_locked(v, vcpu, s, k, csi_frame_at(s, k - 1)->ret);
		v->rets += m + (k > m) - 1;	/* pop_locked() counted one */
	}
	if (__builtin_expect(rets_skipped, 0) && mh_ppp_handlers(pt_on_ret)->n)
		rets_wanted();
}

/* settle_slow() when there is something to settle: the usual check inline. */
static inline void settle(struct vcpu *v, unsigned int vcpu,
			  struct csi_stack *s, uint64_t sp)
{
	/* Arm calls push nothing: the stack pointer tells nothing there. */
	if (!counted_rets || target != CSI_TARGET_X86)
		return;
	if (v->rets_pending ||
	    (s->depth && same_block(csi_frame_at(s, 0)->sp, sp) &&
	     sp >= csi_frame_at(s, 0)->sp))
		settle_slow(v, vcpu, s, sp);
}

/*
 * The vCPU leaves its thread (a task change, or a state save): its
 * counted rets were made on that thread's stack.
 */
void csi_rets_settle(struct vcpu *v, unsigned int vcpu)
{
	struct csi_stack *s;
	bool locked;

	if (!v->rets_pending)
		return;
	s = csi_thread_stack(v);
	locked = csi_lock(s);
	settle_slow(v, vcpu, s, ~0ull);
	csi_unlock(s, locked);
}

/*
 * Push the frame of a call made at stack pointer @sp whose callee is not
 * known yet, and arm: the first block that runs with the stack pointer
 * the call left completes it (on_block).  The same call seen again while
 * still pending (same return address, stack pointer and depth) faulted
 * and was retried: it stays one frame.
 */
static void push_pending(struct vcpu *v, unsigned int vcpu,
			 const struct csi_call_site *site, uint64_t sp)
{
	uint64_t mask = csi_sp_mask(site->mode);
	struct csi_stack *s = stack_of(v, sp);
	bool locked = csi_lock(s);

	if (site->mode != 16)
		settle(v, vcpu, s, sp);
	if (v->kind == PEND_CALL && v->stack == s && v->call_ret == site->ret &&
	    v->call_sp == sp && s->depth == v->call_depth) {
		csi_stats.restarts++;
	} else {
		supersede(v);
		csi_push_locked(s, site->ret, sp);
		note_depth(v, s);
		v->stack = s;
		v->kind = PEND_CALL;
		v->call_ret = site->ret;
		v->call_sp = sp;
		v->call_depth = s->depth;
	}
	csi_unlock(s, locked);
	v->call_target = site->target;
	v->sp_mask = mask;
	v->expect_sp = (sp - site->push) & mask;
	v->misses = 0;
	v->armed = ARM_CALL;
}

/*
 * 16-bit code and far calls, before the instruction: segment bases count
 * there, so the stack pointer comes from the register.
 */
static void on_call_insn(unsigned int vcpu, void *udata)
{
	const struct csi_call_site *site = udata;
	struct vcpu *v = vcpu_of(vcpu);

	push_pending(v, vcpu, site, read_sp());
	/* A far call may switch tasks: the callee reads cr3 again. */
	if (site->asid_change)
		asid_stale(v);
}

/*
 * A near call in 32/64-bit code, after its push succeeded (a push that
 * faults calls nothing): @slot, where the return address went, is the
 * stack pointer the call leaves.  Flat segments: the linear address is
 * the stack pointer.  A frame keeps the stack pointer before the call.
 */
static inline uint64_t sp_before(uint64_t slot, const struct csi_call_site *site)
{
	return (slot + site->push) & csi_sp_mask(site->mode);
}

static void __attribute__((noinline))
call_direct_slow(unsigned int vcpu, const struct csi_call_site *site,
		 uint64_t sp)
{
	struct vcpu *v = vcpu_of(vcpu);
	struct csi_stack *s = stack_of(v, sp);
	bool locked = csi_lock(s);
	struct csi_frame *f;

	settle(v, vcpu, s, sp);
	f = csi_push_locked(s, site->ret, sp);
	note_depth(v, s);
	enter_locked(v, vcpu, s, f, site->target);
	csi_unlock(s, locked);
}

/*
 * A direct call: the callee is its target, the frame is complete at once.
 * The usual case (fast_stack, room on the stack, no on_call handler) is
 * call_direct_slow() cut down to the stores it makes.  @sp is the stack
 * pointer before the call; the callbacks below compute it with the push
 * size and mask of their mode as constants.
 */
static inline __attribute__((always_inline)) void
call_direct(unsigned int vcpu, const struct csi_call_site *site, uint64_t sp)
{
	struct csi_stack *s = fast_stack;

	if (__builtin_expect(s && s->depth < csi_max_depth &&
			     !mh_ppp_handlers(pt_on_call)->n, 1)) {
		struct csi_frame *f = &s->frames[(s->base + s->depth) &
						 csi_ring_mask];

		f->ret = site->ret;
		f->func = site->target;
		f->sp = sp;
		f->node = 0;
		s->depth++;
		fast_vcpu->calls++;
		note_depth(fast_vcpu, s);
		return;
	}
	call_direct_slow(vcpu, site, sp);
}

static void on_call_direct(unsigned int vcpu, uint32_t info, uint64_t slot,
			   void *udata)
{
	(void)info;
	call_direct(vcpu, udata, sp_before(slot, udata));
}

/*
 * A near direct call whose return address and target both fit in 32 bits
 * (32-bit code; in 64-bit code, as sign-extended values: a kernel linked
 * in the top 2 GiB, a program in the bottom 2 GiB) carries them in its
 * user data instead of a pointer to its interned call site: the site was
 * a cache miss of its own on most calls of a Linux boot, which has tens
 * of thousands of call sites.
 */
static inline bool call_packable(const struct csi_insn_class *c)
{
	if (c->mode == 32)
		return c->push == 4 && c->next <= UINT32_MAX;
	return c->mode == 64 && c->push == 8 &&
	       (uint64_t)(int64_t)(int32_t)c->next == c->next &&
	       (uint64_t)(int64_t)(int32_t)c->target == c->target;
}

static inline void *call_pack(const struct csi_insn_class *c)
{
	return (void *)(uintptr_t)((uint32_t)c->next |
				   (uint64_t)(uint32_t)c->target << 32);
}

/* A 32-bit near call, packed: pushes 4 bytes, 32-bit stack pointer. */
static void on_call_direct32(unsigned int vcpu, uint32_t info, uint64_t slot,
			     void *udata)
{
	uint64_t u = (uintptr_t)udata;
	const struct csi_call_site site = {
		.ret = (uint32_t)u, .target = u >> 32, .push = 4, .mode = 32,
	};

	(void)info;
	call_direct(vcpu, &site, (slot + 4) & 0xffffffffull);
}

/* A 64-bit near call, packed: pushes 8 bytes. */
static void on_call_direct64(unsigned int vcpu, uint32_t info, uint64_t slot,
			     void *udata)
{
	uint64_t u = (uintptr_t)udata;
	const struct csi_call_site site = {
		.ret = (uint64_t)(int64_t)(int32_t)u,
		.target = (uint64_t)(int64_t)(int32_t)(u >> 32),
		.push = 8, .mode = 64,
	};

	(void)info;
	call_direct(vcpu, &site, slot + 8);
}

/*
 * Before an indirect near call in 32/64-bit code: read its target where
 * the operand says (registers and memory as the call will find them).
 * The call's memory callback, after its push, completes the frame with
 * it.  A call that faults runs this again when it is retried.
 */
static void on_call_target(unsigned int vcpu, void *udata)
{
	const struct csi_call_site *site = udata;
	struct vcpu *v = vcpu_of(vcpu);

	v->ind_site = csi_operand_value(&site->op, &v->ind_target) ? site :
		      NULL;
}

/*
 * An indirect near call, after its push: with the target read before it,
 * the frame is complete at once, as a direct call's.  Else (an operand it
 * cannot follow) the callee's first block completes it: the pending path.
 */
static void on_call_indirect(unsigned int vcpu, uint32_t info, uint64_t slot,
			     void *udata)
{
	const struct csi_call_site *site = udata;
	struct vcpu *v = vcpu_of(vcpu);
	struct csi_call_site known;

	(void)info;
	if (v->ind_site != site) {
		push_pending(v, vcpu, site, sp_before(slot, site));
		return;
	}
	v->ind_site = NULL;
	/* As on the pending path, the call replaces what was armed. */
	if (v->armed) {
		supersede(v);
		v->kind = PEND_NONE;
		v->armed = 0;
		v->misses = 0;
	}
	known = *site;
	known.target = v->ind_target;
	call_direct(vcpu, &known, sp_before(slot, site));
}

/* User data of a near ret's memory callback: the bytes it pops, the mode. */
static inline void *ret_udata(unsigned int push, unsigned int mode)
{
	return (void *)(uintptr_t)(push | mode << 8);
}

/*
 * A near ret in 32/64-bit code, after it loaded its return address from
 * the slot below @sp.  The frame it returns from is the one whose call
 * pushed to that slot: the top frame, whatever the slot holds now (a
 * retpoline thunk returns through its own frame to another address:
 * "redirected"), or else the innermost frame whose slot and return address both match
 * (frames above it were left by a longjmp or a get-PC call).  That frame
 * and every frame above it are popped.
 *
 * The value loaded is read only when it is needed: reading it costs a
 * quarter of what the module adds to a call and its return.  So the
 * common case, a ret through the top frame's slot, reads it only when
 * something reports rets, and only then counts redirected rets.
 */
static void __attribute__((noinline))
ret_slow(unsigned int vcpu, uint32_t info, uint64_t sp)
{
	struct vcpu *v = vcpu_of(vcpu);
	struct csi_stack *s = stack_of(v, sp);
	bool locked = csi_lock(s);
	uint64_t to = 0;
	uint32_t i = 0;

	/*
	 * rets=counted: the kernel's counted rets go first (this ret is
	 * user code's, or one translated after on_ret got handlers).
	 */
	if (v->rets_pending)
		settle_slow(v, vcpu, s, ~0ull);

	if (s->depth && csi_frame_at(s, 0)->sp == sp) {
		if (rets_reported()) {
			to = csi_mh->mem_value(info);
			if (csi_frame_at(s, 0)->ret != to)
				csi_stats.redirected++;
		}
	} else {
		to = csi_mh->mem_value(info);
		for (i = 1; i < s->depth; i++) {
			struct csi_frame *f = csi_frame_at(s, i);

			if (f->sp == sp && f->ret == to)
				break;
		}
		if (i >= s->depth) {
			/* A ret used as a jump, or frames lost to max_depth. */
			csi_stats.unmatched_rets++;
			csi_unlock(s, locked);
			return;
		}
	}
	pop_locked(v, vcpu, s, i + 1, to);
	csi_unlock(s, locked);
}

/*
 * A near ret whose load left the stack pointer at @sp (the stack pointer
 * before the call that pushed the slot); the usual case (fast_stack, the
 * top frame's slot, no call pending, no on_ret handler) is ret_slow() cut
 * down to the pop.  The callbacks below compute @sp with the pop size and
 * mask of their mode as constants.
 */
static inline __attribute__((always_inline)) void
ret_near(unsigned int vcpu, uint32_t info, uint64_t sp)
{
	struct csi_stack *s = fast_stack;

	if (__builtin_expect(s && s->depth && fast_vcpu->kind != PEND_CALL &&
			     csi_frame_at(s, 0)->sp == sp &&
			     !mh_ppp_handlers(pt_on_ret)->n, 1)) {
		s->depth--;
		fast_vcpu->rets++;
		fast_vcpu->popped++;
		return;
	}
	ret_slow(vcpu, info, sp);
}

static void on_ret_mem(unsigned int vcpu, uint32_t info, uint64_t slot,
		       void *udata)
{
	uintptr_t u = (uintptr_t)udata;

	ret_near(vcpu, info, (slot + (u & 0xff)) & csi_sp_mask(u >> 8));
}

/* A 32-bit near ret: pops 4 bytes, 32-bit stack pointer. */
static void on_ret_mem32(unsigned int vcpu, uint32_t info, uint64_t slot,
			 void *udata)
{
	(void)udata;
	ret_near(vcpu, info, (slot + 4) & 0xffffffffull);
}

/* A 64-bit near ret: pops 8 bytes. */
static void on_ret_mem64(unsigned int vcpu, uint32_t info, uint64_t slot,
			 void *udata)
{
	(void)udata;
	ret_near(vcpu, info, slot + 8);
}

static void on_asid_insn(unsigned int vcpu, void *udata)
{
	(void)udata;
	asid_stale(vcpu_of(vcpu));
}

/* The callee's first block of a pending call: complete the frame. */
static void enter(struct vcpu *v, unsigned int vcpu, uint64_t func)
{
	struct csi_stack *s = v->stack;
	bool locked = csi_lock(s);
	struct csi_frame *f;

	f = s->depth == v->call_depth ? csi_frame_at(s, 0) : NULL;
	if (!f || f->ret != v->call_ret || f->sp != v->call_sp || f->func) {
		/* Another vCPU on the same stack moved it meanwhile. */
		csi_stats.unresolved++;
	} else {
		enter_locked(v, vcpu, s, f, func);
	}
	csi_unlock(s, locked);
}

/*
 * A far or 16-bit ret landed on @target: the innermost frame whose return
 * address is @target and whose call left sp where the ret put it back
 * (call-time sp + imm16, masked with @mask) is popped, with every frame
 * above it.  The usual case, a return to the top frame, needs no register
 * read; anything else reads sp (*@sp, read once, ~0 until then; a caller
 * before the ret gives the sp it will leave).  False if no frame fits.
 */
static bool leave(struct vcpu *v, unsigned int vcpu, uint64_t target,
		  uint64_t *sp, uint64_t imm, uint64_t mask)
{
	struct csi_stack *s = v->cur;
	uint32_t i = 0;
	bool locked;

	if (!v->asid_ok || !s || csi_stack_kind != CS_STACK_ASID) {
		if (*sp == ~0ull)
			*sp = read_sp();
		s = stack_of(v, *sp);
	}
	locked = csi_lock(s);
	if (!s->depth || csi_frame_at(s, 0)->ret != target) {
		if (*sp == ~0ull)
			*sp = read_sp();
		for (i = 0; i < s->depth; i++) {
			struct csi_frame *f = csi_frame_at(s, i);

			if (f->ret == target &&
			    ((f->sp + imm) & mask) == (*sp & mask))
				break;
		}
		if (i == s->depth) {
			csi_unlock(s, locked);
			return false;
		}
	}
	pop_locked(v, vcpu, s, i + 1, target);
	csi_unlock(s, locked);
	return true;
}


/*
 * Far calls and rets in long mode, 64-bit or compatibility code, before
 * the instruction.  Blocks there carry no per-block callback (translate()),
 * so no later block would settle what these armed: they are settled here,
 * with the target read from the instruction's operand or the stack (code
 * segments flat).  What cannot be read falls back to arming (the block it
 * lands on then does not look).
 */
static void on_call_far_lm(unsigned int vcpu, void *udata)
{
	const struct csi_call_site *site = udata;
	struct vcpu *v = vcpu_of(vcpu);
	uint64_t target;

	push_pending(v, vcpu, site, read_sp());
	if (site->asid_change)
		asid_stale(v);
	if (!csi_operand_value(&site->op, &target))
		return;
	v->armed = 0;
	v->kind = PEND_NONE;
	v->misses = 0;
	enter(v, vcpu, target);
}

static void on_ret_far_lm(unsigned int vcpu, void *udata)
{
	const struct csi_call_site *site = udata;
	struct vcpu *v = vcpu_of(vcpu);
	uint64_t sp = read_sp(), mask = csi_sp_mask(site->mode), to = 0;

	/* The offset, then the selector: push / 2 bytes each. */
	if (csi_mh->mem_read(sp & mask, &to, site->push / 2)) {
		v->armed = arm_ret_value(site->imm, site->mode);
		return;
	}
	to = GUINT64_FROM_LE(to);
	/* As the block it lands on would: it replaced what was armed. */
	if (v->kind == PEND_CALL)
		csi_stats.unresolved++;
	v->kind = PEND_NONE;
	v->armed = 0;
	v->misses = 0;
	sp = (sp + site->push + site->imm) & mask;
	if (!leave(v, vcpu, to, &sp, site->imm, mask))
		csi_stats.unmatched_rets++;
}

/* -- Arm ------------------------------------------------------------------- */

/*
 * On Arm a call pushes nothing: bl and blx put the return address in the
 * link register, and a leaf function may return without ever storing it.
 * So there is no slot to watch and a frame is (return address, callee):
 * a call is seen by a callback before it (the callee is its immediate, or
 * the register read there), and a return arms the vCPU with an inline
 * store; the block it lands on pops the innermost frame whose return
 * address that block is, with every frame above it (arm_leave()).
 * Heuristic stacks keep the stack pointer at the call too; asid stacks
 * need none, and a direct call then reads no register at all.
 */
static inline uint64_t arm_sp(void)
{
	return csi_stack_kind == CS_STACK_ASID ? 0 : read_sp();
}

/* Thumb code's addresses are even: bit 0 of a branch target says Thumb. */
static inline uint64_t arm_target(const struct csi_call_site *site)
{
	if (!site->treg)
		return site->target;
	return read_reg(site->treg) & (site->mode == 32 ? ~1ull : ~0ull);
}

/* bl: the callee is known; its frame is complete before it runs. */
static void on_call_arm(unsigned int vcpu, void *udata)
{
	call_direct(vcpu, udata, arm_sp());
}

/* blr, blx REG: the callee is in the register, read before the call. */
static void on_call_arm_reg(unsigned int vcpu, void *udata)
{
	struct csi_call_site site = *(const struct csi_call_site *)udata;

	site.target = arm_target(udata);
	call_direct(vcpu, &site, arm_sp());
}

/*
 * A conditional call (blne, or a bl in a Thumb IT block): the callback
 * runs whether or not the condition holds, so the frame waits for the
 * next block: the callee's entry completes it, the instruction after the
 * call drops it (on_block()).
 */
static void on_call_arm_cond(unsigned int vcpu, void *udata)
{
	struct csi_call_site site = *(const struct csi_call_site *)udata;

	site.target = arm_target(udata);
	push_pending(vcpu_of(vcpu), vcpu, &site, arm_sp());
}

/* A return landed on @to: pop down to the innermost frame returning there. */
static bool arm_leave(struct vcpu *v, unsigned int vcpu, uint64_t to)
{
	struct csi_stack *s = fast_stack;
	uint32_t i;
	bool locked;

	if (s && s->depth && csi_frame_at(s, 0)->ret == to &&
	    !rets_reported()) {
		s->depth--;
		fast_vcpu->rets++;
		fast_vcpu->popped++;
		return true;
	}
	s = stack_of(v, arm_sp());
	locked = csi_lock(s);
	for (i = 0; i < s->depth; i++)
		if (csi_frame_at(s, i)->ret == to)
			break;
	if (i == s->depth) {
		csi_unlock(s, locked);
		return false;
	}
	pop_locked(v, vcpu, s, i + 1, to);
	csi_unlock(s, locked);
	return true;
}

/* A conditional call was not taken: its frame goes, uncounted. */
static void arm_drop(struct vcpu *v)
{
	struct csi_stack *s = v->stack;
	bool locked = csi_lock(s);

	if (s->depth == v->call_depth && !csi_frame_at(s, 0)->func &&
	    csi_frame_at(s, 0)->ret == v->call_ret)
		s->depth--;
	csi_unlock(s, locked);
}

/*
 * on_block() on Arm, armed by a return or a conditional call: true when
 * the block at @addr settled it.  Otherwise (an exception taken first,
 * a return used as a jump) the vCPU stays armed, as on x86.
 */
static bool arm_block(struct vcpu *v, unsigned int vcpu, uint64_t addr)
{
	if ((v->armed & 3) == ARM_RET) {
		if (v->kind == PEND_CALL)
			csi_stats.unresolved++;
		v->kind = PEND_NONE;
		if (((v->armed & ARM_RET_COND) && addr == v->ret_from) ||
		    arm_leave(v, vcpu, addr))
			goto done;
		return false;
	}
	if (v->kind != PEND_CALL)
		goto done;
	if (addr == v->call_target) {
		v->kind = PEND_NONE;
		enter(v, vcpu, addr);
	} else if (addr == v->call_ret) {
		v->kind = PEND_NONE;
		arm_drop(v);
	} else {
		return false;
	}
done:
	v->armed = 0;
	v->misses = 0;
	return true;
}

/*
 * The instruction set of the block being translated: A64, or CPSR.T
 * (AArch32 state on aarch64: CPSR.nRW); false if cpsr cannot be read,
 * and then nothing is decoded (said once).
 */
static bool arm_isa(enum csi_isa *isa)
{
	uint32_t cpsr = 0;

	if (csi_mh->reg_read(reg_cpsr, &cpsr, sizeof(cpsr)) < 0) {
		static gsize said;

		if (g_once_init_enter(&said)) {
			csi_mh->log(csi_self, MH_LOG_ERROR, "cpsr cannot be "
				    "read while translating: Arm code is not "
				    "decoded, no call is seen");
			g_once_init_leave(&said, 1);
		}
		return false;
	}
	if (target == CSI_TARGET_A64 && !(cpsr & 0x10))
		*isa = CSI_ISA_A64;
	else
		*isa = cpsr & 0x20 ? CSI_ISA_T32 : CSI_ISA_A32;
	return true;
}

static void translate_arm(mh_tb *tb)
{
	struct csi_insn_class c;
	enum csi_isa isa;
	mh_insn *last;
	mh_reg *treg = NULL;
	mh_vcpu_udata_cb cb;

	if (!arm_isa(&isa) || !csi_classify_arm(tb, isa, &c))
		return;
	last = csi_mh->tb_insn(tb, csi_mh->tb_n_insns(tb) - 1);
	if (c.kind == CSI_CALL) {
		if (c.treg) {
			treg = csi_mh->reg_lookup(c.treg);
			if (!treg)
				return;
		}
		cb = c.cond ? on_call_arm_cond : treg ? on_call_arm_reg :
		     on_call_arm;
		csi_mh->insn_exec_cb(last, cb, MH_CB_R_REGS,
				     (void *)csi_call_site(&c, treg));
	} else if (c.kind == CSI_RET) {
		csi_mh->insn_exec_inline(last, MH_INLINE_STORE_U64,
					 armed_entry(), ARM_RET |
					 (c.cond ? ARM_RET_COND : 0));
		if (c.cond)
			csi_mh->insn_exec_inline(last, MH_INLINE_STORE_U64,
						 ret_from_entry(), c.next);
	} else if (c.asid_change && asid_matters()) {
		csi_mh->insn_exec_cb(last, on_asid_insn, MH_CB_NO_REGS, NULL);
	}
}

/*
 * Every block, while its vCPU is armed (by an indirect, far or 16-bit
 * call, or a far or 16-bit ret).  A block that does not fit (an interrupt
 * or fault handler taken first, or a ret used as a jump) leaves the vCPU
 * armed, until a block fits, the next such call or ret replaces the
 * pending one, or MISS_LIMIT blocks have run.
 */
static void on_block(unsigned int vcpu, void *udata)
{
	struct vcpu *v = vcpu_of(vcpu);
	uint64_t addr = (uintptr_t)udata, sp = ~0ull;

	if (target != CSI_TARGET_X86) {
		if (arm_block(v, vcpu, addr))
			return;
		goto miss;
	}
	if ((v->armed & 3) == ARM_RET) {
		/* A ret's inline store replaced any call still pending. */
		if (v->kind == PEND_CALL)
			csi_stats.unresolved++;
		v->kind = PEND_NONE;
		if (leave(v, vcpu, addr, &sp, v->armed >> 8,
			  csi_sp_mask(csi_udata_mode((void *)(uintptr_t)v->armed,
						     2)))) {
			v->armed = 0;
			v->misses = 0;
			return;
		}
	} else if (v->kind == PEND_CALL) {
		/* A direct call's target is known: no need to read sp. */
		if (!(v->call_target && addr == v->call_target)) {
			sp = read_sp();
			if ((sp & v->sp_mask) != v->expect_sp)
				goto miss;
		}
		v->armed = 0;
		v->kind = PEND_NONE;
		v->misses = 0;
		enter(v, vcpu, addr);
		return;
	} else {
		v->armed = 0;	/* nothing pending */
		return;
	}
miss:
	if (++v->misses >= MISS_LIMIT) {
		if (v->kind == PEND_CALL)
			csi_stats.unresolved++;
		else
			csi_stats.unmatched_rets++;
		v->armed = 0;
		v->kind = PEND_NONE;
		v->misses = 0;
	}
}

/*
 * csi_target_check()'s view of the registers.  Before the first vCPU
 * exists the host knows no register yet, and every read says -ENOENT.
 * A read of a register the target has runs on a vCPU thread: init runs in
 * the host's quiesce, translate() during translation.
 */
static int has_reg(const char *name, void *opaque)
{
	uint64_t v;

	(void)opaque;
	if (!csi_mh->num_vcpus())
		return -EAGAIN;
	return csi_mh->reg_read(csi_mh->reg_lookup(name), &v, sizeof(v)) ==
	       -ENOENT ? -ENOENT : 0;
}

static void log_not_x86(enum mh_log_level level, const char *what)
{
	csi_mh->log(csi_self, level, "neither an x86 nor an Arm guest (no "
		    "rsp/esp and cr3, nor x30 or lr with sp and cpsr): "
		    "callstack_instr follows x86, aarch64 and arm calls only%s",
		    what);
}

/* The registers of the target: stack pointer, pc, address space, mode. */
static void target_regs(void)
{
	static const struct {
		const char *sp, *pc, *asid, *mode;
		uint64_t asid_mask;
	} regs[] = {
		[CSI_TARGET_X86] = { "rsp", "rip", "cr3", "cs", ~0xfffull },
		/* TTBR0_EL1: the mask is csi_a64_asid()'s, which adds the ASID */
		[CSI_TARGET_A64] = { "sp", "pc", "TTBR0_EL1", "cpsr",
				     0x0000fffffffffffeull },
		/* TTBR0, 64-bit format: ASID 55..48, attributes 6..0 */
		[CSI_TARGET_ARM] = { "sp", "pc", "TTBR0", "cpsr",
				     0x0000ffffffffff80ull },
	};

	reg_sp = csi_mh->reg_lookup(regs[target].sp);
	reg_pc = csi_mh->reg_lookup(regs[target].pc);
	reg_cr3 = csi_mh->reg_lookup(regs[target].asid);
	reg_cs = csi_mh->reg_lookup(regs[target].mode);
	reg_cpsr = target == CSI_TARGET_X86 ? NULL : reg_cs;
	asid_mask = regs[target].asid_mask;
	reg_ttbr1 = reg_tcr = NULL;
	if (target == CSI_TARGET_A64) {
		reg_ttbr1 = csi_mh->reg_lookup("TTBR1_EL1");
		reg_tcr = csi_mh->reg_lookup("TCR_EL1");
	}
}

/*
 * Loaded before any vCPU existed (load= at start), init could not tell
 * the target: the first block does.  Too late to refuse the load, so on
 * another target it says so once and instruments nothing.
 */
static bool __attribute__((noinline)) target_known(void)
{
	if (target == -EAGAIN) {
		target = csi_target_check(has_reg, NULL);
		if (target == -ENOTSUP)
			log_not_x86(MH_LOG_ERROR, "; it records nothing: unload it");
		else if (target >= 0)
			target_regs();
	}
	return target >= 0;
}

/*
 * The memory callback of a near call or ret in 32/64-bit code: the one for
 * the usual push size of its mode (4 bytes in 32-bit code, 8 in 64-bit),
 * else (an operand-size prefix) the general one.
 */
static mh_vcpu_mem_cb near_call_cb(const struct csi_insn_class *c)
{
	if (!c->target)
		return on_call_indirect;
	if (call_packable(c))
		return c->mode == 32 ? on_call_direct32 : on_call_direct64;
	return on_call_direct;
}

static mh_vcpu_mem_cb near_ret_cb(const struct csi_insn_class *c)
{
	if (c->mode == 32 && c->push == 4)
		return on_ret_mem32;
	if (c->mode == 64 && c->push == 8)
		return on_ret_mem64;
	return on_ret_mem;
}

/*
 * The block's conditional callback: on_block() runs when its vCPU is
 * armed.  An inline compare per block, a good part of what the module
 * costs a Linux boot: long-mode x86 code goes without (translate()).
 */
static void block_cb(mh_tb *tb)
{
	csi_mh->tb_exec_cond_cb(tb, on_block, MH_CB_R_REGS, MH_COND_NE,
				armed_entry(), 0,
				(void *)(uintptr_t)csi_mh->tb_vaddr(tb));
}

/*
 * A near call in 32/64-bit code: a memory callback on its push; an
 * indirect one also reads its target before it runs, where it can.
 */
static void translate_near_call(mh_insn *last, const struct csi_insn_class *c)
{
	const struct csi_call_site *site = NULL;

	if (!c->target) {
		site = csi_call_site(c, NULL);
		if (site->op.kind != CSI_OPND_NONE)
			csi_mh->insn_exec_cb(last, on_call_target,
					     MH_CB_R_REGS, (void *)site);
	} else if (!call_packable(c)) {
		site = csi_call_site(c, NULL);
	}
	csi_mh->insn_mem_cb(last, near_call_cb(c), MEM_CB_FLAGS, MH_MEM_W,
			    site ? (void *)site : call_pack(c));
}

/*
 * Is near ret @last of class @c counted (rets=counted), not given its
 * callback?  Only in 64-bit code in the top half, a kernel's: a kernel
 * returns through every frame it pushed.  User code returns from signal
 * handlers through frames no call pushed, which a count would take for
 * the caller's: its rets keep their callbacks, as do all while anything
 * handles on_ret.
 */
static inline bool ret_counted(const struct csi_insn_class *c,
			       const mh_insn *last)
{
	return counted_rets && c->mode == 64 && c->push == 8 && !c->imm &&
	       (int64_t)csi_mh->insn_vaddr(last) < 0 &&
	       !mh_ppp_handlers(pt_on_ret)->n;
}

/*
 * rets=counted: the ret adds one to its vCPU's rets_pending, inline
 * (before it runs: a ret that faults and is run again counts twice).
 */
static void translate_counted_ret(mh_insn *last)
{
	csi_mh->insn_exec_inline(last, MH_INLINE_ADD_U64,
				 rets_pending_entry(), 1);
	if (!__atomic_load_n(&rets_skipped, __ATOMIC_RELAXED))
		__atomic_store_n(&rets_skipped, true, __ATOMIC_RELAXED);
}

/*
 * Near calls and rets in 32/64-bit code, nearly all of them, are seen by
 * memory callbacks on their stack access: no register read, and a direct
 * or indirect call is complete in one callback (an indirect one with a
 * callback before it that reads its target).  16-bit code and far calls
 * and rets keep the register path (segment bases count there); in long
 * mode far ones are settled at the instruction, and blocks carry no
 * per-block callback.
 */
static void translate(mh_tb *tb, void *opaque)
{
	size_t n = csi_mh->tb_n_insns(tb);
	struct csi_insn_class c;
	mh_insn *last;
	bool regs, lm;

	(void)opaque;
	if (target < 0 && !target_known())
		return;
	vcpu_table_update();
	if (target != CSI_TARGET_X86) {
		block_cb(tb);
		translate_arm(tb);
		return;
	}
	if (!n || !csi_classify(tb, &c)) {
		block_cb(tb);
		return;
	}
	/*
	 * In long mode every event is settled at its instruction (below):
	 * 16-bit code alone still arms, and lands on 16-bit code.
	 */
	lm = c.lm && c.mode != 16;
	if (!lm)
		block_cb(tb);
	last = csi_mh->tb_insn(tb, n - 1);
	regs = c.mode == 16 || c.far;
	/* Direct calls' targets find a kernel's offset (symbols=). */
	if (c.kind == CSI_CALL && c.target)
		csi_symbols_observe(c.target);
	if (c.kind == CSI_CALL && regs)
		csi_mh->insn_exec_cb(last, lm ? on_call_far_lm : on_call_insn,
				     MH_CB_R_REGS,
				     (void *)csi_call_site(&c, NULL));
	else if (c.kind == CSI_CALL)
		translate_near_call(last, &c);
	else if (c.kind == CSI_RET && regs && lm)
		csi_mh->insn_exec_cb(last, on_ret_far_lm, MH_CB_R_REGS,
				     (void *)csi_call_site(&c, NULL));
	else if (c.kind == CSI_RET && regs)
		csi_mh->insn_exec_inline(last, MH_INLINE_STORE_U64,
					 armed_entry(),
					 arm_ret_value(c.imm, c.mode));
	else if (c.kind == CSI_RET && !ret_counted(&c, last))
		csi_mh->insn_mem_cb(last, near_ret_cb(&c), MEM_CB_FLAGS,
				    MH_MEM_R, ret_udata(c.push, c.mode));
	else if (c.kind == CSI_RET)
		translate_counted_ret(last);
	else if (c.asid_change && asid_matters())
		csi_mh->insn_exec_cb(last, on_asid_insn, MH_CB_NO_REGS, NULL);
}

/* -- the API ------------------------------------------------------------------ */

/* @cpu's vCPU state, NULL for a bad handle. */
static struct vcpu *api_vcpu(mh_cpu *cpu)
{
	unsigned int idx = mh_cpu_index(cpu);

	if (!cpu || idx >= csi_mh->num_vcpus())
		return NULL;
	return vcpu_of(idx);
}

static struct csi_stack *current_stack(struct vcpu *v, unsigned int vcpu)
{
	struct csi_stack *s;
	uint64_t sp;
	bool locked;

	if (!v)
		return NULL;
	/* In an on_call/on_ret handler: its stack (see run_handlers). */
	if (v->hstack)
		return v->hstack;
	sp = read_sp();
	s = stack_of(v, sp);
	/* rets=counted: the rets since the last call first. */
	if (counted_rets) {
		locked = csi_lock(s);
		settle(v, vcpu, s, sp);
		csi_unlock(s, locked);
	}
	return s;
}

static uint32_t get_frames(uint64_t *out, uint32_t n, mh_cpu *cpu, bool funcs)
{
	struct csi_stack *s = current_stack(api_vcpu(cpu), mh_cpu_index(cpu));
	uint32_t i;
	bool locked;

	if (!s || !out)
		return 0;
	locked = csi_lock(s);
	for (i = 0; i < n && i < s->depth; i++) {
		struct csi_frame *f = csi_frame_at(s, i);

		out[i] = funcs ? f->func : f->ret;
	}
	csi_unlock(s, locked);
	return i;
}

static uint32_t get_callers(uint64_t *callers, uint32_t n, mh_cpu *cpu)
{
	return get_frames(callers, n, cpu, false);
}
MH_EXPORT(get_callers, CS_GET_CALLERS_SIG);

static uint32_t get_functions(uint64_t *functions, uint32_t n, mh_cpu *cpu)
{
	return get_frames(functions, n, cpu, true);
}
MH_EXPORT(get_functions, CS_GET_FUNCTIONS_SIG);

/* @mode (x86: cs; Arm: cpsr) says the guest runs privileged code. */
static bool is_kernel_mode(uint64_t mode)
{
	if (target == CSI_TARGET_A64 && !(mode & 0x10))
		return (mode >> 2 & 3) != 0;	/* PSTATE.EL */
	if (target != CSI_TARGET_X86)
		return (mode & 0x1f) != 0x10;	/* not USR mode */
	return (mode & 3) == 0;
}

static void get_prog_point(mh_cpu *cpu, struct prog_point *p)
{
	struct vcpu *v = api_vcpu(cpu);
	struct csi_stack *s = current_stack(v, mh_cpu_index(cpu));
	bool locked;

	if (!p)
		return;
	memset(p, 0, sizeof(*p));
	p->stack_kind = csi_stack_kind;
	if (!s)
		return;
	locked = csi_lock(s);
	p->caller = s->depth ? csi_frame_at(s, 0)->ret : 0;
	csi_unlock(s, locked);
	p->pc = v->hstack ? v->hpc : read_pc();
	p->sid_first = s->asid;
	p->sid_second = s->anchor;
	p->is_kernel_mode = is_kernel_mode(read_reg(reg_cs));
}
MH_EXPORT(get_prog_point, CS_GET_PROG_POINT_SIG);

static char *get_stackid_string(const struct prog_point *p)
{
	if (!p)
		return NULL;
	return csi_stackid_string(p->stack_kind, p->sid_first, p->sid_second);
}
MH_EXPORT(get_stackid_string, CS_GET_STACKID_STRING_SIG);

/* -- module hooks ------------------------------------------------------------- */

static int parse_stack_type(mh_module *self, const char *t)
{
	if (!t || !strcmp(t, "asid")) {
		csi_stack_kind = CS_STACK_ASID;
	} else if (!strcmp(t, "heuristic")) {
		csi_stack_kind = CS_STACK_HEURISTIC;
	} else if (!strcmp(t, "threaded")) {
		/* Threads are told apart by osi, as PANDA's threaded stacks. */
		csi_stack_kind = CS_STACK_THREADED;
	} else {
		csi_mh->log(self, MH_LOG_ERROR, "stack_type=%s: expected asid, "
			    "heuristic or threaded", t);
		return -EINVAL;
	}
	return 0;
}

static int csi_init(mh_module *self, const struct mh_api *api)
{
	const char *syms, *tr, *fo, *rets;
	uint64_t depth;
	int ret;

	/* Every global is set here: a rollback runs init again. */
	csi_mh = api;
	csi_self = self;
	csi_vcpus = api->num_vcpus();
	vcpu_table = NULL;
	old_tables = NULL;
	fast_stack = NULL;
	verbose = api->param_bool(self, "verbose");
	ret = parse_stack_type(self, api->param_str(self, "stack_type"));
	if (ret)
		return ret;
	rets = api->param_str(self, "rets");
	if (strcmp(rets, "counted") && strcmp(rets, "exact")) {
		api->log(self, MH_LOG_ERROR, "rets=%s: expected counted or "
			 "exact", rets);
		return -EINVAL;
	}
	/* A count is settled on a thread's stack, which osi names. */
	if (!strcmp(rets, "counted") && csi_stack_kind != CS_STACK_THREADED) {
		api->log(self, MH_LOG_ERROR, "rets=counted needs "
			 "stack_type=threaded");
		return -EINVAL;
	}
	depth = api->param_uint(self, "max_depth");
	if (depth < 1 || depth > (1u << 20)) {
		api->log(self, MH_LOG_ERROR, "max_depth=%" PRIu64
			 ": expected 1 to %u", depth, 1u << 20);
		return -EINVAL;
	}
	csi_max_depth = depth;
	target = csi_target_check(has_reg, NULL);
	if (target == -ENOTSUP) {
		log_not_x86(MH_LOG_ERROR, ": load refused");
		return target;
	}

	ret = csi_decode_init();
	if (!ret)
		ret = csi_arm_decode_init();
	if (ret) {
		api->log(self, MH_LOG_ERROR, "capstone: cannot open its x86 "
			 "and Arm handles");
		csi_decode_exit();
		return ret;
	}
	csi_stacks_init();
	if (csi_stack_kind == CS_STACK_THREADED) {
		ret = csi_threads_init(self);	/* logs what was wrong */
		if (ret)
			goto err_stacks;
	}
	syms = api->param_str(self, "symbols");
	if (syms && *syms) {
		/* Logs what was wrong. */
		ret = csi_symbols_load(syms, api->param_str(self,
							    "symbols_offset"));
		if (ret)
			goto err_stacks;
	}
	fo = api->param_str(self, "folded");
	folded_path = fo && *fo ? g_strdup(fo) : NULL;
	csi_folded_on = folded_path != NULL;
	tr = api->param_str(self, "trace");
	csi_trace_set(tr);
	ret_outputs = csi_trace_on() || verbose;
	outputs = csi_folded_on || ret_outputs;
	/* trace and verbose tell of each ret where it happens. */
	counted_rets = !strcmp(rets, "counted") && !ret_outputs;
	rets_skipped = rets_asked = false;

	reg_cpsr = reg_ttbr1 = reg_tcr = NULL;
	if (target >= 0) {
		target_regs();
	} else {
		/* Until the first block tells: x86's, as before any vCPU. */
		reg_sp = api->reg_lookup("rsp");
		reg_cr3 = api->reg_lookup("cr3");
		reg_pc = api->reg_lookup("rip");
		reg_cs = api->reg_lookup("cs");
		asid_mask = ~0xfffull;
	}
	old_tables = g_ptr_array_new_with_free_func(g_free);
	score = api->scoreboard_new(self, sizeof(struct vcpu));
	pt_on_call = api->ppp_declare(self, "on_call", CS_ON_CALL_SIG);
	pt_on_ret = api->ppp_declare(self, "on_ret", CS_ON_RET_SIG);
	if (!score || !pt_on_call || !pt_on_ret) {
		ret = -ENOMEM;
		goto err_out;
	}
	ret = api->set_translate(self, translate, NULL);
	if (ret)
		goto err_out;
	api->log(self, MH_LOG_INFO, "stack_type=%s max_depth=%u%s%s%s",
		 csi_stack_kind == CS_STACK_ASID ? "asid" :
		 csi_stack_kind == CS_STACK_THREADED ? "threaded" : "heuristic",
		 csi_max_depth, counted_rets ? " rets=counted" : "",
		 folded_path ? " folded=" : "", folded_path ? folded_path : "");
	return 0;

err_out:
	vcpu_table_free();
	csi_trace_close();
	g_clear_pointer(&folded_path, g_free);
	csi_symbols_free();
err_stacks:
	csi_stacks_exit();
	csi_arm_decode_exit();
	csi_decode_exit();
	return ret;
}

static void log_counts(mh_module *self)
{
	struct csi_stats t;

	csi_stats_total(&t);
	csi_mh->log(self, MH_LOG_INFO, "calls=%" PRIu64 " rets=%" PRIu64
		    " popped=%" PRIu64 " unmatched_rets=%" PRIu64
		    " redirected=%" PRIu64 " unresolved=%" PRIu64
		    " restarts=%" PRIu64 " dropped=%" PRIu64
		    " max_depth=%" PRIu64 " stacks=%u",
		    t.calls, t.rets, t.frames_popped, t.unmatched_rets,
		    t.redirected, t.unresolved, t.restarts, t.dropped,
		    t.max_depth, csi_stack_count());
}

static void csi_exit(mh_module *self)
{
	int ret;

	if (folded_path) {
		ret = csi_folded_write(folded_path);
		if (ret)
			csi_mh->log(self, MH_LOG_ERROR, "folded=%s: %s",
				    folded_path, strerror(-ret));
	}
	/* Not a target it follows: no count rather than a misleading calls=0. */
	if (target != -ENOTSUP)
		log_counts(self);
	/* Closed under its lock: later events (QEMU exit) write nothing. */
	csi_trace_close();
	/*
	 * When QEMU ends, other vCPUs may still run our callbacks: the
	 * stacks stay.  At an unload or before a reload every vCPU is
	 * stopped and translated code is flushed, so nothing uses them any
	 * more: free everything (a rolled-back reload runs init again).
	 */
	if (csi_mh->exiting())
		return;
	vcpu_table_free();
	g_clear_pointer(&folded_path, g_free);
	csi_symbols_free();
	csi_stacks_exit();
	csi_arm_decode_exit();
	csi_decode_exit();
}

MH_MODULE("callstack_instr", "1.1", "MIT",
	  "Shadow call stacks: on_call/on_ret, get_callers, folded stacks",
	  .init = csi_init,
	  .exit = csi_exit,
	  .save_state = csi_state_save,
	  .restore_state = csi_state_restore);
