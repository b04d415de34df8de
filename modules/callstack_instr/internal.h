/* SPDX-License-Identifier: MIT */
/*
 * callstack_instr internals, shared by its files:
 *   decode.c          capstone: classify a block's last instruction
 *   stacks.c          shadow stacks, return matching, folded-stack counts
 *   output.c          symbols (../lib/symtab.c), folded file, JSON-lines trace
 *   decode-arm.c      capstone: the same for A64, ARM and Thumb code
 *   target.c          which target: x86, aarch64 or arm?
 *   callstack_instr.c the module: parameters, vCPU callbacks, API, hooks
 *   state.c           the state handed from one version to the next
 */
#ifndef CALLSTACK_INSTR_INTERNAL_H
#define CALLSTACK_INSTR_INTERNAL_H

#include <glib.h>
#include <pthread.h>
#include <stdint.h>

#include <modhost/callstack_instr.h>
#include <modhost/module.h>

extern const struct mh_api *csi_mh;
extern mh_module *csi_self;

/* -- decode.c ----------------------------------------------------------- */

enum csi_kind {
	CSI_OTHER,
	CSI_CALL,
	CSI_RET,
};

/*
 * Where an x86 indirect call finds its target (decode.c), read before the
 * call runs (csi_operand_value()).  Flat segments are assumed but for fs
 * and gs, whose bases are registers.
 */
enum csi_opnd_kind {
	CSI_OPND_NONE,		/* not known: the callee's entry resolves it */
	CSI_OPND_REG,		/* the target is in @reg */
	CSI_OPND_MEM,		/* at seg + base + index * scale + disp */
	CSI_OPND_IMM,		/* @disp: a direct far call's offset */
};

struct csi_operand {
	uint8_t kind;		/* enum csi_opnd_kind */
	uint8_t size;		/* MEM: bytes of the pointer */
	uint8_t scale;
	mh_reg *reg, *index;	/* REG: the register; MEM: base, index or NULL */
	mh_reg *seg;		/* MEM: fs_base or gs_base; NULL when flat */
	uint64_t disp;		/* MEM: rip-relative operands hold the address */
	uint64_t amask;		/* MEM: the address size's bits */
	uint64_t lmask;		/* MEM: the mode's bits (linear address) */
	uint64_t vmask;		/* the target's bits (operand size) */
};

/*
 * What the translator learnt about a block's last instruction.  It is
 * packed into the instrumentation's user data (csi_pack_*), so it lives
 * exactly as long as the translated block: no cache keyed by address.
 */
struct csi_insn_class {
	enum csi_kind kind;
	unsigned int mode;	/* 16, 32 or 64 */
	unsigned int push;	/* bytes a call pushes / a ret pops (CS:IP too) */
	unsigned int imm;	/* ret imm16: extra bytes a ret pops */
	bool asid_change;	/* may load cr3 (mov to cr3, task switch) */
	bool far;		/* lcall, retf: CS:IP, segment bases matter */
	uint64_t target;	/* a direct call's target (32/64-bit); else 0 */
	uint64_t next;		/* address after the instruction */
	bool lm;		/* x86: translated in long mode (EFER.LMA) */
	struct csi_operand op;	/* x86: an indirect call's target (see above) */
	bool cond;		/* Arm: conditional (it may not be taken) */
	const char *treg;	/* Arm: an indirect call's target register */
};

int csi_decode_init(void);
void csi_decode_exit(void);
/* Classify @tb's last instruction; false if capstone cannot decode it. */
bool csi_classify(const mh_tb *tb, struct csi_insn_class *c);
/* The mode (16, 32, 64) this thread decodes in first; for the handoff. */
unsigned int csi_decode_mode(void);
/* Threads that have decoded nothing yet start in @bits (a reload). */
void csi_decode_set_mode(unsigned int bits);

/*
 * User data of a call's callback: what the call site needs at run time.
 * Interned by content (decode.c), so retranslating a block reuses the
 * same one and memory stays bounded by the distinct call sites; nothing
 * is ever looked up by address.
 */
