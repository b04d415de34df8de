/* SPDX-License-Identifier: MIT */
/*
 * modhost module ABI, version 1.
 *
 * A module is a shared object built with this header alone (no QEMU
 * header).  Its metadata lives in the ELF section ".modhost" as a run of
 * NUL-terminated "key=value" strings, which the host reads with libelf
 * before any of the module's code runs.  Its hooks are reached through the
 * one exported symbol "mh_module_ops".  Everything it does to the guest goes
 * through the host's API table, handed to init().
 *
 * See Documentation/writing-modules.rst and Documentation/hot-reload.rst.
 */
#ifndef MODHOST_MODULE_H
#define MODHOST_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A major bump breaks modules; a minor bump only appends. */
#define MODHOST_ABI_MAJOR 1
#define MODHOST_ABI_MINOR 5

/* Name of the ELF section that holds a module's metadata. */
#define MH_SECTION ".modhost"
/* Name of the symbol that holds a module's hooks. */
#define MH_OPS_SYMBOL "mh_module_ops"

/* Opaque handles.  Pointers to these are only valid while they are passed. */
typedef struct mh_module mh_module;        /* a loaded module (stable across reloads) */
typedef struct mh_tb mh_tb;                /* a block being translated */
typedef struct mh_insn mh_insn;            /* an instruction of such a block */
typedef struct mh_scoreboard mh_scoreboard; /* per-vCPU storage */
typedef struct mh_reg mh_reg;              /* a guest register, by name */
typedef struct mh_hwaddr mh_hwaddr;        /* where a memory access went (since 1.5) */

/*
 * A vCPU, where module APIs pass what PANDA calls a CPUState (hypercall
 * handlers, callstack_instr's get_callers() ...).  It is the vCPU index,
 * wrapped so that it cannot be mixed up with a count: never dereference it.
 */
typedef struct mh_cpu mh_cpu;

static inline mh_cpu *mh_cpu_of(unsigned int vcpu_index)
{
	return (mh_cpu *)(uintptr_t)(vcpu_index + 1);
}

static inline unsigned int mh_cpu_index(const mh_cpu *cpu)
{
	return (unsigned int)((uintptr_t)cpu - 1);
}

/**
 * struct mh_ppp_handlers - the handlers of a PPP callback point, in
 * registration order.  Cast each to the point's typedef and call it.
 * @n: how many
 * @fn: the handlers
 */
struct mh_ppp_handlers {
	uint32_t n;
	void (*fn[])(void);
};

/**
 * struct mh_ppp_point - a callback point a provider declared
 * @handlers: the current set; read it with mh_ppp_handlers(), never NULL
 *
 * The host replaces @handlers as consumers come and go, and frees a
 * replaced set only when every vCPU has stopped, so a provider that took a
 * set may run all of it even if handlers are removed meanwhile.
 */
struct mh_ppp_point {
	const struct mh_ppp_handlers *handlers;
};

/* The current handlers of @point: typed, direct calls, no host hop. */
static inline const struct mh_ppp_handlers *
mh_ppp_handlers(const struct mh_ppp_point *point)
{
	return __atomic_load_n(&point->handlers, __ATOMIC_ACQUIRE);
}

/**
 * typedef mh_u64 - a 64-bit counter inside a scoreboard entry
 * @score: the scoreboard
 * @offset: byte offset of the counter inside one vCPU's entry
 */
typedef struct {
	mh_scoreboard *score;
	size_t offset;
} mh_u64;

/* Values equal QEMU's enum qemu_plugin_cb_flags. */
enum mh_cb_flags {
	MH_CB_NO_REGS,
	MH_CB_R_REGS,  /* the callback reads registers: always say so */
	MH_CB_RW_REGS,
};

/* Values equal QEMU's enum qemu_plugin_mem_rw. */
enum mh_mem_rw {
	MH_MEM_R = 1,
	MH_MEM_W,
	MH_MEM_RW,
};

