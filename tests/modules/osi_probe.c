// SPDX-License-Identifier: MIT
/*
 * osi_probe - writes down osi's answers at tests/linux/osiprog.c's
 * hypercalls (magic 0x6f510000, args: point, attempt), for
 * tests/linux/osi.t, in the lines osiprog prints for the guest's own view:
 *
 *	osi point P.A
 *	ps PID PPID NAME		every process (get_processes())
 *	map START END PATH		the caller's file-backed mappings
 *	vma START END			all the caller's mappings
 *	tid TID				the caller's threads
 *	mod NAME BASE SIZE		the kernel's modules (get_modules())
 *	seen TID yes|no			was TID ever on_task_change's next?
 *	asid yes|no			does the caller's asid, as get_current_process()
 *					and get_processes() give it, equal cr3?
 *	partial procs|maps|threads	a list that osi marked partial
 *	osi end P.A
 *
 * to out=FILE.  At exit it logs "task_changes=N".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include <modhost/module.h>
#include <modhost/osi.h>

#include "probe-out.h"

MH_PARAM_STR(out, "", "where to write the answers");

#define OSI_PROBE_MAGIC 0x6f510000u

static osi_get_current_process_t get_current_process;
static osi_get_processes_t get_processes;
static osi_get_threads_t get_threads;
static osi_get_mappings_t get_mappings;
static osi_get_modules_t get_modules;
static osi_free_osiproc_t free_osiproc;
static osi_free_osiprocs_t free_osiprocs;
static osi_free_osithreads_t free_osithreads;
static osi_free_osimodules_t free_osimodules;
MH_IMPORT(OSI_MODULE, get_current_process, OSI_GET_CURRENT_PROCESS_SIG);
MH_IMPORT(OSI_MODULE, get_processes, OSI_GET_PROCESSES_SIG);
MH_IMPORT(OSI_MODULE, get_threads, OSI_GET_THREADS_SIG);
MH_IMPORT(OSI_MODULE, get_mappings, OSI_GET_MAPPINGS_SIG);
MH_IMPORT(OSI_MODULE, get_modules, OSI_GET_MODULES_SIG);
MH_IMPORT(OSI_MODULE, free_osiproc, OSI_FREE_OSIPROC_SIG);
MH_IMPORT(OSI_MODULE, free_osiprocs, OSI_FREE_OSIPROCS_SIG);
MH_IMPORT(OSI_MODULE, free_osithreads, OSI_FREE_OSITHREADS_SIG);
MH_IMPORT(OSI_MODULE, free_osimodules, OSI_FREE_OSIMODULES_SIG);

static const struct mh_api *mh;
static mh_module *me;
static FILE *outf;
static GHashTable *switched_to;	/* tids seen as next, under lock */
static GMutex lock;
static uint64_t changes;
static mh_reg *reg_cr3;

/* Both of osi's answers for the caller name the address space in cr3. */
static bool asid_ok(const OsiProc *cur, const OsiProcs *ps)
{
	uint64_t cr3 = 0;
	bool found = false;

	if (!cur || !ps || mh->reg_read(reg_cr3, &cr3, sizeof(cr3)) < 0 ||
	    cur->asid != (cr3 & ~0xfffull))
		return false;
	for (uint32_t i = 0; i < ps->num; i++)
		if (ps->procs[i].pid == cur->pid)
			found = ps->procs[i].asid == cur->asid;
	return found;
}

static void on_task_change(mh_cpu *cpu, const OsiThread *prev,
			   const OsiThread *next)
{
	(void)cpu;
	(void)prev;
	g_mutex_lock(&lock);
	changes++;
	g_hash_table_add(switched_to, GINT_TO_POINTER(next->tid));
	g_mutex_unlock(&lock);
}

static uint64_t on_hypercall(mh_cpu *cpu, const struct mh_hypercall *c,
			     void *opaque)
{
	OsiProc *cur = get_current_process(cpu);
	OsiProcs *ps = get_processes(cpu);
	OsiModules *maps = cur ? get_mappings(cpu, cur) : NULL;
	OsiThreads *ths = cur ? get_threads(cpu, cur) : NULL;
	OsiModules *mods = get_modules(cpu);

	(void)opaque;
	g_mutex_lock(&lock);
	fprintf(outf, "osi point %" PRIu64 ".%" PRIu64 "\n", c->args[0], c->args[1]);
	for (uint32_t i = 0; ps && i < ps->num; i++)
		fprintf(outf, "ps %d %d %s\n", ps->procs[i].pid, ps->procs[i].ppid,
			ps->procs[i].name);
	for (uint32_t i = 0; maps && i < maps->num; i++)
		if (maps->mods[i].file)
			fprintf(outf, "map %" PRIx64 " %" PRIx64 " %s\n",
				maps->mods[i].base,
				maps->mods[i].base + maps->mods[i].size,
				maps->mods[i].file);
	for (uint32_t i = 0; maps && i < maps->num; i++)
		fprintf(outf, "vma %" PRIx64 " %" PRIx64 "\n", maps->mods[i].base,
			maps->mods[i].base + maps->mods[i].size);
	for (uint32_t i = 0; ths && i < ths->num; i++) {
		int tid = ths->threads[i].tid;

		fprintf(outf, "tid %d\n", tid);
		fprintf(outf, "seen %d %s\n", tid,
			g_hash_table_contains(switched_to, GINT_TO_POINTER(tid)) ?
			"yes" : "no");
	}
	for (uint32_t i = 0; mods && i < mods->num; i++)
		fprintf(outf, "mod %s %" PRIx64 " %" PRIu64 "\n", mods->mods[i].name,
			mods->mods[i].base, mods->mods[i].size);
	fprintf(outf, "asid %s\n", asid_ok(cur, ps) ? "yes" : "no");
	if (!ps || ps->partial)
		fprintf(outf, "partial procs\n");
	if (!maps || maps->partial)
		fprintf(outf, "partial maps\n");
	if (!ths || ths->partial)
		fprintf(outf, "partial threads\n");
	if (!mods || mods->partial)
		fprintf(outf, "partial modules\n");
	fprintf(outf, "osi end %" PRIu64 ".%" PRIu64 "\n", c->args[0], c->args[1]);
	fflush(outf);
	g_mutex_unlock(&lock);
	free_osimodules(maps);
	free_osimodules(mods);
	free_osithreads(ths);
	free_osiprocs(ps);
	free_osiproc(cur);
	return 0;
}

static int probe_init(mh_module *self, const struct mh_api *api)
{
	int rc;

	mh = api;
	me = self;
	rc = probe_out_open(self, api, &outf);
	if (rc)
		return rc;
	switched_to = g_hash_table_new(g_direct_hash, g_direct_equal);
	reg_cr3 = api->reg_lookup("cr3");
	rc = api->ppp_register(self, OSI_MODULE, "on_task_change",
			       OSI_ON_TASK_CHANGE_SIG,
			       (void (*)(void))on_task_change);
	if (!rc)
		rc = api->hypercall_register(self, OSI_PROBE_MAGIC, on_hypercall, NULL);
	return rc;
}

static void probe_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO, "task_changes=%" PRIu64, changes);
	if (probe_out_close(mh, &outf))
		g_hash_table_destroy(switched_to);
}

MH_MODULE("osi_probe", "1", "MIT",
	  "Writes osi's answers at tests/linux/osiprog.c's hypercalls",
	  .init = probe_init,
	  .exit = probe_exit);
