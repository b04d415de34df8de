// SPDX-License-Identifier: MIT
/*
 * stpi_probe - the stpi tests' client.  Logs (api->log, one "probe: ..."
 * line each) what stpi tells it, for the TAP scripts to compare with gdb:
 *
 *   q=ADDR        at init: stpi_get_pc_source_info(ADDR) and its answer
 *   bp_line=N     the first time line N of a file ending in bp_file starts:
 *                 every live variable (function's, then globals) with the
 *                 32-bit value read from where stpi says it lives
 *   at exit       the counts of line and function-start events, the first
 *                 before/after line events, any event with line 0
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <modhost/module.h>
#include <modhost/stpi.h>

MH_PARAM_UINT(q, 0, "address to look up at init");
MH_PARAM_UINT(bp_line, 0, "line at which to dump the live variables");
MH_PARAM_STR(bp_file, "sguest.c", "file suffix of bp_line");

static stpi_get_pc_source_info_t stpi_get_pc_source_info;
static stpi_livevar_iter_t stpi_funct_livevar_iter;
static stpi_livevar_iter_t stpi_global_livevar_iter;
MH_IMPORT(STPI_MODULE, stpi_get_pc_source_info, STPI_GET_PC_SOURCE_INFO_SIG);
MH_IMPORT(STPI_MODULE, stpi_funct_livevar_iter, STPI_LIVEVAR_ITER_SIG);
MH_IMPORT(STPI_MODULE, stpi_global_livevar_iter, STPI_LIVEVAR_ITER_SIG);

static const struct mh_api *mh;
static mh_module *me;
static uint64_t n_before, n_after, n_fn, n_zero, bp_line;
static unsigned long long first_before, first_after;
static bool seen_after_first, dumped;
static const char *bp_file;

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void dump_var(const char *ty, const char *nm, LocType t, uint64_t loc)
{
	uint32_t v = 0;
	const char *how = "?";
	int ok = 0;

	switch (t) {
	case LocMem:
		how = "mem";
		ok = !mh->mem_read(loc, &v, sizeof(v));
		break;
	case LocReg: {
		const char *name = stpi_dwarf_reg_name(4, loc);
		mh_reg *r = name ? mh->reg_lookup(name) : NULL;
		uint64_t x = 0;

		how = "reg";
		ok = r && mh->reg_read(r, &x, sizeof(x)) > 0;
		v = (uint32_t)x;
		break;
	}
	case LocConst:
		how = "const";
		v = (uint32_t)loc;
		ok = 1;
		break;
	case LocErr:
		how = "err";
		break;
	}
	if (ok)
		mh->log(me, MH_LOG_INFO, "probe: var %s %s = %d (%s, %s)", nm,
			how, (int32_t)v, ty, how);
	else
		mh->log(me, MH_LOG_INFO, "probe: var %s %s = ? (%s)", nm, how, ty);
}

static void on_before(mh_cpu *cpu, uint64_t pc, const char *file,
		      const char *fn, unsigned long long lno)
{
	if (!n_before++)
		first_before = lno;
	if (!lno)
		n_zero++;
	if (!dumped && bp_line && lno == bp_line && ends_with(file, bp_file)) {
		dumped = true;
		mh->log(me, MH_LOG_INFO, "probe: bp %s:%llu in %s pc=0x%" PRIx64,
			file, lno, fn, pc);
		stpi_funct_livevar_iter(cpu, pc, dump_var);
		stpi_global_livevar_iter(cpu, pc, dump_var);
		mh->log(me, MH_LOG_INFO, "probe: bp end");
	}
}

static void on_after(mh_cpu *cpu, uint64_t pc, const char *file,
		     const char *fn, unsigned long long lno)
{
	(void)cpu; (void)pc; (void)file; (void)fn;
	if (!n_after++) {
		first_after = lno;
		seen_after_first = n_before == 0;
	}
	if (!lno)
		n_zero++;
}

static void on_fn(mh_cpu *cpu, uint64_t pc, const char *file, const char *fn,
		  unsigned long long lno)
{
	(void)cpu; (void)file;
	if (n_fn++ < 100)
		mh->log(me, MH_LOG_INFO, "probe: fn-start %s 0x%" PRIx64 " %llu",
			fn, pc, lno);
}

static int probe_init(mh_module *self, const struct mh_api *api)
{
	uint64_t q = api->param_uint(self, "q");
	int rc;

	mh = api;
	me = self;
	n_before = n_after = n_fn = n_zero = 0;
	first_before = first_after = 0;
	seen_after_first = dumped = false;
	bp_line = api->param_uint(self, "bp_line");
	bp_file = api->param_str(self, "bp_file");
	if (q) {
		PC_Info info = { 0 };

		rc = stpi_get_pc_source_info(mh_cpu_of(0), q, &info);
		api->log(self, MH_LOG_INFO, "probe: q=0x%" PRIx64 " rc=%d fn=%s file=%s line=%llu",
			 q, rc, rc ? "-" : info.funct_name,
			 rc ? "-" : info.file_name, rc ? 0 : info.line_number);
	}
	rc = api->ppp_register(self, STPI_MODULE, "on_before_line_change",
			       STPI_ON_BEFORE_LINE_CHANGE_SIG, (void (*)(void))on_before);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_after_line_change",
				       STPI_ON_AFTER_LINE_CHANGE_SIG, (void (*)(void))on_after);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_fn_start",
				       STPI_ON_FN_START_SIG, (void (*)(void))on_fn);
	return rc;
}

static void probe_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO,
		"probe: before=%" PRIu64 " after=%" PRIu64 " fn=%" PRIu64
		" zero=%" PRIu64 " first_before=%llu first_after=%llu after_first=%d",
		n_before, n_after, n_fn, n_zero, first_before, first_after,
		seen_after_first);
}

MH_MODULE("stpi_probe", "1", "MIT", "test module: stpi client",
	  .init = probe_init,
	  .exit = probe_exit);
