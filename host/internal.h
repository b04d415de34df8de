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
 * Locking: mh_lock (lifecycle.c) guards the entry table and the request
 * queue.  The live set is only changed with every vCPU stopped (inside a
 * quiesce) or before any vCPU exists, so vCPU-side readers (translation)
 * take no lock.
 */
#ifndef MODHOST_HOST_INTERNAL_H
#define MODHOST_HOST_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "qemu/qemu-plugin.h"
#include <modhost/module.h>

#define MH_NAME_MAX 64
#define MH_MAX_FILE_SIZE (256u << 20)

/* -- log.c ------------------------------------------------------------ */

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
void mh_event_int(GString *ev, const char *key, int64_t val);
void mh_event_emit(GString *ev);
void mh_json_escape(GString *out, const char *s);

/* -- params.c --------------------------------------------------------- */

enum mh_ptype { MH_PT_BOOL, MH_PT_INT, MH_PT_UINT, MH_PT_STR };

struct mh_host_args {
	char *dir;		/* module directory */
	char **load;		/* NULL-terminated, load order */
	bool watch;
	char *log;
	GHashTable *params;	/* module -> GHashTable(param -> value) */
};

int mh_args_parse(struct mh_host_args *a, int argc, char **argv,
		  const char *default_dir, char **err);
void mh_args_clear(struct mh_host_args *a);
int mh_ptype_from_string(const char *s, enum mh_ptype *t);
const char *mh_ptype_name(enum mh_ptype t);
/* Check @val against @t; 0 or -EINVAL with *err saying what was expected. */
int mh_param_check(enum mh_ptype t, const char *val, char **err);
bool mh_param_as_bool(const char *val);
bool mh_valid_module_name(const char *s, size_t len);
bool mh_valid_param_name(const char *s);

/* -- loader.c --------------------------------------------------------- */

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
};

int mh_meta_parse(const void *data, size_t len, struct mh_meta **out,
		  char **err);
int mh_meta_read(const char *path, struct mh_meta **out, char **err);
int mh_meta_check_abi(const struct mh_meta *m, char **err);
void mh_meta_free(struct mh_meta *m);
const struct mh_param_decl *mh_meta_param(const struct mh_meta *m,
					  const char *name);

struct mh_entry;

struct mh_module {
	struct mh_entry *entry;
	struct mh_meta *meta;
	char *file;		/* the file it was loaded from */
	void *handle;
	struct mh_module_ops ops;	/* zero-extended copy */
	GHashTable *params;	/* name -> value for this load */
	/* registrations, removed by mh_module_unregister() */
	mh_translate_cb translate;
	void *translate_opaque;
	GPtrArray *scoreboards;
	bool tainted;		/* a hook crashed: never dlclose */
};

int mh_loader_init(char **err);
void mh_loader_cleanup(void);
int mh_module_open(const char *path, const char *name,
		   GHashTable *overrides, struct mh_module **out, char **err);
void mh_module_close(struct mh_module *m);

/* -- guard.c ---------------------------------------------------------- */

/*
 * Run a module hook with SIGSEGV/SIGBUS/SIGILL/SIGFPE contained: a crash
 * returns -EFAULT instead of killing QEMU.
 */
void mh_guard_init(void);
typedef int (*mh_guarded_fn)(void *arg);
int mh_guard_call(mh_guarded_fn fn, void *arg, int *signo);

/* -- api.c ------------------------------------------------------------ */

extern const struct mh_api mh_host_api;
void mh_module_unregister(struct mh_module *m);
void mh_api_vcpu_init(void);

/* -- lifecycle.c ------------------------------------------------------ */

enum mh_state { MH_UNFORMED, MH_COMING, MH_LIVE, MH_GOING };

struct mh_entry {
	char *name;
	enum mh_state state;
	struct mh_module *live;
	unsigned int loads, reloads, rollbacks;
	int64_t last_pause_us;
};

enum mh_origin { MH_FROM_START, MH_FROM_WATCH };

int mh_lifecycle_init(const struct mh_host_args *args, char **err);
/* Load the start modules, before any vCPU runs. */
int mh_lifecycle_start(char **err);
/* Requests from host threads: prepare, queue, wait until applied. */
int mh_request_load(const char *name, enum mh_origin from);
int mh_request_unload(const char *name, bool force, enum mh_origin from);
/* Called with every vCPU stopped: apply what is queued. */
int mh_lifecycle_apply(void);
bool mh_lifecycle_pending(void);
/* At QEMU exit: fail queued requests, then unload every module. */
void mh_lifecycle_cancel(void);
void mh_lifecycle_exit(void);
/* vCPU-side, lock-free: the live modules' translate hooks. */
void mh_lifecycle_translate(struct qemu_plugin_tb *tb);
const char *mh_module_dir(void);
bool mh_module_is_loaded(const char *name);

/* -- quiesce.c -------------------------------------------------------- */

void mh_quiesce_init(qemu_plugin_id_t id);
void mh_quiesce_instrument(struct qemu_plugin_tb *tb);
void mh_quiesce_vcpu_init(unsigned int vcpu_index);
/* Ask the vCPUs to stop at their next block and apply queued work. */
void mh_quiesce_request(void);

/* -- watcher.c -------------------------------------------------------- */

int mh_watcher_start(const char *dir, char **err);
void mh_watcher_stop(void);

/* -- plugin.c --------------------------------------------------------- */

void mh_plugin_register_callbacks(void);
qemu_plugin_id_t mh_plugin_id(void);

#endif /* MODHOST_HOST_INTERNAL_H */