struct csi_call_site {
	uint64_t ret;		/* return address */
	uint64_t target;	/* a direct call's target; 0 if indirect */
	uint32_t push;		/* bytes the call pushes */
	uint32_t mode;		/* 16, 32, 64 */
	bool asid_change;	/* a far call: may switch tasks */
	uint32_t imm;		/* a far ret's imm16 */
	mh_reg *treg;		/* Arm: the indirect call's target register */
	struct csi_operand op;	/* x86: an indirect call's target */
};

/*
 * x86: the value @op names, read now (a callback before the instruction,
 * registered with MH_CB_R_REGS); false if it cannot be read.
 */
bool csi_operand_value(const struct csi_operand *op, uint64_t *value);

/* Interned call site of @c; @treg is @c->treg looked up (Arm) or NULL. */
const struct csi_call_site *csi_call_site(const struct csi_insn_class *c,
					  mh_reg *treg);

/* -- decode-arm.c ------------------------------------------------------- */

/* The instruction set a block is in. */
enum csi_isa {
	CSI_ISA_A64,
	CSI_ISA_A32,	/* ARM state */
	CSI_ISA_T32,	/* Thumb state */
};

int csi_arm_decode_init(void);
void csi_arm_decode_exit(void);
/*
 * Classify @tb's last instruction, decoded in @isa only; false if
 * capstone cannot decode it there with QEMU's length.
 */
bool csi_classify_arm(const mh_tb *tb, enum csi_isa isa,
		      struct csi_insn_class *c);

/* The mode coded in two bits of @udata at @shift: 16, 32 or 64. */
static inline unsigned int csi_udata_mode(void *udata, unsigned int shift)
{
	static const unsigned int modes[] = { 16, 32, 64, 64 };

	return modes[((uintptr_t)udata >> shift) & 3];
}

/* The stack pointer bits a push in @mode changes. */
static inline uint64_t csi_sp_mask(unsigned int mode)
{
	/* Branch-free: the near call and ret fast paths compute it. */
	return ~0ull >> (64 - mode);
}

/* -- stacks.c ----------------------------------------------------------- */

/* One frame: pushed by a call, completed at the callee's first block. */
struct csi_frame {
	uint64_t ret;		/* return address */
	uint64_t func;		/* callee entry; 0 until seen */
	uint64_t sp;		/* stack pointer at the call (restart check) */
	uint32_t node;		/* folded-stack node of this frame, 0 = none */
	uint32_t kid;		/* node of its last callee's call (see below) */
};

struct csi_stack {
	/*
	 * The lock, recursive (PPP handlers may call get_*()): the holding
	 * thread's csi_thread_id(), 0 when free, and how often it holds it.
	 */
	uintptr_t owner;
	uint32_t held;
	uint64_t asid;		/* threaded: the pid */
	uint64_t anchor;	/* heuristic: sp where first seen; threaded: tid; else 0 */
	uint64_t last_sp;	/* heuristic: sp at the last event */
	uint32_t base;		/* ring: index of the bottom frame */
	uint32_t depth;		/* frames held, up to csi_max_depth */
	struct csi_frame *frames;	/* csi_ring_mask + 1 entries */
	/*
	 * A line of its own: every event writes the lock and depth, and two
	 * threads' stacks side by side on one line, each used by a vCPU,
	 * would take it from each other's cache at each event.
	 */
} __attribute__((aligned(64)));

extern uint32_t csi_max_depth;
/* The ring's size is a power of two: no division on the hot path. */
extern uint32_t csi_ring_mask;
extern enum cs_stack_kind csi_stack_kind;

/*
 * The counts, as the exit line and the handoff give them.  The hot ones
 * (calls, rets, frames_popped, max_depth) are counted per vCPU, in
 * struct vcpu: on a shared line each vCPU's count stole the line from
 * the other's cache.  csi_stats holds the rest, and the hot ones an
 * earlier version handed over; csi_stats_total() adds them up.
 */
struct csi_stats {
	uint64_t calls, rets, frames_popped, unmatched_rets, dropped;
	uint64_t unresolved, restarts, max_depth;
	uint64_t redirected;	/* rets that popped a frame's slot, other value */
	/* Not a count: the decoding mode handed to the next version. */
	uint64_t mode;
};
extern struct csi_stats csi_stats;
/* csi_stats with every vCPU's counts added in. */
void csi_stats_total(struct csi_stats *out);