/* Values equal QEMU's enum qemu_plugin_cond. */
enum mh_cond {
	MH_COND_NEVER,
	MH_COND_ALWAYS,
	MH_COND_EQ,
	MH_COND_NE,
	MH_COND_LT,
	MH_COND_LE,
	MH_COND_GT,
	MH_COND_GE,
};

/* Values equal QEMU's enum qemu_plugin_op. */
enum mh_op {
	MH_INLINE_ADD_U64,
	MH_INLINE_STORE_U64,
};

enum mh_log_level {
	MH_LOG_ERROR,
	MH_LOG_WARN,
	MH_LOG_INFO,
	MH_LOG_DEBUG,
};

/**
 * struct mh_hypercall - one guest hypercall, as the host read it
 * @magic: the route's magic: eax (x86), x8 (aarch64) or r7 (arm), low
 *	32 bits
 * @width: 64 when the guest ran in long mode (EFER.LMA) or is aarch64,
 *	else 32: which registers held the arguments
 *	(Documentation/hypercall-abi.rst)
 * @encoding: MH_HC_ENC_CPUID (PANDA's form: cpuid on x86) or
 *	MH_HC_ENC_NOP (the marked form)
 * @vcpu: the vCPU index
 * @pc: guest address of the hypercall instruction
 * @args: the six argument registers in Xen's order (x86_64: rdi rsi rdx
 *	r10 r8 r9; i386: ebx ecx edx esi edi ebp, zero-extended; aarch64:
 *	x0..x5; arm: r0..r5)
 */
struct mh_hypercall {
	uint32_t magic;
	uint8_t width;
	uint8_t encoding;
	uint16_t reserved;
	uint32_t vcpu;
	uint32_t reserved2;
	uint64_t pc;
	uint64_t args[6];
};

enum mh_hc_encoding {
	MH_HC_ENC_CPUID,	/* PANDA's: cpuid (0f a2), which runs afterwards;
				 * Arm: msr S0_0_c5_c0_0 / mcr p7 (undefined) */
	MH_HC_ENC_NOP,		/* marked: nopl MARK(%rax,%rax,1); Arm: the
				 * four hints 'M' 'H' 'C' 'L'; see guest.h */
};

/*
 * A hypercall handler: runs on the vCPU, before the instruction.  Its
 * result becomes the guest's rax where QEMU lets plugins write registers
 * (mh_api.hypercall_returns()); otherwise it is dropped.
 */
typedef uint64_t (*mh_hypercall_fn)(mh_cpu *cpu, const struct mh_hypercall *call,
				    void *opaque);

/**
 * struct mh_qemu_info - what QEMU told the host when it started (since 1.4)
 * @target_name: the guest architecture ("x86_64", "aarch64" ...)
 * @version_min: the oldest QEMU plugin API version QEMU accepts
 * @version_cur: QEMU's plugin API version
 * @system_emulation: always true: the host needs qemu-system-*
 * @smp_vcpus: the vCPUs the machine starts with
 * @max_vcpus: the most vCPUs it may have
 */
struct mh_qemu_info {
	const char *target_name;
	int version_min;
	int version_cur;
	bool system_emulation;
	int smp_vcpus;
	int max_vcpus;
};

/* vCPU events besides init (since 1.5); values are the host's own. */
enum mh_vcpu_event {
	MH_VCPU_EXIT,		/* the vCPU goes away (hot-unplug) */
	MH_VCPU_IDLE,		/* the vCPU halts and waits */
	MH_VCPU_RESUME,		/* it runs again after waiting */
};

/**
 * struct mh_mem_value - the value a load or store moved (since 1.5)
 * @size: its size in bytes: 1, 2, 4, 8 or 16
 * @low: the value, zero-extended, or its low 64 bits when @size is 16
 * @high: the high 64 bits when @size is 16, else 0
 */
struct mh_mem_value {
	uint32_t size;
	uint64_t low;
	uint64_t high;
};

/* Called by QEMU itself on the vCPU thread: no host code in between. */
typedef void (*mh_vcpu_udata_cb)(unsigned int vcpu_index, void *udata);
typedef void (*mh_vcpu_mem_cb)(unsigned int vcpu_index, uint32_t meminfo,
			       uint64_t vaddr, void *udata);
