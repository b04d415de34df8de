// SPDX-License-Identifier: MIT
/*
 * QEMU entry point: arguments, start-up, and the host's own callbacks.
 *
 * The host registers three callbacks with QEMU: vcpu_init, tb_trans and
 * atexit.  A quiesce (qemu_plugin_reset) drops them all, so
 * mh_plugin_register_callbacks() is called again after each one.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static qemu_plugin_id_t host_id;
static struct mh_host_args args;

static void host_vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
	(void)id;
	mh_api_vcpu_init();
	mh_hypercall_vcpu_init();
	mh_quiesce_vcpu_init(vcpu_index);
}

static void host_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	mh_quiesce_instrument(tb);
	mh_hypercall_instrument(tb);
	mh_lifecycle_translate(tb);
}

static void host_atexit(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	mh_request_cancel();
	mh_watcher_stop();
	mh_control_stop();
	mh_lifecycle_exit();
	mh_loader_cleanup();
	mh_hypercall_exit();
	mh_log_close();
}

void mh_plugin_register_callbacks(void)
{
	qemu_plugin_register_vcpu_init_cb(host_id, host_vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(host_id, host_tb_trans);
	qemu_plugin_register_atexit_cb(host_id, host_atexit, NULL);
}

/* modules/ beside modhost.so */
static char *default_dir(void)
{
	Dl_info info;
	g_autofree char *base = NULL;

	if (!dladdr((void *)qemu_plugin_install, &info) || !info.dli_fname)
		return g_strdup("modules");
	base = g_path_get_dirname(info.dli_fname);
	return g_build_filename(base, "modules", NULL);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	g_autofree char *defdir = default_dir();
	g_autofree char *err = NULL;

	host_id = id;
	if (!info->system_emulation) {
		err = g_strdup("needs system emulation (qemu-system-*)");
		goto fail;
	}
	if (mh_args_parse(&args, argc, argv, defdir, &err) ||
	    mh_log_open(args.log, &err) ||
	    mh_guard_init(args.hook_timeout, &err))
		goto fail;
	mh_api_set_accounting(args.accounting);
	mh_registry_init();
	if (mh_hypercall_init(&args, &err))
		goto fail;
	if (mh_loader_init(&err) || mh_lifecycle_init(&args, &err) ||
	    mh_request_init(&args, &err))
		goto fail;
	mh_quiesce_init(id);
	mh_plugin_register_callbacks();

	GString *ev = mh_event_new("start");
	mh_event_str(ev, "dir", args.dir);
	mh_event_int(ev, "abi_major", MODHOST_ABI_MAJOR);
	mh_event_int(ev, "abi_minor", MODHOST_ABI_MINOR);
	mh_event_int(ev, "vcpus", info->system.smp_vcpus);
	mh_event_emit(ev);

	/* Before any module loads: a bad ctl= path refuses the start at once. */
	if (args.ctl && mh_control_start(args.ctl, &err))
		goto fail;
	if (mh_request_start(&err))
		goto fail;
	if (args.watch && mh_watcher_start(args.dir, &err))
		goto fail;
	mh_log_starting(false);
	return 0;
fail:
	fprintf(stderr, "modhost: %s\n", err);
	/* A control request may be waiting to be applied: fail it first. */
	mh_request_cancel();
	mh_control_stop();
	mh_loader_cleanup();
	return -1;
}