int csi_stacks_init(void);
void csi_stacks_exit(void);
/*
 * The stack of address space @asid at stack pointer @sp (created); for
 * threaded stacks, of process @asid's thread @sp.
 */
struct csi_stack *csi_stack_get(uint64_t asid, uint64_t sp);
/*
 * For restore: the stack (@asid, @anchor) exactly, created if new (after
 * those restored before it, as csi_stack_foreach() gave them).
 */
struct csi_stack *csi_stack_restore(uint64_t asid, uint64_t anchor,
				    uint64_t last_sp);
guint csi_stack_count(void);
/* Every stack, oldest first. */
void csi_stack_foreach(void (*fn)(struct csi_stack *, void *), void *opaque);

/* The i-th frame from the top (0 = innermost); needs i < depth. */
static inline struct csi_frame *csi_frame_at(struct csi_stack *s, uint32_t i)
{
	return &s->frames[(s->base + s->depth - 1 - i) & csi_ring_mask];
}

/* csi_lock() when another thread holds @s: wait for it. */
void csi_lock_wait(struct csi_stack *s, uintptr_t self);

/*
 * With one vCPU, only its thread touches the stacks (hooks run while it
 * is stopped), so the lock is skipped: a good part of a call's cost on a
 * call-heavy guest.  The returned flag pairs the unlock with the lock.
 *
 * With several, each call and return takes its stack's lock, nearly
 * always free (a stack is a thread's or an address space's, run by one
 * vCPU at a time): one compare-and-swap to take it, a store to give it
 * back.  A GRecMutex took twice that and two calls, a few percent of a
 * Linux boot.
 */
extern unsigned int csi_vcpus;

/*
 * This thread, never 0: its thread pointer, one load, where
 * pthread_self() is a call into libc on every call and return.
 */
#ifdef __has_builtin
#if __has_builtin(__builtin_thread_pointer)
#define CSI_HAVE_THREAD_POINTER 1
#endif
#endif

static inline uintptr_t csi_thread_id(void)
{
#ifdef CSI_HAVE_THREAD_POINTER
	return (uintptr_t)__builtin_thread_pointer();
#else
	return (uintptr_t)pthread_self();
#endif
}

