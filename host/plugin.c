// SPDX-License-Identifier: MIT
/*
 * QEMU entry point: arguments, start-up and shut-down.
 *
 * The host's callbacks (vcpu_init, tb_trans, and host_atexit here) are
 * registered by quiesce.c, which registers them again after each quiesce
 * (qemu_plugin_reset drops them all).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static struct mh_host_args args;

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

	if (!info->system_emulation) {
		err = g_strdup("needs system emulation (qemu-system-*)");
		goto fail;
	}
	if (mh_args_parse(&args, argc, argv, defdir, &err) ||
	    mh_log_open(args.log, &err) ||
	    mh_guard_init(args.hook_timeout, mh_lifecycle_hook_stuck,
			  &err))
		goto fail;
	mh_api_set_accounting(args.accounting);
	mh_api_set_qemu_info(info);
	mh_loader_set_target(info->target_name);
	mh_registry_init();
	if (mh_hypercall_init(&args, &err))
		goto fail;
	if (mh_loader_init(&err) || mh_lifecycle_init(&args, &err) ||
	    mh_request_init(&args, &err))
		goto fail;
	mh_quiesce_init(id, host_atexit, args.doorbell);

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
