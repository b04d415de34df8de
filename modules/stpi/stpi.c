// SPDX-License-Identifier: MIT
/*
 * stpi - the glue between source-level introspection clients and the
 * provider of debug information (dwarfp, ...), as PANDA's stpi.
 *
 * It declares two kinds of PPP points: provider points, which a provider
 * handles to answer the client functions, and user points, which clients
 * handle and a provider raises through the stpi_runcb_* exports.  With no
 * provider loaded the client functions answer "not found" (-1) or visit
 * nothing, and the user points never run: stpi says so in the log rather
 * than let a client count nothing in silence.  stpi keeps no state, so a
 * reload of either side costs nothing.
 */
#include <errno.h>

#include <modhost/module.h>
#include <modhost/stpi.h>

static struct mh_ppp_point *pt_get_pc_source_info;
static struct mh_ppp_point *pt_all_livevar_iter;
static struct mh_ppp_point *pt_global_livevar_iter;
static struct mh_ppp_point *pt_funct_livevar_iter;
static struct mh_ppp_point *pt_before_line_change;
static struct mh_ppp_point *pt_after_line_change;
static struct mh_ppp_point *pt_fn_start;
static const struct mh_api *mh;
static mh_module *self_mod;
static int warned;	/* the "no provider" warning was given */

/* -- client functions ---------------------------------------------------- */

static int stpi_get_pc_source_info(mh_cpu *cpu, uint64_t pc, PC_Info *info)
{
	const struct mh_ppp_handlers *h = mh_ppp_handlers(pt_get_pc_source_info);
	int rc = -1;

	/* The first provider that knows the pc answers. */
	for (uint32_t i = 0; i < h->n && rc != 0; i++)
		((on_get_pc_source_info_t)h->fn[i])(cpu, pc, info, &rc);
	return rc == 0 ? 0 : -1;
}
MH_EXPORT(stpi_get_pc_source_info, STPI_GET_PC_SOURCE_INFO_SIG);

static void run_iter(const struct mh_ppp_point *pt, mh_cpu *cpu, uint64_t pc,
		     liveVarCB f)
{
	const struct mh_ppp_handlers *h = mh_ppp_handlers(pt);

	if (!f)
		return;
	for (uint32_t i = 0; i < h->n; i++)
		((on_all_livevar_iter_t)h->fn[i])(cpu, pc, f);
}

static void stpi_all_livevar_iter(mh_cpu *cpu, uint64_t pc, liveVarCB f)
{
	run_iter(pt_all_livevar_iter, cpu, pc, f);
}
MH_EXPORT(stpi_all_livevar_iter, STPI_LIVEVAR_ITER_SIG);

static void stpi_global_livevar_iter(mh_cpu *cpu, uint64_t pc, liveVarCB f)
{
	run_iter(pt_global_livevar_iter, cpu, pc, f);
}
MH_EXPORT(stpi_global_livevar_iter, STPI_LIVEVAR_ITER_SIG);

static void stpi_funct_livevar_iter(mh_cpu *cpu, uint64_t pc, liveVarCB f)
{
	run_iter(pt_funct_livevar_iter, cpu, pc, f);
}
MH_EXPORT(stpi_funct_livevar_iter, STPI_LIVEVAR_ITER_SIG);

/* -- provider functions -------------------------------------------------- */

static void run_line_cb(const struct mh_ppp_point *pt, mh_cpu *cpu,
			uint64_t pc, const char *file, const char *fn,
			unsigned long long lno)
{
	const struct mh_ppp_handlers *h = mh_ppp_handlers(pt);

	for (uint32_t i = 0; i < h->n; i++)
		((on_fn_start_t)h->fn[i])(cpu, pc, file, fn, lno);
}

static void stpi_runcb_on_before_line_change(mh_cpu *cpu, uint64_t pc,
					     const char *file, const char *fn,
					     unsigned long long lno)
{
	run_line_cb(pt_before_line_change, cpu, pc, file, fn, lno);
}
MH_EXPORT(stpi_runcb_on_before_line_change, STPI_RUNCB_SIG);

static void stpi_runcb_on_after_line_change(mh_cpu *cpu, uint64_t pc,
					    const char *file, const char *fn,
					    unsigned long long lno)
{
	run_line_cb(pt_after_line_change, cpu, pc, file, fn, lno);
}
MH_EXPORT(stpi_runcb_on_after_line_change, STPI_RUNCB_SIG);

static void stpi_runcb_on_fn_start(mh_cpu *cpu, uint64_t pc, const char *file,
				   const char *fn, unsigned long long lno)
{
	run_line_cb(pt_fn_start, cpu, pc, file, fn, lno);
}
MH_EXPORT(stpi_runcb_on_fn_start, STPI_RUNCB_SIG);

/*
 * At each block translated without a provider: every provider (dwarfp)
 * answers on_get_pc_source_info, so no handler there means none is loaded.
 * Once per absence: a provider unloaded later is reported again.
 */
static void translate(mh_tb *tb, void *opaque)
{
	(void)tb;
	(void)opaque;
	if (mh_ppp_handlers(pt_get_pc_source_info)->n) {
		__atomic_store_n(&warned, 0, __ATOMIC_RELAXED);
		return;
	}
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		mh->log(self_mod, MH_LOG_WARN, "no provider of debug information "
			"is loaded (load dwarfp with dwarfp.binary=FILE): source "
			"lookups answer \"not found\" and line and function "
			"callbacks never run");
}

static int stpi_init(mh_module *self, const struct mh_api *api)
{
	mh = api;
	self_mod = self;
	warned = 0;
	pt_get_pc_source_info = api->ppp_declare(self, "on_get_pc_source_info",
						 STPI_ON_GET_PC_SOURCE_INFO_SIG);
	pt_all_livevar_iter = api->ppp_declare(self, "on_all_livevar_iter",
					       STPI_ON_LIVEVAR_ITER_SIG);
	pt_global_livevar_iter = api->ppp_declare(self, "on_global_livevar_iter",
						  STPI_ON_LIVEVAR_ITER_SIG);
	pt_funct_livevar_iter = api->ppp_declare(self, "on_funct_livevar_iter",
						 STPI_ON_LIVEVAR_ITER_SIG);
	pt_before_line_change = api->ppp_declare(self, "on_before_line_change",
						 STPI_ON_BEFORE_LINE_CHANGE_SIG);
	pt_after_line_change = api->ppp_declare(self, "on_after_line_change",
						STPI_ON_AFTER_LINE_CHANGE_SIG);
	pt_fn_start = api->ppp_declare(self, "on_fn_start", STPI_ON_FN_START_SIG);
	if (!pt_get_pc_source_info || !pt_all_livevar_iter ||
	    !pt_global_livevar_iter || !pt_funct_livevar_iter ||
	    !pt_before_line_change || !pt_after_line_change || !pt_fn_start)
		return -EINVAL;
	return api->set_translate(self, translate, NULL);
}

MH_MODULE("stpi", "1.0", "MIT",
	  "Source-level introspection glue: lines, function starts, live variables",
	  .init = stpi_init);