static inline bool csi_lock(struct csi_stack *s)
{
	uintptr_t self, free = 0;

	/* Every x86 vCPU exists before the first block runs. */
	if (!csi_vcpus)
		csi_vcpus = csi_mh->num_vcpus();
	if (csi_vcpus <= 1)
		return false;
	self = csi_thread_id();
	/* Only this thread can have stored its own id there. */
	if (__atomic_load_n(&s->owner, __ATOMIC_RELAXED) == self) {
		s->held++;
		return true;
	}
	if (!__atomic_compare_exchange_n(&s->owner, &free, self, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		csi_lock_wait(s, self);
	s->held = 1;
	return true;
}

static inline void csi_unlock(struct csi_stack *s, bool locked)
{
	if (locked && !--s->held)
		__atomic_store_n(&s->owner, 0, __ATOMIC_RELEASE);
}

/* Push a frame; returns it.  Must hold s's lock (csi_lock()). */
static inline struct csi_frame *csi_push_locked(struct csi_stack *s,
						uint64_t ret, uint64_t sp)
{
	struct csi_frame *f;

	if (s->depth == csi_max_depth) {
		/* Full: the outermost frame goes, it can no longer match. */
		s->base = (s->base + 1) & csi_ring_mask;
		s->depth--;
		csi_stats.dropped++;
	}
	s->depth++;
	f = csi_frame_at(s, 0);
	f->ret = ret;
	f->func = 0;
	f->sp = sp;
	f->node = 0;
	f->kid = 0;
	return f;
}

/* The folded-stack frame that stands for the frames cut off a long path. */
#define CSI_TRUNCATED (~0ull)

/* Folded stacks: a trie of (parent, function) nodes with call counts. */
extern bool csi_folded_on;
/*
 * Calls are counted into a counter of one thread's (a vCPU's), made once
 * and kept until the trie goes; a node's count is all counters' sum.
 */
struct csi_counts;
struct csi_counts *csi_counts_new(void);
/* The node of the call of @func from node @parent, counted in @c. */
uint32_t csi_node_child(struct csi_counts *c, uint32_t parent, uint64_t func);
/*
 * csi_node_child() for a call from a frame whose node is @parent and
 * whose last callee's node is *@kid (0: none): a frame that calls the
 * same function again finds its node there, one line read instead of the
 * caller's node and its hints.  *@kid becomes the node returned.
 */
uint32_t csi_node_child_kid(struct csi_counts *c, uint32_t parent,
			    uint64_t func, uint32_t *kid);
void csi_node_foreach(void (*fn)(uint32_t id, uint32_t parent, uint64_t func,
				 uint64_t count, void *), void *opaque);
uint32_t csi_node_count(void);
/* For restore: append a node; false if @parent is not a known node. */
bool csi_node_restore(uint32_t parent, uint64_t func, uint64_t count);

/* -- output.c ----------------------------------------------------------- */

/*
 * @path's function symbols (an ELF file, a System.map or a kallsyms list),
 * @offset "auto" (or empty) or an integer; on failure, logs what is wrong.
 */
int csi_symbols_load(const char *path, const char *offset);
void csi_symbols_free(void);
/* The offset of symbols= when known (given or found); for the handoff. */
bool csi_symbols_offset(int64_t *offset);
/* Restored: the previous version's offset, unless this one has its own. */
void csi_symbols_take_offset(int64_t offset);
/* A call target the guest has: evidence for the kernel's offset. */
void csi_symbols_observe(uint64_t target);
/* "name", "name+0x10" or "0x1234"; into @buf. */
const char *csi_symbolize(uint64_t addr, char *buf, size_t len);

/* The trace goes to @path, opened at the first event; NULL: no trace. */
void csi_trace_set(const char *path);
/* Restored from an earlier version: append to its trace, do not truncate. */
void csi_trace_continue(void);
void csi_trace_close(void);
bool csi_trace_on(void);
void csi_trace_event(const char *event, unsigned int vcpu,
		     const struct csi_stack *s, uint32_t depth, uint64_t func,
		     uint64_t ret);
int csi_folded_write(const char *path);

/* "asid=0x..." or "asid=0x...,sp=0x..." */
char *csi_stackid_string(enum cs_stack_kind kind, uint64_t asid,
			 uint64_t anchor);

/* -- callstack_instr.c: per-vCPU state ------------------------------------ */

enum pending {
	PEND_NONE,
	PEND_CALL,	/* a frame waits for its callee's entry */
};

/*
 * Per-vCPU state, a scoreboard element: only its own vCPU touches it.
 * Scoreboard elements lie end to end from wherever QEMU's array starts,
 * so a cache line can hold the end of one and the start of the next: a
 * line of each end is left unused (head, tail).  Without them, at -smp 2,
 * vCPU 0's rets_pending, added to at each kernel ret (rets=counted), was
 * on the line of vCPU 1's armed and kind, read at each of its calls, and
 * the line crossed between the cores at nearly every event.
 */
struct vcpu {
	char head[64];
	uint64_t armed;			/* the blocks' condition: != 0 */
	uint32_t kind;			/* enum pending; a ret is only in armed */
	uint32_t call_depth;		/* PEND_CALL: the frame's depth */
	struct csi_stack *stack;	/* PEND_CALL: the frame's stack */
	uint64_t expect_sp;		/* PEND_CALL: sp at the callee's entry */
	uint64_t sp_mask;		/* the bits of sp the mode uses */
	uint64_t call_ret, call_sp;	/* PEND_CALL: the frame */
	uint64_t call_target;		/* PEND_CALL: direct call's target */
	uint64_t misses;		/* blocks run armed, not matching */
	/* This vCPU's share of csi_stats' calls, rets, frames_popped, max_depth. */
	uint64_t calls, rets, popped, max_depth;
	struct csi_stack *cur;		/* asid stacks: the stack of cur_asid */
	uint64_t cur_asid;
	uint64_t asid_ok;		/* cur_asid is cr3 now (see stack_of) */
	struct csi_stack *hstack;	/* handlers running: their stack */
	uint64_t hpc;			/* handlers running: the guest's pc */
	uint64_t thread;		/* threaded: threads.c's key, 0 unknown */
	uint64_t ret_from;		/* Arm: a conditional ret's next insn */
	/* x86: the indirect call about to run and its target, read before it */
	const struct csi_call_site *ind_site;
	uint64_t ind_target;
	struct csi_counts *counts;	/* folded: this vCPU's calls, made at the first */
	uint64_t rets_pending;		/* rets=counted: rets not settled yet */
	char tail[64];
};
_Static_assert(offsetof(struct vcpu, armed) == 64 &&
	       sizeof(struct vcpu) - offsetof(struct vcpu, tail) >= 64,
	       "a line unused at each end of struct vcpu");

/* A vCPU's "armed" value: a call pending, or a ret (see arm_ret_value()). */
#define ARM_CALL	1ull
#define ARM_RET		2ull
/* Arm: the armed ret is conditional; landing on ret_from, it was not taken. */
#define ARM_RET_COND	4ull

/* @vcpu_index's state, a scoreboard element. */
struct vcpu *csi_vcpu_of(unsigned int vcpu_index);
/* rets=counted: @v leaves its thread; its rets not settled yet go there. */
void csi_rets_settle(struct vcpu *v, unsigned int vcpu);

/* -- threads.c ---------------------------------------------------------- */

/*
 * stack_type=threaded: follow osi's on_task_change (osi is loaded if it is
 * not).  0, or -errno with the reason logged.
 */
int csi_threads_init(mh_module *self);
/* The stack of the thread @v runs (v->thread), created. */
struct csi_stack *csi_thread_stack(struct vcpu *v);

/* -- state.c ------------------------------------------------------------ */

/* save_state: *@data, malloc()'d, holds every stack and vCPU's state. */
int csi_state_save(mh_module *self, void **data, size_t *len);
/* restore_state: take over what csi_state_save() of @old_version wrote. */
int csi_state_restore(mh_module *self, const void *data, size_t len,
		      const char *old_version);

/* -- target.c ----------------------------------------------------------- */

/* The targets callstack_instr follows (csi_target_check()). */
enum csi_target {
	CSI_TARGET_X86,		/* x86_64 and i386 */
	CSI_TARGET_A64,		/* aarch64 */
	CSI_TARGET_ARM,		/* arm: ARM and Thumb state */
};

/**
 * csi_target_check() - can callstack_instr follow this target's calls?
 * @has_reg: 0 if the target has register @name, -ENOENT if it has not,
 *	-EAGAIN while no vCPU exists yet (the register list is unknown)
 * @opaque: passed to @has_reg
 *
 * Return: the target (enum csi_target: x86 has rsp or esp, and cr3;
 * aarch64 x30, sp and cpsr; arm lr, sp and cpsr), -ENOTSUP for any other
 * target, -EAGAIN while the target is not known yet.
 */
int csi_target_check(int (*has_reg)(const char *name, void *opaque),
		     void *opaque);

/**
 * csi_a64_asid() - the address space an aarch64 vCPU runs in
 * @ttbr0: TTBR0_EL1, the table of the lower (user) half, switched with
 *	the process
 * @ttbr1: TTBR1_EL1
 * @tcr: TCR_EL1; its A1 bit says which of the two holds the ASID (Linux
 *	sets it: TTBR1_EL1), its AS bit whether the ASID has 8 or 16 bits
 *
 * A page table freed by one process is often the next one's: the ASID
 * the kernel gives each process tells them apart.
 *
 * Return: TTBR0_EL1's table address (without CnP) with the ASID in bits
 * 63:48.
 */
uint64_t csi_a64_asid(uint64_t ttbr0, uint64_t ttbr1, uint64_t tcr);

#endif /* CALLSTACK_INSTR_INTERNAL_H */
