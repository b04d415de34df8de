// SPDX-License-Identifier: MIT
/*
 * dwarf_simple - the seed's stpi example as a module: prints every line
 * change and, at each function start (after the prologue), the function's
 * live variables.  Output goes to the plugin log, or to dwarf_simple.out=FILE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <modhost/module.h>
#include <modhost/stpi.h>

MH_PARAM_STR(out, "", "append the output to this file instead of the log");
MH_PARAM_BOOL(lines, true, "print line changes");
MH_PARAM_BOOL(vars, true, "print the live variables at each function start");

static stpi_livevar_iter_t stpi_funct_livevar_iter;
MH_IMPORT(STPI_MODULE, stpi_funct_livevar_iter, STPI_LIVEVAR_ITER_SIG);

static const struct mh_api *mh;
static mh_module *me;
static FILE *out;
static bool print_vars;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (out) {
		fputs(buf, out);
		fputc('\n', out);
	} else {
		mh->log(me, MH_LOG_INFO, "%s", buf);
	}
}

static void pfun(const char *var_ty, const char *var_nm, LocType loc_t,
		 uint64_t loc)
{
	switch (loc_t) {
	case LocReg:
		say("VAR REG %s %s in 0x%" PRIx64, var_ty, var_nm, loc);
		break;
	case LocMem:
		say("VAR MEM %s %s @ 0x%" PRIx64, var_ty, var_nm, loc);
		break;
	case LocConst:
		say("VAR CONST %s %s as 0x%" PRIx64, var_ty, var_nm, loc);
		break;
	case LocErr:
		say("VAR ERR %s %s: location not representable (pieces?)",
		    var_ty, var_nm);
		break;
	}
}

static void on_line_change(mh_cpu *cpu, uint64_t pc, const char *file,
			   const char *fn, unsigned long long lno)
{
	(void)cpu;
	say("[%s] %s(), ln: %4llu, pc @ 0x%" PRIx64, file, fn, lno, pc);
}

static void on_fn_start(mh_cpu *cpu, uint64_t pc, const char *file,
			const char *fn, unsigned long long lno)
{
	say("fn-start: %s() [%s], ln: %4llu, pc @ 0x%" PRIx64, fn, file, lno, pc);
	if (print_vars)
		stpi_funct_livevar_iter(cpu, pc, pfun);
}

static int dwarf_simple_init(mh_module *self, const struct mh_api *api)
{
	const char *path = api->param_str(self, "out");
	int rc = 0;

	mh = api;
	me = self;
	out = NULL;
	print_vars = api->param_bool(self, "vars");
	if (path && *path) {
		out = fopen(path, "a");
		if (!out) {
			rc = -errno;
			api->log(self, MH_LOG_ERROR, "%s: cannot open", path);
			return rc;
		}
		setvbuf(out, NULL, _IOLBF, 0);
	}
	if (api->param_bool(self, "lines"))
		rc = api->ppp_register(self, STPI_MODULE, "on_before_line_change",
				       STPI_ON_BEFORE_LINE_CHANGE_SIG,
				       (void (*)(void))on_line_change);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_fn_start",
				       STPI_ON_FN_START_SIG,
				       (void (*)(void))on_fn_start);
	return rc;
}

static void dwarf_simple_exit(mh_module *self)
{
	(void)self;
	if (out)
		fflush(out);
}

MH_MODULE("dwarf_simple", "1.0", "MIT",
	  "Prints source lines, function starts and live variables (stpi example)",
	  .init = dwarf_simple_init,
	  .exit = dwarf_simple_exit);
