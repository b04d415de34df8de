// SPDX-License-Identifier: MIT
/*
 * What the host lends a script engine (struct mh_script_host): the module
 * API table, the event log, and the few lifecycle and registry services
 * a script's decorators need with the reason of a failure, which the API
 * table only logs.  Apart from script.c, so that the pure parts of the
 * host (the loader, and with it modctl and the unit tests) link without
 * the lifecycle.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static void *host_import(struct mh_module *m, const char *module,
			 const char *name, const char *want, char **sig,
			 char **err)
{
	void (*fn)(void);
	void *p;

	*sig = NULL;
	if (mh_lifecycle_require(module, err))
		return NULL;
	if (mh_registry_current(module, name, &fn, sig, NULL)) {
		*err = g_strdup_printf("%s.%s is not exported (does %s export "
				       "%s?)", module, name, module, name);
		return NULL;
	}
	if (want && strcmp(want, *sig)) {
		*err = g_strdup_printf("%s.%s is %s, imported as %s", module, name,
				       *sig, want);
		g_clear_pointer(sig, g_free);
		return NULL;
	}
	p = mh_registry_import(m, module, name, *sig, err);
	if (!p)
		g_clear_pointer(sig, g_free);
	return p;
}

static char *host_ppp_sig(const char *module, const char *point, char **err)
{
	char *sig;

	if (mh_lifecycle_require(module, err))
		return NULL;
	sig = mh_registry_ppp_sig(module, point);
	if (!sig)
		*err = g_strdup_printf("PPP point %s.%s is not declared", module,
				       point);
	return sig;
}

static const struct mh_script_host script_host = {
	.api = &mh_host_api,
	.msg = mh_msg,
	.event_new = mh_event_new,
	.event_str = mh_event_str,
	.event_int = mh_event_int,
	.event_emit = mh_event_emit,
	.hook_timeout = mh_guard_timeout,
	.hypercall_register = mh_hypercall_register,
	.import = host_import,
	.ppp_sig = host_ppp_sig,
	.ppp_register = mh_registry_ppp_register,
};

void mh_scripthost_init(void)
{
	mh_script_set_host(&script_host);
}
