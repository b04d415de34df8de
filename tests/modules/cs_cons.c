// SPDX-License-Identifier: MIT
/*
 * cs_cons - callstack_instr's test consumer.
 *
 * Handles on_call and on_ret and counts them per function; at exit writes
 * "0xFUNC CALLS RETS" lines (sorted by address) to out=FILE, plus a line
 * "top_mismatch N": handlers that did not find their own frame on top of
 * get_functions(), as the API promises.
 *
 * probe=0xA:0xB:...: at each on_call of one of these functions, appends
 * to probes=FILE one line "F f0 f1 ... | C r0 r1 ..." from get_functions()
 * and get_callers() (innermost first), and at the first such call a line
 * "P caller=... pc=... sid=... kernel=..." from get_prog_point() and
 * get_stackid_string().  tests/integration/callstack-gdb.t compares the
 * F/C lines with gdb's backtraces.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <modhost/callstack_instr.h>
#include <modhost/module.h>

MH_PARAM_STR(out, "", "write per-function counts here at exit");
MH_PARAM_STR(probe, "", "function entries to probe, 0xA:0xB:...");
MH_PARAM_STR(probes, "", "where probe lines go");

static cs_get_callers_t get_callers;
MH_IMPORT(CS_MODULE, get_callers, CS_GET_CALLERS_SIG);
static cs_get_functions_t get_functions;
MH_IMPORT(CS_MODULE, get_functions, CS_GET_FUNCTIONS_SIG);
static cs_get_prog_point_t get_prog_point;
MH_IMPORT(CS_MODULE, get_prog_point, CS_GET_PROG_POINT_SIG);
static cs_get_stackid_string_t get_stackid_string;
MH_IMPORT(CS_MODULE, get_stackid_string, CS_GET_STACKID_STRING_SIG);

#define DEPTH 64

struct count {
	uint64_t calls, rets;
};

static const struct mh_api *mh;
static GMutex lock;
static GHashTable *counts;	/* func -> struct count */
static GHashTable *probed;	/* func set */
static uint64_t top_mismatch;
static char *out_path;
static FILE *probe_out;
static bool prog_done;

static struct count *count_of(uint64_t func)
{
	struct count *c = g_hash_table_lookup(counts, &func);

	if (!c) {
		uint64_t *k = g_memdup2(&func, sizeof(func));

		c = g_new0(struct count, 1);
		g_hash_table_insert(counts, k, c);
	}
	return c;
}

static void check_top(mh_cpu *cpu, uint64_t func)
{
	uint64_t top = 0;

	if (get_functions(&top, 1, cpu) != 1 || top != func)
		top_mismatch++;
}

static void do_probe(mh_cpu *cpu)
{
	uint64_t f[DEPTH], r[DEPTH];
	uint32_t nf = get_functions(f, DEPTH, cpu);
	uint32_t nr = get_callers(r, DEPTH, cpu);

	if (!prog_done) {
		struct prog_point p;
		char *sid;

		get_prog_point(cpu, &p);
		sid = get_stackid_string(&p);
		fprintf(probe_out, "P caller=0x%" PRIx64 " pc=0x%" PRIx64
			" sid=%s kernel=%d kind=%u\n", p.caller, p.pc,
			sid ? sid : "(null)", p.is_kernel_mode, p.stack_kind);
		free(sid);
		prog_done = true;
	}
	fputc('F', probe_out);
	for (uint32_t i = 0; i < nf; i++)
		fprintf(probe_out, " 0x%" PRIx64, f[i]);
	fputs(" | C", probe_out);
	for (uint32_t i = 0; i < nr; i++)
		fprintf(probe_out, " 0x%" PRIx64, r[i]);
	fputc('\n', probe_out);
	fflush(probe_out);
}

static void on_call(mh_cpu *cpu, uint64_t func)
{
	g_mutex_lock(&lock);
	count_of(func)->calls++;
	check_top(cpu, func);
	if (probe_out && g_hash_table_contains(probed, &func))
		do_probe(cpu);
	g_mutex_unlock(&lock);
}

static void on_ret(mh_cpu *cpu, uint64_t func)
{
	g_mutex_lock(&lock);
	count_of(func)->rets++;
	check_top(cpu, func);
	g_mutex_unlock(&lock);
}

static gint addr_cmp(gconstpointer a, gconstpointer b)
{
	uint64_t x = **(uint64_t *const *)a, y = **(uint64_t *const *)b;

	return x < y ? -1 : x > y;
}

static void write_counts(void)
{
	g_autoptr(GPtrArray) keys = g_ptr_array_new();
	GHashTableIter it;
	gpointer k;
	FILE *f;

	if (!out_path || !(f = fopen(out_path, "w")))
		return;
	g_mutex_lock(&lock);
	g_hash_table_iter_init(&it, counts);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_ptr_array_add(keys, k);
	g_ptr_array_sort(keys, addr_cmp);
	for (guint i = 0; i < keys->len; i++) {
		uint64_t *a = g_ptr_array_index(keys, i);
		struct count *c = g_hash_table_lookup(counts, a);

		fprintf(f, "0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", *a,
			c->calls, c->rets);
	}
	fprintf(f, "top_mismatch %" PRIu64 "\n", top_mismatch);
	g_mutex_unlock(&lock);
	fclose(f);
}

static int cons_init(mh_module *self, const struct mh_api *api)
{
	const char *p = api->param_str(self, "probe");
	const char *pf = api->param_str(self, "probes");
	const char *o = api->param_str(self, "out");
	int ret;

	mh = api;
	top_mismatch = 0;
	prog_done = false;
	counts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
				       g_free);
	probed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
				       NULL);
	out_path = o && *o ? g_strdup(o) : NULL;
	probe_out = NULL;
	if (p && *p) {
		g_auto(GStrv) v = g_strsplit_set(p, ":,", -1);

		for (int i = 0; v[i]; i++) {
			uint64_t a = g_ascii_strtoull(v[i], NULL, 0);

			g_hash_table_add(probed, g_memdup2(&a, sizeof(a)));
		}
		probe_out = fopen(pf && *pf ? pf : "/dev/null", "w");
		if (!probe_out)
			return -errno;
	}
	ret = api->ppp_register(self, CS_MODULE, "on_call", CS_ON_CALL_SIG,
				(void (*)(void))on_call);
	if (!ret)
		ret = api->ppp_register(self, CS_MODULE, "on_ret",
					CS_ON_RET_SIG, (void (*)(void))on_ret);
	return ret;
}

static void cons_exit(mh_module *self)
{
	(void)self;
	write_counts();
	if (probe_out)
		fflush(probe_out);
}

MH_MODULE("cs_cons", "1", "MIT", "test module: callstack_instr consumer",
	  .init = cons_init,
	  .exit = cons_exit);
