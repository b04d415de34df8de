// SPDX-License-Identifier: MIT
/*
 * osi - the interface between OS-introspection clients and the provider
 * that knows the guest's OS (osi_linux for Linux), as PANDA's osi.
 *
 * Like stpi: osi declares provider points, which a provider handles to
 * answer the client functions, and the user point on_task_change, which
 * clients handle and a provider raises through osi_runcb_on_task_change.
 * With no provider the client functions answer NULL, and osi says so once
 * in the log.  osi keeps no state, so a reload of either side costs
 * nothing; it frees what providers return (malloc()'d, see osi.h).
 */
#include <errno.h>
#include <stdlib.h>

#include <modhost/module.h>
#include <modhost/osi.h>

static struct mh_ppp_point *pt_current_process;
static struct mh_ppp_point *pt_current_thread;
static struct mh_ppp_point *pt_processes;
static struct mh_ppp_point *pt_threads;
static struct mh_ppp_point *pt_mappings;
static struct mh_ppp_point *pt_modules;
static struct mh_ppp_point *pt_task_change;
static const struct mh_api *mh;
static mh_module *self_mod;
static int warned;	/* the "no provider" warning was given */

/*
 * The providers of @pt, or NULL when none is loaded: then say once per
 * absence that nobody answers (a provider may come later).  Each client
 * function asks the providers in registration order until one answers.
 */
static const struct mh_ppp_handlers *providers(const struct mh_ppp_point *pt)
{
	const struct mh_ppp_handlers *h = mh_ppp_handlers(pt);

	if (h->n) {
		__atomic_store_n(&warned, 0, __ATOMIC_RELAXED);
		return h;
	}
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		mh->log(self_mod, MH_LOG_WARN, "no OS introspection provider is "
			"loaded (load osi_linux for a Linux guest): every answer "
			"is NULL");
	return NULL;
}

static OsiProc *get_current_process(mh_cpu *cpu)
{
	const struct mh_ppp_handlers *h = providers(pt_current_process);
	OsiProc *out = NULL;

	for (uint32_t i = 0; h && i < h->n && !out; i++)
		((on_get_current_process_t)h->fn[i])(cpu, &out);
	return out;
}
MH_EXPORT(get_current_process, OSI_GET_CURRENT_PROCESS_SIG);

static OsiThread *get_current_thread(mh_cpu *cpu)
{
	const struct mh_ppp_handlers *h = providers(pt_current_thread);
	OsiThread *out = NULL;

	for (uint32_t i = 0; h && i < h->n && !out; i++)
		((on_get_current_thread_t)h->fn[i])(cpu, &out);
	return out;
}
MH_EXPORT(get_current_thread, OSI_GET_CURRENT_THREAD_SIG);

static OsiProcs *get_processes(mh_cpu *cpu)
{
	const struct mh_ppp_handlers *h = providers(pt_processes);
	OsiProcs *out = NULL;

	for (uint32_t i = 0; h && i < h->n && !out; i++)
		((on_get_processes_t)h->fn[i])(cpu, &out);
	return out;
}
MH_EXPORT(get_processes, OSI_GET_PROCESSES_SIG);

static OsiThreads *get_threads(mh_cpu *cpu, const OsiProc *p)
{
	const struct mh_ppp_handlers *h = p ? providers(pt_threads) : NULL;
	OsiThreads *out = NULL;

	for (uint32_t i = 0; h && i < h->n && !out; i++)
		((on_get_threads_t)h->fn[i])(cpu, p, &out);
	return out;
}
MH_EXPORT(get_threads, OSI_GET_THREADS_SIG);

static OsiModules *get_mappings(mh_cpu *cpu, const OsiProc *p)
{
	const struct mh_ppp_handlers *h = p ? providers(pt_mappings) : NULL;
	OsiModules *out = NULL;

	for (uint32_t i = 0; h && i < h->n && !out; i++)
		((on_get_mappings_t)h->fn[i])(cpu, p, &out);
	return out;
}
MH_EXPORT(get_mappings, OSI_GET_MAPPINGS_SIG);

static OsiModules *get_modules(mh_cpu *cpu)
{
	const struct mh_ppp_handlers *h = providers(pt_modules);
	OsiModules *out = NULL;

	for (uint32_t i = 0; h && i < h->n && !out; i++)
		((on_get_modules_t)h->fn[i])(cpu, &out);
	return out;
}
MH_EXPORT(get_modules, OSI_GET_MODULES_SIG);

/* -- frees: everything a provider returns came from malloc() -------------- */

static void free_osiproc(OsiProc *p)
{
	if (!p)
		return;
	free(p->name);
	free(p);
}
MH_EXPORT(free_osiproc, OSI_FREE_OSIPROC_SIG);

static void free_osithread(OsiThread *t)
{
	free(t);
}
MH_EXPORT(free_osithread, OSI_FREE_OSITHREAD_SIG);

static void free_osiprocs(OsiProcs *l)
{
	if (!l)
		return;
	for (uint32_t i = 0; i < l->num; i++)
		free(l->procs[i].name);
	free(l->procs);
	free(l);
}
MH_EXPORT(free_osiprocs, OSI_FREE_OSIPROCS_SIG);

static void free_osithreads(OsiThreads *l)
{
	if (!l)
		return;
	free(l->threads);
	free(l);
}
MH_EXPORT(free_osithreads, OSI_FREE_OSITHREADS_SIG);

static void free_osimodules(OsiModules *l)
{
	if (!l)
		return;
	for (uint32_t i = 0; i < l->num; i++) {
		free(l->mods[i].file);
		free(l->mods[i].name);
	}
	free(l->mods);
	free(l);
}
MH_EXPORT(free_osimodules, OSI_FREE_OSIMODULES_SIG);

/* -- provider function ------------------------------------------------------ */

static void osi_runcb_on_task_change(mh_cpu *cpu, const OsiThread *prev,
				     const OsiThread *next)
{
	const struct mh_ppp_handlers *h = mh_ppp_handlers(pt_task_change);

	for (uint32_t i = 0; i < h->n; i++)
		((on_task_change_t)h->fn[i])(cpu, prev, next);
}
MH_EXPORT(osi_runcb_on_task_change, OSI_RUNCB_ON_TASK_CHANGE_SIG);

static int osi_init(mh_module *self, const struct mh_api *api)
{
	mh = api;
	self_mod = self;
	warned = 0;
	pt_current_process = api->ppp_declare(self, "on_get_current_process",
					      OSI_ON_GET_CURRENT_PROCESS_SIG);
	pt_current_thread = api->ppp_declare(self, "on_get_current_thread",
					     OSI_ON_GET_CURRENT_THREAD_SIG);
	pt_processes = api->ppp_declare(self, "on_get_processes",
					OSI_ON_GET_PROCESSES_SIG);
	pt_threads = api->ppp_declare(self, "on_get_threads",
				      OSI_ON_GET_THREADS_SIG);
	pt_mappings = api->ppp_declare(self, "on_get_mappings",
				       OSI_ON_GET_MAPPINGS_SIG);
	pt_modules = api->ppp_declare(self, "on_get_modules",
				      OSI_ON_GET_MODULES_SIG);
	pt_task_change = api->ppp_declare(self, "on_task_change",
					  OSI_ON_TASK_CHANGE_SIG);
	if (!pt_current_process || !pt_current_thread || !pt_processes ||
	    !pt_threads || !pt_mappings || !pt_modules || !pt_task_change)
		return -EINVAL;
	return 0;
}

MH_MODULE("osi", "1.0", "MIT",
	  "OS introspection interface: processes, threads, mappings, task changes",
	  .init = osi_init);