/* Called by the host for every block QEMU translates. */
typedef void (*mh_translate_cb)(mh_tb *tb, void *opaque);
/* Called by the host with @opaque as given (since 1.5). */
typedef void (*mh_opaque_cb)(void *opaque);
typedef void (*mh_stopped_cb)(mh_module *self, void *opaque);

/**
 * struct mh_api - the host's services, handed to a module's hooks
 *
 * Append-only within a major version: a module built against minor N finds
 * every member it knows at the same offset in a host of minor N or later.
 * @size tells how much of the table the running host has; a module that uses
 * a member added in a later minor than it requires checks MH_API_HAS() first.
 *
 * Instrumentation calls (mh_api.tb_* and mh_api.insn_*) are only valid
 * inside the module's translate hook; register and memory reads only inside
 * a callback running on a vCPU (registered with MH_CB_R_REGS for registers).
 */
struct mh_api {
	uint32_t size;		/* sizeof(struct mh_api) in the running host */
	uint16_t abi_major;
	uint16_t abi_minor;

	/* Logging: one line, prefixed with the module's name. */
	void (*log)(mh_module *self, enum mh_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	const char *(*module_name)(mh_module *self);

	/*
	 * Parameters declared with MH_PARAM_*(): the value for this load.
	 * param_str() also reads a LIST parameter.
	 */
	const char *(*param_str)(mh_module *self, const char *name);
	int64_t (*param_int)(mh_module *self, const char *name);
	uint64_t (*param_uint)(mh_module *self, const char *name);
	bool (*param_bool)(mh_module *self, const char *name);

	/* Translation: one hook per module; NULL removes it.  Return 0/-errno. */
	int (*set_translate)(mh_module *self, mh_translate_cb cb, void *opaque);
	size_t (*tb_n_insns)(const mh_tb *tb);
	uint64_t (*tb_vaddr)(const mh_tb *tb);
	mh_insn *(*tb_insn)(const mh_tb *tb, size_t idx);
	uint64_t (*insn_vaddr)(const mh_insn *insn);
	size_t (*insn_size)(const mh_insn *insn);
	size_t (*insn_data)(const mh_insn *insn, void *dest, size_t len);
	const char *(*insn_symbol)(const mh_insn *insn);

	/* Instrumentation of the block or instruction being translated. */
	void (*tb_exec_cb)(mh_tb *tb, mh_vcpu_udata_cb cb,
			   enum mh_cb_flags flags, void *udata);
	void (*tb_exec_cond_cb)(mh_tb *tb, mh_vcpu_udata_cb cb,
				enum mh_cb_flags flags, enum mh_cond cond,
				mh_u64 entry, uint64_t imm, void *udata);
	void (*tb_exec_inline)(mh_tb *tb, enum mh_op op, mh_u64 entry,
			       uint64_t imm);
	void (*insn_exec_cb)(mh_insn *insn, mh_vcpu_udata_cb cb,
			     enum mh_cb_flags flags, void *udata);
	void (*insn_exec_cond_cb)(mh_insn *insn, mh_vcpu_udata_cb cb,
				  enum mh_cb_flags flags, enum mh_cond cond,
				  mh_u64 entry, uint64_t imm, void *udata);
	void (*insn_exec_inline)(mh_insn *insn, enum mh_op op, mh_u64 entry,
				 uint64_t imm);
	void (*insn_mem_cb)(mh_insn *insn, mh_vcpu_mem_cb cb,
			    enum mh_cb_flags flags, enum mh_mem_rw rw,
			    void *udata);
	void (*insn_mem_inline)(mh_insn *insn, enum mh_mem_rw rw,
				enum mh_op op, mh_u64 entry, uint64_t imm);

	/* What a memory callback's meminfo says. */
	unsigned int (*mem_size_shift)(uint32_t meminfo);
	bool (*mem_is_store)(uint32_t meminfo);
	bool (*mem_is_sign_extended)(uint32_t meminfo);

	/* Scoreboards: freed by the host when the module goes, if not before. */
	mh_scoreboard *(*scoreboard_new)(mh_module *self, size_t element_size);
	void (*scoreboard_free)(mh_module *self, mh_scoreboard *score);
	void *(*scoreboard_find)(mh_scoreboard *score, unsigned int vcpu_index);
	uint64_t (*u64_get)(mh_u64 entry, unsigned int vcpu_index);
	void (*u64_set)(mh_u64 entry, unsigned int vcpu_index, uint64_t val);
	uint64_t (*u64_sum)(mh_u64 entry);

	/* Guest state, from a vCPU callback. */
	mh_reg *(*reg_lookup)(const char *name);
	int (*reg_read)(const mh_reg *reg, void *buf, size_t len);
	int (*mem_read)(uint64_t vaddr, void *buf, size_t len);
	unsigned int (*num_vcpus)(void);

	/*
	 * Symbol registry (Documentation/registry.rst), from init only.
	 * import() returns a stable pointer to @module's exported @symbol,
	 * valid across the provider's reloads, or NULL (the reason is logged):
	 * @sig must equal the export's signature; a provider not loaded is
	 * loaded from dir.  The import is a dependency edge.
	 */
	void *(*import)(mh_module *self, const char *module, const char *symbol,
			const char *sig);
	/* Declare a PPP callback point; NULL if @sig differs from before. */
	struct mh_ppp_point *(*ppp_declare)(mh_module *self, const char *point,
					    const char *sig);
	/* Add or remove a handler of @module's @point; 0 or -errno. */
	int (*ppp_register)(mh_module *self, const char *module,
			    const char *point, const char *sig,
			    void (*fn)(void));
	int (*ppp_unregister)(mh_module *self, const char *module,
			      const char *point, void (*fn)(void));

	/*
	 * Hypercall routes (Documentation/hypercall-abi.rst).  Route @magic to
	 * @fn until @self goes or unregisters it.  0, -EEXIST if another
	 * module (named in the log) has it, or -EINVAL for a host-reserved
	 * magic (0x4D480000-0x4D4800FF) or a real cpuid leaf range.  Any
	 * thread, any time; a route never outlives its module.
	 */
	int (*hypercall_register)(mh_module *self, uint32_t magic,
				  mh_hypercall_fn fn, void *opaque);
	int (*hypercall_unregister)(mh_module *self, uint32_t magic);
	/* Inside a handler: the hypercall @cpu is making; else NULL. */
	const struct mh_hypercall *(*hypercall_current)(mh_cpu *cpu);
	/* Does a handler's result reach the guest's rax (QEMU >= 10.1)? */
	bool (*hypercall_returns)(void);

	/* -- since 1.2 -- */

	/*
	 * Inside a memory callback: the value the access loaded or stored,
	 * zero-extended (the low half of a 16-byte access).
	 */
	uint64_t (*mem_value)(uint32_t meminfo);
	/*
	 * Inside exit: true when QEMU itself is ending.  Other vCPUs may still
	 * run the module's callbacks then, so exit must free nothing they
	 * use; false for an unload or a reload, after which exit frees all.
	 */
	bool (*exiting)(void);

	/* -- since 1.3 -- */

	/*
	 * The name of the module whose code or data holds @addr: a live
	 * module, or one whose init is running.  NULL for any other address
	 * (the host's, a library's, the heap, NULL).  The name stays valid
	 * until QEMU exits.  Any thread, hooks included.
	 */
	const char *(*module_of)(const void *addr);

	/* -- since 1.4 -- */

	/*
	 * What QEMU plugins see of QEMU, for the QEMU plugin compatibility
	 * layer (Documentation/qemu-plugins.rst); any module may use them.
	 * outs() writes @text to QEMU's log exactly as given: no prefix, no
	 * newline added.  qemu_info() lives until QEMU exits.
	 */
	void (*outs)(const char *text);
	const struct mh_qemu_info *(*qemu_info)(void);
	/*
	 * Every parameter given for this load, "KEY=VALUE" one per line in
	 * the order given (a key given twice is there twice); "" if none.
	 * With MH_PARAM_ANY() the keys need no declaration.
	 */
	const char *(*param_args)(mh_module *self);
	/*
	 * Run @cb(vcpu_index, @opaque) on each vCPU's thread when QEMU starts
	 * it, until @self goes; NULL removes it.  vCPUs started before the
	 * call are not visited: init() may do that itself (num_vcpus()).
	 */
	int (*set_vcpu_init)(mh_module *self, mh_vcpu_udata_cb cb, void *opaque);
	/*
	 * The target's registers in QEMU's order: the name of register @idx
	 * (for reg_lookup()) and in *@feature its register set; NULL past
	 * the end, or before the first vCPU started.
	 */
	const char *(*reg_name)(unsigned int idx, const char **feature);
	/* QEMU's disassembly of @insn: a new string, free() it; or NULL. */
	char *(*insn_disas)(const mh_insn *insn);
	/* Where the host mapped @insn's bytes, or NULL (an MMIO page). */
	void *(*insn_haddr)(const mh_insn *insn);

	/* -- since 1.5 -- */

	/*
	 * Run @cb(vcpu_index, @opaque) on the vCPU's thread at @ev, until
	 * @self goes; NULL removes it.  From init or a hook run with every
	 * vCPU stopped.  0, -EINVAL for an unknown @ev, or -EOPNOTSUPP for
	 * MH_VCPU_IDLE or MH_VCPU_RESUME on a machine with more than one
	 * vCPU (QEMU 10.0 cannot run them safely across a quiesce there).
	 */
	int (*set_vcpu_event)(mh_module *self, enum mh_vcpu_event ev,
			      mh_vcpu_udata_cb cb, void *opaque);
	/*
	 * Run @cb(@opaque) after QEMU flushed its translated code (the host's
	 * own quiesces included: every block is translated again), with
	 * every vCPU stopped; NULL removes it.
	 */
	int (*set_flush)(mh_module *self, mh_opaque_cb cb, void *opaque);
	/*
	 * From init: run the vcpu_init hook (set_vcpu_init()) for each vCPU
	 * that already runs, each on its own vCPU's thread, before that
	 * vCPU runs any block instrumented by @self: register reads there
	 * read that vCPU.  A vCPU that is halted gets it when it runs again.
	 */
	int (*vcpu_init_existing)(mh_module *self);
	/*
	 * Ask for @self's own unload, as "modctl unload NAME" would: queued,
	 * returns at once, exit runs later with every vCPU stopped.  Any
	 * thread, vCPU callbacks included; not from init.  0 or -errno.
	 */
	int (*unload_self)(mh_module *self);
	/*
	 * Run @fn(@self, @opaque) once, soon, with every vCPU stopped and the
	 * translated code flushed (so no block still carries what @self
	 * registered before); dropped if @self goes first.  Any thread.
	 */
	int (*run_stopped)(mh_module *self, mh_stopped_cb fn, void *opaque);
	/* Inside a memory callback: the access was big-endian. */
	bool (*mem_is_big_endian)(uint32_t meminfo);
	/* Inside a memory callback: the value the access moved, whole. */
	void (*mem_get_value)(uint32_t meminfo, struct mh_mem_value *val);
	/*
	 * Inside a memory callback: where the access at @vaddr went; NULL
	 * if QEMU cannot tell.  Valid until the callback returns.
	 */
	const mh_hwaddr *(*hwaddr)(uint32_t meminfo, uint64_t vaddr);
	/* These three take NULL too: not I/O, 0, "RAM". */
	bool (*hwaddr_is_io)(const mh_hwaddr *haddr);
	/* The guest physical address, or the offset into the device (I/O). */
	uint64_t (*hwaddr_phys)(const mh_hwaddr *haddr);
	/* The device's name for an I/O access ("RAM" otherwise): lives until QEMU exits. */
	const char *(*hwaddr_device)(const mh_hwaddr *haddr);
};

/* Does the running host's table have @member? */
#define MH_API_HAS(api, member) \
	(offsetof(struct mh_api, member) + sizeof((api)->member) <= (api)->size)

/**
 * struct mh_module_ops - a module's hooks, exported as "mh_module_ops"
 * @size: sizeof(struct mh_module_ops) when the module was built
 * @abi_major: MODHOST_ABI_MAJOR when the module was built
 * @abi_minor: MODHOST_ABI_MINOR when the module was built
 * @init: required.  Runs with every vCPU stopped.  Register hooks here.
 *	Return 0, or a negative errno to refuse the load (or roll back a reload).
 * @exit: optional.  At unload and before a reload, with every vCPU stopped;
 *	everything registered through @self is removed by the host afterwards,
 *	so free what the module allocated itself.  Also when QEMU exits: then
 *	other vCPUs may still run the module's callbacks (a guest can end QEMU
 *	from a vCPU), so write results out but free nothing they use.
 * @prepare: optional.  Heavy set-up before @init, on a host thread while the
 *	guest runs.  May log and read parameters, nothing else.
 * @save_state: optional.  Before a reload: hand the new version a blob.
 *	*@data must come from malloc(); the host frees it.
 * @restore_state: optional.  After the new version's @init: take the blob
 *	and the version string of the module that saved it.
 * @exports: the MH_EXPORT() table (set by MH_MODULE(); NULL if none)
 * @exports_end: its end
 * @imports: the MH_IMPORT() table (set by MH_MODULE(); NULL if none)
 * @imports_end: its end
 */
struct mh_module_ops {
	uint32_t size;
	uint16_t abi_major;
	uint16_t abi_minor;
	int (*init)(mh_module *self, const struct mh_api *api);
	void (*exit)(mh_module *self);
	int (*prepare)(mh_module *self, const struct mh_api *api);
	int (*save_state)(mh_module *self, void **data, size_t *len);
	int (*restore_state)(mh_module *self, const void *data, size_t len,
			     const char *old_version);
	const struct mh_export *exports;
	const struct mh_export *exports_end;
	const struct mh_import *imports;
	const struct mh_import *imports_end;
};

/**
 * struct mh_export - a function the module exports, made by MH_EXPORT()
 * @name: the symbol's name; others import it as MODULE.NAME
 * @sig: its signature string, e.g. "u32(p,u32,p)"
 * @fn: the function
 */
struct mh_export {
	const char *name;
	const char *sig;
	void (*fn)(void);
};

/**
 * struct mh_import - a symbol the module imports, made by MH_IMPORT()
 * @module: the provider
 * @name: the symbol
 * @sig: the signature the importer expects
 * @slot: the importer's function pointer, set by the host before init
 */
struct mh_import {
	const char *module;
	const char *name;
	const char *sig;
	void **slot;
};

/* The linker's bounds of the MH_EXPORT()/MH_IMPORT() sections, if any. */
extern const struct mh_export __start_mh_exports[]
	__attribute__((weak, visibility("hidden")));
extern const struct mh_export __stop_mh_exports[]
	__attribute__((weak, visibility("hidden")));
extern const struct mh_import __start_mh_imports[]
	__attribute__((weak, visibility("hidden")));
extern const struct mh_import __stop_mh_imports[]
	__attribute__((weak, visibility("hidden")));

/* -- Metadata macros --------------------------------------------------- */

#define MH_STRINGIFY_(x) #x
#define MH_STRINGIFY(x) MH_STRINGIFY_(x)
#define MH_CONCAT_(a, b) a##b
#define MH_CONCAT(a, b) MH_CONCAT_(a, b)

/* One "key=value" string in the metadata section. */
#define MH_INFO(key, value)						\
	static const char MH_CONCAT(mh_info_, __COUNTER__)[]		\
	__attribute__((section(MH_SECTION), used, aligned(1))) =	\
		key "=" value

/**
 * MH_MODULE() - declare a module: its metadata and its hooks
 * @name: module name, a string literal; must equal the file name minus ".so"
 * @version: version string
 * @license: SPDX license identifier
 * @description: one line
 * @...: designated initializers for struct mh_module_ops (.init is required)
 */
#define MH_MODULE(name, version, license, description, ...)		\
	MH_INFO("abi", MH_STRINGIFY(MODHOST_ABI_MAJOR) "."		\
		MH_STRINGIFY(MODHOST_ABI_MINOR));			\
	MH_INFO("name", name);						\
	MH_INFO("version", version);					\
	MH_INFO("license", license);					\
	MH_INFO("description", description);				\
	__attribute__((visibility("default")))				\
	const struct mh_module_ops mh_module_ops = {			\
		.size = sizeof(struct mh_module_ops),			\
		.abi_major = MODHOST_ABI_MAJOR,				\
		.abi_minor = MODHOST_ABI_MINOR,				\
		.exports = __start_mh_exports,				\
		.exports_end = __stop_mh_exports,			\
		.imports = __start_mh_imports,				\
		.imports_end = __stop_mh_imports,			\
		__VA_ARGS__						\
	}

/* A module that must be live before this one; loaded first from dir. */
#define MH_REQUIRES(module) MH_INFO("depends", module)

/**
 * MH_EXPORT() - export function @fn as MODULE.fn with signature @sig
 *
 * @fn must be declared before.  Others reach it through a stable pointer
 * that follows this module across reloads.
 */
/*
 * The table entries are packed back to back in their section, so each is
 * aligned exactly to its type: without it GCC aligns objects of 16 bytes or
 * more to 16 and a 24-byte struct mh_export leaves holes between entries.
 */
#define MH_EXPORT(fn, sig)						\
	MH_INFO("export", #fn ":" sig);					\
	static const struct mh_export MH_CONCAT(mh_export_, fn)		\
	__attribute__((section("mh_exports"), used,			\
		       aligned(__alignof__(struct mh_export)))) =	\
		{ #fn, sig, (void (*)(void))(fn) }

/**
 * MH_IMPORT() - import @module's exported @fn into the pointer variable @fn
 *
 * Declare the variable first, with the C type of the function, e.g.
 *	static uint32_t (*get_callers)(uint64_t *, uint32_t, unsigned int);
 *	MH_IMPORT("callstack_instr", get_callers, "u32(p,u32,u32)");
 * The host sets it before init; @module is loaded first, like MH_REQUIRES().
 */
#define MH_IMPORT(module, fn, sig)					\
	MH_INFO("import", module "." #fn ":" sig);			\
	static const struct mh_import MH_CONCAT(mh_import_, fn)		\
	__attribute__((section("mh_imports"), used,			\
		       aligned(__alignof__(struct mh_import)))) =	\
		{ module, #fn, sig, (void **)&(fn) }

/*
 * Parameters: MODULE.NAME=VALUE on the plugin's command line, applied at
 * each load.  @name is a bare identifier, @def the default (for STR a string
 * literal), @help one line.  A parameter given several times keeps its last
 * value, except a LIST (since 1.2): it starts empty and collects every value
 * given, in order; param_str() returns them one per line.
 */
#define MH_PARAM_(name, type, def, help)				\
	MH_INFO("param", #name ":" type ":" help);			\
	MH_INFO("paramdefault", #name ":" def)
#define MH_PARAM_BOOL(name, def, help) MH_PARAM_(name, "bool", #def, help)
#define MH_PARAM_INT(name, def, help) MH_PARAM_(name, "int", #def, help)
#define MH_PARAM_UINT(name, def, help) MH_PARAM_(name, "uint", #def, help)
#define MH_PARAM_STR(name, def, help) MH_PARAM_(name, "str", def, help)
#define MH_PARAM_LIST(name, help) MH_PARAM_(name, "list", "", help)
/*
 * Since 1.4: the module takes parameters of any name, undeclared, passed
 * through as strings; it reads them with param_args().  A declared one is
 * still checked against its type.
 */
#define MH_PARAM_ANY() MH_INFO("params", "any")

#ifdef __cplusplus
}
#endif

#endif /* MODHOST_MODULE_H */
