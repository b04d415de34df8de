/* SPDX-License-Identifier: MIT */
/*
 * What the host's files share.  Everything else in host/ is static.
 *
 * Objects and their lifetimes:
 *  - struct mh_entry: one per module name the host has seen loaded; lives
 *    until QEMU exits.  Holds the state, the live instance and counters.
 *  - struct mh_module: one loaded copy of a module file (an "instance"),
 *    the `mh_module *self` handed to the module's hooks.  Created outside
 *    the guest pause (prepare), committed or dropped inside it.
 *  - struct mh_meta: the metadata read from a file, owned by its instance.
 *
 * Sections, one per file, each file's names with its own prefix: base
 * utilities (log, json, params, signature), what the core uses (loader,
 * guard, api, registry), the core (lifecycle, plan, quiesce), then the
 * front-ends (hypercall's guest control, request, watcher, control).
 *
 * Locking: mh_lock (lifecycle.c) guards the entry table, the live set and
 * plan.c's request queue.  The live set is only changed with every vCPU
 * stopped (inside a quiesce) or before any vCPU exists, so vCPU-side
 * readers (translation) take no lock.  request.c's req_lock (one requester
 * at a time) and param_lock (the parameters for the next load) are its own.
 */
#ifndef MODHOST_HOST_INTERNAL_H
#define MODHOST_HOST_INTERNAL_H

#include <ffi.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "qemu/qemu-plugin.h"
#include <modhost/hypercall.h>
#include <modhost/module.h>

#define MH_NAME_MAX 64
#define MH_MAX_FILE_SIZE (256u << 20)

/* -- log.c --------------------------------------------------------- */

int mh_log_open(const char *path, char **err);
void mh_log_close(void);
int64_t mh_log_now_us(void);

