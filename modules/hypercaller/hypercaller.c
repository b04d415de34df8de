// SPDX-License-Identifier: MIT
/*
 * hypercaller - PANDA's hypercaller API (register_hypercall,
 * unregister_hypercall, hypercall_t) on top of the host's hypercall routes.
 *
 * Each registered magic becomes a host route owned by this module, whose
 * handler calls the consumer's hypercall_t.  The consumer is another
 * module, which may be unloaded or reloaded without telling us (PANDA
 * modules seldom unregister), and its code then goes away.  So each entry
 * remembers the module that holds the handler (mh_api.module_of) and the
 * loaded object it is in (dladdr: one private copy, by base and file), and
 * checks before every call that this copy still holds it and is still that
 * module's live one; a stale entry is dropped instead of called.  A module
 * that registers a magic again after its own reload (a new copy of the
 * same module) replaces its old entry.
 *
 * Entries live in a fixed-capacity array, bounds-checked, handed to the
 * next version across a reload of hypercaller itself.
 */
#define _GNU_SOURCE	/* dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/hypercaller.h>
#include <modhost/module.h>

#define MAX_ENTRIES 256

#define NAME_MAX_LEN 64		/* a module name's longest */

struct entry {
	uint32_t magic;
	uint32_t used;
	hypercall_t fn;
	void *fbase;			/* the object that holds fn ... */
	char file[200];			/* ... and its file: one loaded copy */
	char owner[NAME_MAX_LEN + 1];	/* the module it is a copy of */
};

static const struct mh_api *mh;
static mh_module *me;
static struct entry entries[MAX_ENTRIES];

/* The object holding @fn: true and its base and file, or false. */
static bool object_of(hypercall_t fn, void **base, const char **file)
{
	Dl_info info;

	if (!dladdr((void *)fn, &info) || !info.dli_fname)
		return false;
	*base = info.dli_fbase;
	*file = info.dli_fname;
	return true;
}

/*
 * Is @e's handler still in the copy it was registered from, and that copy
 * its module's live one (an unloaded copy may stay mapped)?
 */
static bool entry_live(const struct entry *e)
{
	const char *file, *owner;
	void *base;

	if (!object_of(e->fn, &base, &file) || base != e->fbase ||
	    strcmp(file, e->file))
		return false;
	owner = mh->module_of((const void *)e->fn);
	return owner && !strcmp(owner, e->owner);
}

static uint64_t dispatch(mh_cpu *cpu, const struct mh_hypercall *call,
			 void *opaque)
{
	struct entry *e = opaque;

	(void)call;
	if (!entry_live(e)) {
		mh->log(me, MH_LOG_WARN, "magic 0x%08" PRIx32 ": its handler's "
			"module is gone: route dropped", e->magic);
		mh->hypercall_unregister(me, e->magic);
		e->used = 0;
		return 0;
	}
	e->fn(cpu);
	return 0;
}

static struct entry *find(uint32_t magic)
{
	for (unsigned int i = 0; i < MAX_ENTRIES; i++)
		if (entries[i].used && entries[i].magic == magic)
			return &entries[i];
	return NULL;
}

static void register_hypercall(uint32_t magic, hypercall_t fn)
{
	struct entry *e = find(magic);
	const char *file, *owner;
	void *base;
	int ret;

	owner = fn ? mh->module_of((const void *)fn) : NULL;
	if (!owner || strlen(owner) > NAME_MAX_LEN ||
	    !object_of(fn, &base, &file)) {
		mh->log(me, MH_LOG_ERROR, "register_hypercall(0x%08" PRIx32 "): "
			"the handler is not in a loaded module", magic);
		return;
	}
	if (e) {
		/* Only its own module, reloaded, or a gone one makes way. */
		if (entry_live(e) && strcmp(e->owner, owner)) {
			mh->log(me, MH_LOG_ERROR, "register_hypercall(0x%08" PRIx32
				"): already registered by %s (-EEXIST)", magic,
				e->owner);
			return;
		}
		mh->hypercall_unregister(me, magic);
		e->used = 0;
	}
	for (e = entries; e < entries + MAX_ENTRIES && e->used; e++)
		;
	if (e == entries + MAX_ENTRIES) {
		mh->log(me, MH_LOG_ERROR, "register_hypercall(0x%08" PRIx32 "): "
			"more than %d magics", magic, MAX_ENTRIES);
		return;
	}
	e->magic = magic;
	e->fn = fn;
	e->fbase = base;
	strncpy(e->file, file, sizeof(e->file) - 1);
	e->file[sizeof(e->file) - 1] = '\0';
	strcpy(e->owner, owner);
	/* The host refuses reserved magics, leaves and other modules' routes. */
	ret = mh->hypercall_register(me, magic, dispatch, e);
	if (!ret)
		e->used = 1;
}
MH_EXPORT(register_hypercall, HYPERCALLER_REGISTER_SIG);

static void unregister_hypercall(uint32_t magic)
{
	struct entry *e = find(magic);

	if (!e)
		return;
	mh->hypercall_unregister(me, magic);
	e->used = 0;
}
MH_EXPORT(unregister_hypercall, HYPERCALLER_UNREGISTER_SIG);

static uint64_t hypercall_get_arg(CPUState *cpu, uint32_t idx)
{
	const struct mh_hypercall *c = mh->hypercall_current(cpu);

	return c && idx < 6 ? c->args[idx] : 0;
}
MH_EXPORT(hypercall_get_arg, HYPERCALLER_GET_ARG_SIG);

static uint32_t hypercall_get_magic(CPUState *cpu)
{
	const struct mh_hypercall *c = mh->hypercall_current(cpu);

	return c ? c->magic : 0;
}
MH_EXPORT(hypercall_get_magic, HYPERCALLER_GET_MAGIC_SIG);

static int hypercaller_init(mh_module *self, const struct mh_api *api)
{
	/* module_of (ABI 1.3) tells whose handler a pointer is. */
	if (!MH_API_HAS(api, module_of))
		return -ENOSYS;
	mh = api;
	me = self;
	return 0;
}

/* Our routes go with this version; the next one makes them again. */
static int hypercaller_save(mh_module *self, void **data, size_t *len)
{
	(void)self;
	*data = malloc(sizeof(entries));
	if (!*data)
		return -ENOMEM;
	memcpy(*data, entries, sizeof(entries));
	*len = sizeof(entries);
	return 0;
}

static int hypercaller_restore(mh_module *self, const void *data, size_t len,
			       const char *old_version)
{
	(void)old_version;
	if (len != sizeof(entries))
		return -EINVAL;
	memcpy(entries, data, len);
	for (unsigned int i = 0; i < MAX_ENTRIES; i++) {
		struct entry *e = &entries[i];

		if (e->used && (!entry_live(e) ||
				mh->hypercall_register(self, e->magic, dispatch, e)))
			e->used = 0;
	}
	return 0;
}

MH_MODULE("hypercaller", "1.0", "MIT",
	  "PANDA's hypercaller API: register_hypercall(magic, handler)",
	  .init = hypercaller_init, .save_state = hypercaller_save,
	  .restore_state = hypercaller_restore);