/* A human-readable line on QEMU's plugin output ("modhost: ..."). */
void mh_msg(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* An error: plugin output, and stderr while the host is starting. */
void mh_err(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void mh_log_starting(bool starting);

/*
 * Event log: one JSON object a line.  Build with mh_event_new(), add fields,
 * mh_event_emit() writes and frees.  Without log= it only frees.
 */
GString *mh_event_new(const char *event);
void mh_event_str(GString *ev, const char *key, const char *val);
/* A field of @len bytes that may hold NULs and bytes that are not UTF-8. */
void mh_event_strn(GString *ev, const char *key, const char *val, size_t len);
void mh_event_int(GString *ev, const char *key, int64_t val);
void mh_event_bool(GString *ev, const char *key, bool val);
void mh_event_emit(GString *ev);
/* "a, b": the distinct strings of @names, in first-seen order. */
char *mh_join_unique(GPtrArray *names);

/* -- json.c -------------------------------------------------------- */

/**
 * mh_json_escape_len() - append @len bytes of @s as a quoted JSON string
 * @out: where to append
 * @s: the bytes, any (NULs included)
 * @len: how many
 *
 * The result is valid UTF-8 JSON whatever @s holds: a byte that does not
 * start a valid UTF-8 sequence becomes U+FFFD, a NUL \u0000, control
 * characters and DEL are escaped.  mh_json_escape() takes a C string
 * (NULL writes "").
 */
void mh_json_escape_len(GString *out, const char *s, size_t len);
void mh_json_escape(GString *out, const char *s);

/*
 * Building JSON in a GString: each helper writes the comma that is due
 * before it (none after "{", "[" or a key), so objects and arrays nest
 * without bookkeeping.  mh_json_str() of NULL writes null.  The kv_
 * helpers are a key and its value.
 */
void mh_json_obj_begin(GString *j);
void mh_json_obj_end(GString *j);
void mh_json_arr_begin(GString *j);
void mh_json_arr_end(GString *j);
void mh_json_key(GString *j, const char *key);
void mh_json_str(GString *j, const char *s);
void mh_json_strn(GString *j, const char *s, size_t len);
void mh_json_int(GString *j, int64_t v);
void mh_json_uint(GString *j, uint64_t v);
void mh_json_bool(GString *j, bool v);
void mh_json_null(GString *j);
void mh_json_kv_str(GString *j, const char *key, const char *val);
void mh_json_kv_int(GString *j, const char *key, int64_t val);
void mh_json_kv_uint(GString *j, const char *key, uint64_t val);
void mh_json_kv_bool(GString *j, const char *key, bool val);

/* -- params.c ------------------------------------------------------ */

enum mh_ptype { MH_PT_BOOL, MH_PT_INT, MH_PT_UINT, MH_PT_STR, MH_PT_LIST };

/* One route=0xMAGIC:module.symbol argument, parsed. */
struct mh_route_arg {
	char *spec;		/* as given, after "route=" (for messages) */
	uint32_t magic;
	char *module;
	char *symbol;
};

struct mh_host_args {
	char *dir;		/* module directory */
	char **load;		/* NULL-terminated, load order */
	bool watch;
	char *log;
	GHashTable *params;	/* module -> GHashTable(param -> value) */
	char *ctl;		/* control socket path, or NULL */
	bool accounting;	/* time the modules' callbacks */
	bool guest_control;	/* may the guest load/unload/reload */
	struct mh_route_arg *routes;	/* route= arguments, in order */
	unsigned int nroutes;
	unsigned int hook_timeout;	/* seconds a module hook may run; 0: no bound */
	bool doorbell;		/* quiesce=doorbell: never QEMU's run-on-vCPU */
};

#define MH_HOOK_TIMEOUT_DEFAULT 5
#define MH_HOOK_TIMEOUT_MAX 3600

int mh_args_parse(struct mh_host_args *a, int argc, char **argv,
		  const char *default_dir, char **err);
void mh_args_clear(struct mh_host_args *a);
int mh_ptype_from_string(const char *s, enum mh_ptype *t);
const char *mh_ptype_name(enum mh_ptype t);
/*
 * A MODULE.PARAM given several times is kept as all its values, one per
 * line (no value holds a newline: QEMU's and the control socket's syntax
 * have no way to write one).  mh_param_add() appends @val to @key's values.
 * mh_param_value() is what a parameter of type @t gets: a LIST all of them,
 * any other type the last.
 */
void mh_param_add(GHashTable *params, const char *key, const char *val);
/*
 * mh_param_add() also keeps every "KEY=VALUE" it was given, one per line
 * in order, under the key MH_PARAM_ORDER (empty: no parameter's name), for
 * param_args(); whoever walks a parameter table skips it.
 */
#define MH_PARAM_ORDER ""
static inline bool mh_param_is_order(const char *key)
{
	return !*key;
}
/* Append "@key=@val" to the order line alone (a value set, not added). */
void mh_param_order_add(GHashTable *params, const char *key, const char *val);
const char *mh_param_value(enum mh_ptype t, const char *val);
/* Check @val against @t; 0 or -EINVAL with *err saying what was expected. */
int mh_param_check(enum mh_ptype t, const char *val, char **err);
bool mh_param_as_bool(const char *val);
bool mh_valid_module_name(const char *s, size_t len);
bool mh_valid_param_name(const char *s);
/*
 * 0xMAGIC (@len bytes of @s), a magic a module may route: 0, or -EINVAL
 * and *err saying why.
 */
int mh_magic_parse(const char *s, size_t len, uint32_t *magic, char **err);
/* route=0xMAGIC:module.symbol: 0, or -EINVAL and *err saying why. */
int mh_route_parse(const char *val, uint32_t *magic, char **module,
		   char **symbol, char **err);

/* -- signature.c --------------------------------------------------- */

enum mh_type {
	MH_T_VOID, MH_T_I8, MH_T_I16, MH_T_I32, MH_T_I64,
	MH_T_U8, MH_T_U16, MH_T_U32, MH_T_U64,
	MH_T_BOOL, MH_T_PTR, MH_T_GADDR, MH_T_STR,
};

#define MH_SIG_MAX_ARGS 16
#define MH_SIG_MAX_LEN 200

struct mh_sig {
	enum mh_type ret;
	unsigned int nargs;
	enum mh_type args[MH_SIG_MAX_ARGS];
};

int mh_sig_parse(const char *s, struct mh_sig *sig, char **err);
bool mh_sig_valid(const char *s);

/**
 * mh_sig_ffi_type() - the libffi type a signature type is passed as
 * @t: a signature type
 *
 * Return: a libffi type (ffi_type_void for MH_T_VOID).
 */
ffi_type *mh_sig_ffi_type(enum mh_type t);

/**
 * struct mh_sig_ffi - a signature parsed and prepared for libffi
 * @sig: the parsed signature
 * @cif: the call interface; it points into @args, so the struct is not
 *       copied once prepared
 * @args: the argument types
 */
struct mh_sig_ffi {
	struct mh_sig sig;
	ffi_cif cif;
	ffi_type *args[MH_SIG_MAX_ARGS];
};

/**
 * mh_sig_ffi_prep() - parse a signature and prepare its libffi call
 * @f: filled in
 * @s: the signature string
 * @err: why it failed
 *
 * Return: 0, or -EINVAL/-E2BIG (as mh_sig_parse()) and *@err.
 */
int mh_sig_ffi_prep(struct mh_sig_ffi *f, const char *s, char **err);

/* -- loader.c ------------------------------------------------------ */

/* An export or import named in a module's metadata. */
struct mh_meta_sym {
	char *module;		/* imports: the provider */
	char *name;
	char *sig;
};

struct mh_param_decl {
	char *name;
	enum mh_ptype type;
	char *def;
	char *help;
};

struct mh_meta {
	bool has_abi;
	unsigned int abi_major, abi_minor;
	char *name, *version, *license, *description;
	GPtrArray *depends;	/* char * */
	GPtrArray *params;	/* struct mh_param_decl * */
	GPtrArray *exports;	/* struct mh_meta_sym *, module NULL */
	GPtrArray *imports;	/* struct mh_meta_sym * */
	bool any_params;	/* params=any: undeclared parameters pass */
	char **targets;		/* targets=: QEMU targets served; NULL: all */
};

int mh_meta_parse(const void *data, size_t len, struct mh_meta **out,
		  char **err);
int mh_meta_read(const char *path, struct mh_meta **out, char **err);
int mh_meta_check_abi(const struct mh_meta *m, char **err);
/*
 * The target QEMU emulates (qemu_info_t.target_name), for the targets=
 * check; from qemu_plugin_install(), before any load.
 */
void mh_loader_set_target(const char *target);
/* Does @m serve the host's target?  0, or -ENOEXEC and *@err naming both. */
int mh_meta_check_target(const struct mh_meta *m, char **err);
void mh_meta_free(struct mh_meta *m);
const struct mh_param_decl *mh_meta_param(const struct mh_meta *m,
					  const char *name);
/* Every module @m needs live first: depends, then import providers. */
GPtrArray *mh_meta_requires(const struct mh_meta *m);

struct mh_entry;

struct mh_module {
	struct mh_entry *entry;
	struct mh_meta *meta;
	char *file;		/* the file it was loaded from */
	void *handle;
	struct mh_module_ops ops;	/* zero-extended copy */
	GHashTable *params;	/* name -> value for this load */
	/* registrations, removed when it goes (lifecycle.c) */
	mh_translate_cb translate;
	void *translate_opaque;
	mh_vcpu_udata_cb vcpu_init;	/* set_vcpu_init() */
	void *vcpu_init_opaque;
	mh_vcpu_udata_cb vcpu_event[MH_VCPU_RESUME + 1];	/* set_vcpu_event() */
	void *vcpu_event_opaque[MH_VCPU_RESUME + 1];
	mh_opaque_cb flush;		/* set_flush() */
	void *flush_opaque;
	/*
	 * vcpu_init_existing(): late_init[i] is set while vCPU i still has to
	 * run vcpu_init on its own thread (cleared there); late_n entries.
	 */
	int *late_init;
	unsigned int late_n;
	GPtrArray *scoreboards;
	GPtrArray *reg_imports;	/* registry symbols it imports (edges) */
	GPtrArray *reg_points;	/* PPP points it declared */
	char *reg_error;	/* a registry call in init failed: why */
	bool tainted;		/* a hook crashed: never dlclose */
	/* A QEMU plugin binary (no .modhost): the layer's private copy. */
	bool qplugin;
	void *layer;
	char *why;		/* a failed hook's own reason (a script's error) */
	char *said;		/* the last error it logged in its running hook */
	void *script;		/* NAME.py: the script engine's instance */
	char *image;		/* checked by mh_loader_check(), not yet mapped */
	size_t image_size;
	struct stat file_st;	/* the file as it was read (the watcher's rescan) */
};

int mh_loader_init(char **err);
void mh_loader_cleanup(void);
/*
 * Open a module file in two steps: check it (metadata, ABI, name, params,
 * ops header; no code of it runs), then map it (dlopen, constructors).
 */
int mh_loader_check(const char *path, const char *name,
		    GHashTable *overrides, struct mh_module **out, char **err);
int mh_loader_map(struct mh_module *mod, char **err);
void mh_loader_close(struct mh_module *m);

/* -- script.c ------------------------------------------------------ */

/*
 * Scripts as modules: a NAME.py in dir is module NAME, run by a script
 * engine (the Python one, modhost-python.so beside modhost.so) that the
 * host dlopens when the first script is mapped.  To the lifecycle a script
 * is a module like any other: the engine fills in its ops.
 */
#define MH_SCRIPT_SUFFIX ".py"

/* Is @path a script (NAME.py)? */
bool mh_script_is_file(const char *path);
/**
 * mh_script_meta() - the metadata of a script, read from its text
 * @path: the file, for messages
 * @text: its bytes
 * @len: how many
 * @out: the metadata: the host's ABI, the file's name, __version__,
 *       __license__ and the docstring's first line when it has them, and
 *       any parameter
 * @err: why it was refused
 *
 * No code of the script runs.  Return: 0, or -EINVAL (not UTF-8 text, a
 * NUL byte) and *@err.
 */
int mh_script_meta(const char *path, const char *text, size_t len,
		   struct mh_meta **out, char **err);
/* Hand @mod (checked, its text in mod->image) to the engine: ops filled. */
int mh_script_map(struct mh_module *mod, char **err);
/* @mod goes: the engine lets go of its instance. */
void mh_script_close(struct mh_module *mod);

/**
 * struct mh_script_host - what the host lends a script engine
 * @api: the module API table
 * @msg: a line on QEMU's plugin output
 * @event_new: see mh_event_new() and the rest of the event log
 * @event_str: a string field
 * @event_int: an integer field
 * @event_emit: write and free the event
 * @hook_timeout: mh_guard_timeout()
 * @hypercall_register: mh_hypercall_register()
 * @import: from init: import @module.@name (loading @module if need be)
 *          with its export's signature, which must equal @want if set;
 *          the stable pointer and in *@sig the signature, or NULL and *@err
 * @ppp_sig: from init: the signature of @module's point @point (loading
 *           @module if need be), or NULL and *@err
 * @ppp_register: mh_registry_ppp_register()
 */
struct mh_script_host {
	const struct mh_api *api;
	void (*msg)(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
	GString *(*event_new)(const char *event);
	void (*event_str)(GString *ev, const char *key, const char *val);
	void (*event_int)(GString *ev, const char *key, int64_t val);
	void (*event_emit)(GString *ev);
	unsigned int (*hook_timeout)(void);
	int (*hypercall_register)(struct mh_module *m, uint32_t magic,
				  mh_hypercall_fn fn, void *opaque, char **err);
	void *(*import)(struct mh_module *m, const char *module,
			const char *name, const char *want, char **sig,
			char **err);
	char *(*ppp_sig)(const char *module, const char *point, char **err);
	int (*ppp_register)(struct mh_module *m, const char *module,
			    const char *name, const char *sig,
			    void (*fn)(void), char **err);
};

/**
 * struct mh_script_engine - a script engine's entry points
 * @open: make @mod's instance from its text (@mod->image): set @mod->ops
 *        and @mod->script; no code of the script runs yet
 * @close: free @mod's instance
 */
struct mh_script_engine {
	int (*open)(struct mh_module *mod, char **err);
	void (*close)(struct mh_module *mod);
};

/* The host's services for the engine; until set, no script maps. */
void mh_script_set_host(const struct mh_script_host *host);

/* The engine object's one entry point, by this name. */
#define MH_SCRIPT_ENGINE_ENTRY "mh_python_engine"
typedef const struct mh_script_engine *
(*mh_script_engine_entry)(const struct mh_script_host *host, char **err);

/* -- scripthost.c -------------------------------------------------- */

/* Lend the script engine the host's services (at start). */
void mh_scripthost_init(void);

/* -- guard.c ------------------------------------------------------- */

/*
 * Module hooks run contained: a crash (SIGSEGV/SIGBUS/SIGILL/SIGFPE),
 * abort(), exit() and friends called by the module's code (its GOT bound
 * by the loader), or a hook still running after the hook timeout ends the
 * hook, not QEMU.  A hook past its timeout is ended only where leaving it
 * is safe: in the module's own code, with no library or host frame between
 * it and the guard; one that never gets there is reported, then ended
 * wherever it is as a last resort.
 */
enum mh_guard_kind { MH_GUARD_NONE, MH_GUARD_SIGNAL, MH_GUARD_EXIT,
		     MH_GUARD_TIMEOUT };

struct mh_guard_fault {
	enum mh_guard_kind kind;
	int signo;		/* MH_GUARD_SIGNAL */
	const char *fn;		/* MH_GUARD_EXIT: "exit", "_exit" ... */
	int status;		/* MH_GUARD_EXIT: the status asked for */
	bool unsafe;		/* MH_GUARD_TIMEOUT: ended by the last resort,
				 * outside the module's own code */
};

/*
 * Told, on a thread of its own, of a hook the watchdog cannot end safely
 * (the last resort comes later).
 */
typedef void (*mh_guard_stuck_fn)(const char *module, const char *line);
/**
 * mh_guard_init() - install the handlers, start the hook watchdog
 * @hook_timeout_s: bound on a hook's run time in seconds; 0: none
 * @stuck: told of a hook still running a grace after its timeout
 * @err: why it failed
 *
 * Return: 0, or -EBUSY when no real-time signal is free for the watchdog.
 */
int mh_guard_init(unsigned int hook_timeout_s, mh_guard_stuck_fn stuck,
		  char **err);
/* The bound on a hook's run time in seconds, 0 if none. */
unsigned int mh_guard_timeout(void);
typedef int (*mh_guarded_fn)(void *arg);
/*
 * Functions that call a module's hook for mh_guard_call() (the @fn it is
 * given) go in this section: the watchdog knows their frames for the
 * guard's own, and may end the hook with them on the stack.
 */
#define MH_GUARD_ENTRY __attribute__((section("mh_guard_entry"), noinline))
/**
 * mh_guard_call() - run a module hook contained
 * @mod: whose hook it is: the hook may be ended at the timeout only while
 *       it runs @mod's own code (its mapped copy's executable segments)
 * @hook: "init", "exit" ..., for the watchdog's report
 * @fn: calls the hook; MH_GUARD_ENTRY
 * @arg: for @fn
 * @fault: how the hook was ended, kind MH_GUARD_NONE if it returned
 *
 * Return: what @fn returned, or -EFAULT (signal), -ECANCELED (exit) or
 * -ETIMEDOUT (hook timeout) when it was ended.
 */
int mh_guard_call(const struct mh_module *mod, const char *hook,
		  mh_guarded_fn fn, void *arg, struct mh_guard_fault *fault);
/* "init called exit(3)": a line for an ended hook, or NULL if it returned. */
char *mh_guard_describe(const char *hook, const struct mh_guard_fault *f);
/* The host function a module's GOT entry for @name is bound to, or NULL. */
void *mh_guard_catcher(const char *name);

/* -- regs.c -------------------------------------------------------- */

/**
 * struct mh_regs_reg - one register of the target, as QEMU lists it
 * @name: QEMU's name for it ("rax", "x0" ...)
 * @feature: the register set QEMU files it under (gdb's feature name)
 * @handle: for qemu_plugin_read_register()
 * @width: its size in bytes (what a read returned), 0 if the read failed
 */
struct mh_regs_reg {
	char *name;
	char *feature;
	struct qemu_plugin_register *handle;
	unsigned int width;
};

/**
 * mh_regs_vcpu_init() - build the register table, once
 *
 * From a vCPU init callback (QEMU lists registers only on a vCPU thread).
 * The first call builds the table, later ones return at once; every
 * caller returns with the table built.
 */
void mh_regs_vcpu_init(void);

/**
 * mh_regs_find() - a register by name
 * @name: QEMU's name for it
 *
 * Lock-free; the entry lives until QEMU exits.
 *
 * Return: the register, or NULL if the target has none of that name or no
 * vCPU has been initialised yet.
 */
const struct mh_regs_reg *mh_regs_find(const char *name);
/* The @idx-th register in QEMU's order; NULL past the end or too early. */
const struct mh_regs_reg *mh_regs_nth(unsigned int idx);

/* -- api.c --------------------------------------------------------- */

extern const struct mh_api mh_host_api;
/* @m goes: what it registered through the table (translate, scoreboards). */
void mh_api_release(struct mh_module *m);
void mh_api_vcpu_init(void);
/* At start: what QEMU told the host, kept for qemu_info(). */
void mh_api_set_qemu_info(const qemu_info_t *info);
/* Every vCPU is stopped, the code flushed: free the scoreboards let go. */
void mh_api_quiesced(void);
/*
 * qemu_plugin_register_vcpu_tb_exec_cond_cb(), or, where QEMU 10.0's
 * inline code would corrupt the guest (one thread, several vCPUs), a
 * plain callback that tests the condition (api.c).
 */
void mh_api_tb_exec_cond_cb(struct qemu_plugin_tb *tb, mh_vcpu_udata_cb cb,
			    enum qemu_plugin_cb_flags flags,
			    enum qemu_plugin_cond cond, qemu_plugin_u64 entry,
			    uint64_t imm, void *udata);
/* Translated code was flushed (every vCPU stopped): api.c forgets its stand-ins. */
void mh_api_flushed(void);
/*
 * From the applying thread, every vCPU stopped and the code flushed: run
 * the live modules' run_stopped() calls queued so far.
 */
void mh_api_run_stopped(void);
/*
 * From the host's tb_trans, before the modules' hooks: while some vCPU
 * still owes a module its late vcpu_init (vcpu_init_existing()), put the
 * check that runs it on every block.
 */
void mh_api_late_init_instrument(struct qemu_plugin_tb *tb);
/* On vCPU @vcpu_index: run @m's vcpu_init if that vCPU still owes it. */
void mh_api_late_init_vcpu(struct mh_module *m, unsigned int vcpu_index);
/* Accounting. */
void mh_api_set_accounting(bool on);
bool mh_api_accounting(void);
/* Run @m's translate hook, its registrations counted on its entry. */
void mh_api_translate(struct mh_module *m, struct qemu_plugin_tb *tb);
/*
 * accounting=on: time one call and charge it to @e in leave, less the
 * time of the timed calls nested in it (charged to their own modules).
 */
struct mh_acct_frame {
	uint64_t t0;
	uint64_t outer_nested;
};
void mh_api_acct_enter(struct mh_acct_frame *f);
void mh_api_acct_leave(struct mh_acct_frame *f, struct mh_entry *e);

/* -- registry.c ---------------------------------------------------- */

void mh_registry_init(void);
/* Before @m's init: check its tables, keep what importers use, bind imports. */
int mh_registry_bind(struct mh_module *m, bool reload, char **err);
/* Would @m, replacing the live version, keep what importers use? */
int mh_registry_check_reload(struct mh_module *m, char **err);
/* After @m's init succeeded: its exports are what importers reach. */
void mh_registry_publish(struct mh_module *m);
/* @module is gone: calls to its exports return zero from now on. */
void mh_registry_retire(const char *module);
/* @m goes: its import edges, declared points and handlers go with it. */
void mh_registry_release(struct mh_module *m);
/* Append the modules that import from or handle points of @module. */
void mh_registry_users(const char *module, GPtrArray *users);
/* Every vCPU is stopped: free replaced handler sets. */
void mh_registry_quiesced(void);
/* The exports and PPP points, a JSON array for the control socket. */
void mh_registry_describe(GString *json);
void *mh_registry_import(struct mh_module *m, const char *module,
			 const char *name, const char *sig, char **err);
struct mh_ppp_point *mh_registry_ppp_declare(struct mh_module *m,
					     const char *name, const char *sig,
					     char **err);
int mh_registry_ppp_register(struct mh_module *m, const char *module,
			     const char *name, const char *sig,
			     void (*fn)(void), char **err);
int mh_registry_ppp_unregister(struct mh_module *m, const char *module,
			       const char *name, void (*fn)(void));
/* The signature of the declared PPP point @module.@name, or NULL. */
char *mh_registry_ppp_sig(const char *module, const char *name);
/*
 * Export @module.@name's current function, signature and (if @provider)
 * the instance exporting it; -ENOENT if not live.
 */
int mh_registry_current(const char *module, const char *name,
			void (**fn)(void), char **sig,
			struct mh_module **provider);
/**
 * mh_registry_gen() - the registry's generation
 *
 * A number that changes whenever any export's function, signature or
 * provider does (a load, reload or unload publishing or retiring one).
 * What a caller learnt from mh_registry_current() holds while it stays the
 * same, so a hypercall route keeps its prepared call without asking the
 * registry again.  No lock: one atomic load.
 */
uint64_t mh_registry_gen(void);

/* -- lifecycle.c --------------------------------------------------- */

enum mh_state { MH_UNFORMED, MH_COMING, MH_LIVE, MH_GOING };

struct mh_entry {
	char *name;
	enum mh_state state;
	struct mh_module *live;
	unsigned int loads, reloads, rollbacks;
	int64_t last_pause_us;
	/*
	 * Accounting for the control socket's stats, across versions.  Added
	 * to from vCPU threads with relaxed atomics (api.c): read them so.
	 */
	uint64_t callbacks;	/* exec, conditional and memory callbacks registered */
	uint64_t inline_ops;	/* inline operations registered */
	uint64_t hypercalls;	/* hypercalls it handled */
	uint64_t cb_calls;	/* accounting=on: callbacks run ... */
	uint64_t cb_ns;		/* ... and the time spent in them */
};

enum mh_origin { MH_FROM_START, MH_FROM_WATCH, MH_FROM_IMPORT, MH_FROM_CTL,
		 MH_FROM_GUEST, MH_FROM_SELF };

/*
 * mh_lock guards the entry table, the live set and plan.c's request queue
 * and the requests' results.  Taken by lifecycle.c (queries; held for a
 * whole apply, so module hooks run under it) and plan.c (queue, submit,
 * cancel).  Never taken while holding another host lock.
 */
extern GMutex mh_lock;

int mh_lifecycle_init(const struct mh_host_args *args, char **err);
/* "start", "watch" ...: the event field "from" for @from. */
const char *mh_lifecycle_origin(enum mh_origin from);
/* The module directory (dir=), and the file @name loads from in it. */
const char *mh_lifecycle_dir(void);
char *mh_lifecycle_path(const char *name);
bool mh_lifecycle_is_loaded(const char *name);
/* Run @mod's prepare hook, if any, guarded; *err says why it failed. */
int mh_lifecycle_prepare(struct mh_module *mod, char **err);
/* @mod logged @text as an error: kept as the reason if a hook of it runs. */
void mh_lifecycle_hook_said(struct mh_module *mod, const char *text);
/* A request for @name (@file, or NULL) is refused: event and error line. */
void mh_lifecycle_reject(const char *name, const char *file, const char *error);
/* A hook of @name the watchdog cannot end (mh_guard_stuck_fn): event, line. */
void mh_lifecycle_hook_stuck(const char *name, const char *line);
/* Would unloading @name be refused now?  0, or -errno and *@err. */
int mh_lifecycle_unload_check(const char *name, bool force, char **err);
/* Called with every vCPU stopped: apply what is queued. */
int mh_lifecycle_apply(void);
/* 0 if @name is live; from init (inside an apply), load it now if not. */
int mh_lifecycle_require(const char *name, char **err);
void mh_lifecycle_exit(void);
/* True from mh_lifecycle_exit() on: exit hooks run because QEMU ends. */
bool mh_lifecycle_exiting(void);
/*
 * The name of the module (an entry's: it lives until QEMU exits) whose live
 * instance, or instance whose init is running, @match accepts; NULL if
 * none.  Any thread, module hooks included.
 */
const char *mh_lifecycle_owner(bool (*match)(const struct mh_module *m,
					     const void *key),
			       const void *key);
/* vCPU-side, lock-free: the live modules' translate hooks. */
void mh_lifecycle_translate(struct qemu_plugin_tb *tb);
/* vCPU-side, lock-free: vCPU @vcpu_index starts; the live modules' hooks. */
void mh_lifecycle_vcpu_init(unsigned int vcpu_index);
/* vCPU-side, lock-free: the late vcpu_init vCPU @vcpu_index owes modules. */
void mh_lifecycle_late_init(unsigned int vcpu_index);
/* vCPU-side, lock-free: @ev on vCPU @vcpu_index; the live modules' hooks. */
void mh_lifecycle_vcpu_event(enum mh_vcpu_event ev, unsigned int vcpu_index);
/* Does a live module handle @ev?  (quiesce.c registers idle/resume then.) */
bool mh_lifecycle_wants_vcpu_event(enum mh_vcpu_event ev);
/* Translated code was flushed, every vCPU stopped: the modules' flush hooks. */
void mh_lifecycle_flush(void);
/*
 * True while this thread applies requests (every vCPU stopped, translated
 * code flushed, or no vCPU yet): what a module frees now is unreachable.
 */
bool mh_lifecycle_applying(void);
/*
 * Call @fn for each entry (live ones in load order, then the others by
 * name), or for the one named, with mh_lock held: @fn must not block.
 * @users: the live modules that use it (char *, each once; read only).
 */
typedef void (*mh_entry_fn)(const struct mh_entry *e, GPtrArray *users,
			    void *opaque);
void mh_lifecycle_foreach(bool live_only, mh_entry_fn fn, void *opaque);
int mh_lifecycle_with(const char *name, mh_entry_fn fn, void *opaque);
/* After a quiesce: the modules it changed paused the guest @pause_us. */
void mh_lifecycle_note_pause(int64_t pause_us);

/* -- plan.c -------------------------------------------------------- */

enum mh_req_kind { MH_REQ_LOAD, MH_REQ_RELOAD, MH_REQ_UNLOAD };

/* One queued change to one module; results under mh_lock. */
struct mh_req {
	enum mh_req_kind kind;
	char *name;
	struct mh_module *mod;	/* the prepared instance (load, reload) */
	bool force;
	enum mh_origin from;
	bool done;
	int result;
	char *error;		/* why it failed, for the control socket */
};

struct mh_req *mh_plan_req_new(enum mh_req_kind kind, const char *name,
			       struct mh_module *mod, bool force,
			       enum mh_origin from);
void mh_plan_req_free(struct mh_req *r);
/* An empty plan: an array of struct mh_req that frees them. */
GPtrArray *mh_plan_new(void);
/*
 * Plan loading @name: open it and, depth first, every module it requires
 * that is not live (parameters from @params, module -> table), run their
 * prepare(), append the requests to @plan in the order they apply.
 */
int mh_plan_load(const char *name, enum mh_origin from, GHashTable *params,
		 GPtrArray *plan, char **err);
/*
 * Queue @plan and wait until every request in it has been applied:
 * @direct, now on this thread (no vCPU yet), or else by a quiesce.
 */
int mh_plan_submit(GPtrArray *plan, bool direct);
/* The applying half (lifecycle.c): the next queued request, or NULL ... */
struct mh_req *mh_plan_next_locked(void);
/* ... and, the queue drained, wake the requesters. */
void mh_plan_done_locked(void);
bool mh_plan_pending(void);
/* At QEMU exit: fail what is queued and every later submit. */
void mh_plan_cancel(void);

/* -- quiesce.c ----------------------------------------------------- */

/*
 * Register the host's callbacks (vcpu_init, tb_trans and @atexit_fn), and
 * again after each quiesce: QEMU's reset drops them.
 */
void mh_quiesce_init(qemu_plugin_id_t id, qemu_plugin_udata_cb_t atexit_fn,
		     bool doorbell);
/*
 * Have a vCPU stop them all and apply queued work: at once through QEMU's
 * queued work, or (quiesce=doorbell) at the next block a vCPU runs.
 */
void mh_quiesce_request(void);
/* A module handles @ev: have QEMU's idle or resume callback registered. */
void mh_quiesce_want_vcpu_event(enum mh_vcpu_event ev);

/* -- hypercall.c --------------------------------------------------- */

/* The magics (MH_HC_RESERVED_*, MH_HC_LOAD ...) are <modhost/hypercall.h>. */

/* A real cpuid leaf: 0x0000xxxx, 0x4000xxxx, 0x8000xxxx or 0xC000xxxx. */
static inline bool mh_hypercall_is_leaf(uint32_t magic)
{
	return !(magic & 0x3FFF0000u);
}

/* May a route have @magic?  Not host-reserved, not a real cpuid leaf. */
static inline bool mh_hypercall_routable(uint32_t magic)
{
	return !mh_hypercall_is_leaf(magic) &&
	       (magic < MH_HC_RESERVED_FIRST || magic > MH_HC_RESERVED_LAST);
}

/* At start: guest_control= and the route= routes. */
int mh_hypercall_init(const struct mh_host_args *args, char **err);
void mh_hypercall_vcpu_init(void);
/* From the host's tb_trans: callbacks on the hypercall instructions only. */
void mh_hypercall_instrument(struct qemu_plugin_tb *tb);
int mh_hypercall_register(struct mh_module *m, uint32_t magic,
			  mh_hypercall_fn fn, void *opaque, char **err);
int mh_hypercall_unregister(struct mh_module *m, uint32_t magic);
/*
 * The control socket's route and unroute: a symbol route like route=
 * (@live: the provider is loaded, so check its export now), and the
 * removal of one; 0 or -errno and *err.
 */
int mh_hypercall_route_add(uint32_t magic, const char *module,
			   const char *symbol, bool live, char **err);
int mh_hypercall_route_del(uint32_t magic, char **err);
const struct mh_hypercall *mh_hypercall_current(unsigned int vcpu_index);
bool mh_hypercall_returns(void);
/* @m goes: its routes go with it. */
void mh_hypercall_release(struct mh_module *m);
/* Every vCPU is stopped: free replaced route tables. */
void mh_hypercall_quiesced(void);
/* The routes, a JSON array for the control socket. */
void mh_hypercall_describe(GString *json);
/* At QEMU exit: report what the rate limits held back. */
void mh_hypercall_exit(void);

/* -- request.c ----------------------------------------------------- */

/* Check the MODULE.PARAM given for modules whose files are there. */
int mh_request_init(const struct mh_host_args *args, char **err);
/* Load the start modules, before any vCPU runs. */
int mh_request_start(char **err);
/* Requests from host threads: prepare, queue, wait until applied. */
int mh_request_load(const char *name, enum mh_origin from);
int mh_request_unload(const char *name, bool force, enum mh_origin from);
/*
 * The control socket's: like mh_request_load/unload, but strict (load of
 * a live module and reload of one that is not are errors), with
 * parameters for a load, and *@err saying why on failure.  Blocks until
 * applied.
 */
int mh_request(enum mh_req_kind kind, const char *name, GHashTable *params,
	       bool force, enum mh_origin from, char **err);
/*
 * A guest's load/unload/reload: queued for a worker thread, which runs it
 * like mh_request() and logs a guest_request event; the vCPU never waits.
 * 0, -EAGAIN (too many queued) or -ECANCELED (exiting).
 */
int mh_request_async(enum mh_req_kind kind, const char *name,
		     enum mh_origin from);
/* Set MODULE.KEY=VALUE for the module's next load or reload. */
int mh_request_param_set(const char *name, const char *key,
			 const char *value, char **err);
/* A copy of the parameter values given for @name's next load, or NULL. */
GHashTable *mh_request_params(const char *name);
/* At QEMU exit: fail queued and guest requests, refuse new ones. */
void mh_request_cancel(void);

/* -- watcher.c ----------------------------------------------------- */

int mh_watcher_start(const char *dir, char **err);
void mh_watcher_stop(void);

/* -- ctlparse.c ---------------------------------------------------- */

/* The request grammar (pure: fuzzed by tests/fuzz/ctl-parse.c). */
#define MH_CTL_LINE_MAX 4096

enum mh_ctl_cmd {
	MH_CTL_LIST, MH_CTL_INFO, MH_CTL_LOAD, MH_CTL_UNLOAD, MH_CTL_RELOAD,
	MH_CTL_SYMBOLS, MH_CTL_ROUTES, MH_CTL_STATS, MH_CTL_PARAM,
	MH_CTL_ROUTE, MH_CTL_UNROUTE,
};

struct mh_ctl_req {
	enum mh_ctl_cmd cmd;
	char *name;		/* every command that takes a module */
	GHashTable *params;	/* load, param: KEY -> VALUE; NULL if none */
	bool force;		/* unload NAME force */
	uint32_t magic;		/* route, unroute */
	char *symbol;		/* route: name is the module */
};

/*
 * Parse one request line (@len bytes, no newline).  0 and @req filled, or
 * -EINVAL and *@err one printable line saying why.
 */
int mh_ctl_parse(const char *line, size_t len, struct mh_ctl_req *req,
		 char **err);
void mh_ctl_req_clear(struct mh_ctl_req *req);

/**
 * struct mh_ctl_command - one command of the control socket
 * @word: the request's first word
 * @cmd: what it parses to
 * @min_args: fewest words after @word
 * @max_args: most words after @word (G_MAXUINT: no limit)
 * @args: the arguments for a usage line ("NAME [force]"), or ""
 * @help: one line saying what it does (modctl --help)
 */
struct mh_ctl_command {
	const char *word;
	enum mh_ctl_cmd cmd;
	unsigned int min_args, max_args;
	const char *args;
	const char *help;
};
/* Every command, in the order help shows them; ends with a NULL word. */
extern const struct mh_ctl_command mh_ctl_commands[];
/**
 * mh_ctl_command_find() - the command a request word names
 * @word: a NUL-terminated word
 *
 * Return: its entry in mh_ctl_commands[], or NULL if none.
 */
const struct mh_ctl_command *mh_ctl_command_find(const char *word);
/**
 * mh_ctl_usage() - @c's usage line, "word args"
 * @c: an entry of mh_ctl_commands[]
 *
 * Return: a new string, for g_free().
 */
char *mh_ctl_usage(const struct mh_ctl_command *c);
/* Does @cmd go through the lifecycle's requests (and so may block)? */
bool mh_ctl_changes_modules(enum mh_ctl_cmd cmd);

/* -- control.c ----------------------------------------------------- */

/* The socket: create it and start the thread that serves it. */
int mh_control_start(const char *path, char **err);
void mh_control_stop(void);

#endif /* MODHOST_HOST_INTERNAL_H */
