// SPDX-License-Identifier: MIT
/*
 * Unit tests for the names osi_linux gives processes
 * (modules/osi_linux/osi_linux.c, proc_name()): a workqueue worker's
 * comm with its work, "+desc" while it runs one and "-desc" after, as
 * /proc/PID/stat gives it.  The worker's CPU sets its current work and
 * its desc together under a lock osi_linux cannot take, so here a fake
 * guest changes the worker between osi_linux's reads, as that CPU would:
 * the name must be one the worker really had, and a worker that never
 * holds still gives no name (its walk ends, marked partial).
 *
 * The module's source is included, so its static functions are called
 * as they are, against a fake mh_api whose mem_read reads the fake guest.
 */
#include "../../modules/osi_linux/osi_linux.c"

#include "unit.h"

/* The fake guest: a task, its kthread and its worker, in one page. */
#define G_BASE 0xffff888000100000ull
#define G_TASK (G_BASE + 0x000)
#define G_KTHREAD (G_BASE + 0x100)
#define G_WORKER (G_BASE + 0x200)
#define G_POOL (G_BASE + 0x400)
#define G_WORK (G_BASE + 0x500)

enum { T_FLAGS = 0x10, T_PRIVATE = 0x18, K_DATA = 0x8,
       W_POOL = 0x0, W_CUR = 0x8, W_DESC = 0x20, W_DESC_N = 24 };

static unsigned char guest[0x1000];

/*
 * The worker's CPU, as a script: after the worker's Nth field read by
 * osi_linux (counting from 1), store VALUE at OFF of the worker.
 */
struct store {
	unsigned int after;
	unsigned int off;
	const char *desc;	/* a desc to store, or NULL: ... */
	uint64_t cur;		/* ... current_work to store */
};

static const struct store *script;
static unsigned int script_n, worker_reads;
static bool restless;	/* the worker changes at every read */

static void put64(uint64_t at, uint64_t v)
{
	memcpy(guest + (at - G_BASE), &v, sizeof(v));
}

static void put_desc(const char *desc)
{
	memset(guest + (G_WORKER - G_BASE) + W_DESC, 0, W_DESC_N);
	memcpy(guest + (G_WORKER - G_BASE) + W_DESC, desc, strlen(desc));
}

static void worker_runs(void)
{
	for (unsigned int i = 0; i < script_n; i++) {
		if (script[i].after != worker_reads)
			continue;
		if (script[i].desc)
			put_desc(script[i].desc);
		else
			put64(G_WORKER + script[i].off, script[i].cur);
	}
	if (restless)
		put64(G_WORKER + W_CUR, worker_reads & 1 ? G_WORK : 0);
}

static int fake_mem_read(uint64_t vaddr, void *buf, size_t len)
{
	if (vaddr < G_BASE || vaddr + len > G_BASE + sizeof(guest))
		return -EFAULT;
	memcpy(buf, guest + (vaddr - G_BASE), len);
	if (vaddr >= G_WORKER && vaddr < G_WORKER + 0x100) {
		worker_reads++;
		worker_runs();
	}
	return 0;
}

static struct mh_api fake_api = { .mem_read = fake_mem_read };

/* A worker "kworker/1:2", last run for @desc, running @cur (0: none). */
static void setup(const char *desc, uint64_t cur)
{
	memset(guest, 0, sizeof(guest));
	mh = &fake_api;
	memset(&L, 0, sizeof(L));
	L.kthread_names = true;
	L.task_flags = T_FLAGS;
	L.task_worker_private = T_PRIVATE;
	L.kthread_data = K_DATA;
	L.worker_pool = W_POOL;
	L.worker_current_work = W_CUR;
	L.worker_desc = W_DESC;
	L.worker_desc_n = W_DESC_N;
	put64(G_TASK + T_FLAGS, PF_WQ_WORKER | PF_KTHREAD);
	put64(G_TASK + T_PRIVATE, G_KTHREAD);
	put64(G_KTHREAD + K_DATA, G_WORKER);
	put64(G_WORKER + W_POOL, G_POOL);
	put64(G_WORKER + W_CUR, cur);
	put_desc(desc);
	script = NULL;
	script_n = 0;
	worker_reads = 0;
	restless = false;
}

static void assert_name(const char *want)
{
	g_autofree char *name = proc_name(G_TASK, "kworker/1:2");

	g_assert_cmpstr(name, ==, want);
}

/* A worker that holds still: "-desc" idle, "+desc" running a work item. */
static void test_still(void)
{
	setup("events", 0);
	assert_name("kworker/1:2-events");
	setup("mm_percpu_wq", G_WORK);
	assert_name("kworker/1:2+mm_percpu_wq");
	/* Not yet run anything: its comm alone, as /proc. */
	setup("", 0);
	assert_name("kworker/1:2");
}

/*
 * The worker takes up a work item of another queue while osi_linux reads
 * it: first current_work, then desc, as the kernel's process_one_work()
 * stores them.  Read once, field by field, a name pairs the new work with
 * the last one's desc ("+events"), which the worker never showed; read
 * until two reads agree, it is the new state.
 */
static void test_changes_once(void)
{
	static const struct store takes_up[] = {
		{ .after = 1, .off = W_CUR, .cur = G_WORK },
		{ .after = 2, .desc = "mm_percpu_wq" },
	};

	setup("events", 0);
	script = takes_up;
	script_n = G_N_ELEMENTS(takes_up);
	assert_name("kworker/1:2+mm_percpu_wq");
	/*
	 * Wherever the two stores fall among the reads: one of the names
	 * the worker had, before or after, never a mix.
	 */
	for (unsigned int at = 1; at <= 8; at++) {
		const struct store s[] = {
			{ .after = at, .off = W_CUR, .cur = G_WORK },
			{ .after = at + 1, .desc = "mm_percpu_wq" },
		};
		g_autofree char *name = NULL;

		setup("events", 0);
		script = s;
		script_n = G_N_ELEMENTS(s);
		name = proc_name(G_TASK, "kworker/1:2");
		g_assert_nonnull(name);
		if (strcmp(name, "kworker/1:2-events"))
			g_assert_cmpstr(name, ==, "kworker/1:2+mm_percpu_wq");
	}
}

/* A worker that changes at every read gets no name: NULL, not a guess. */
static void test_restless(void)
{
	setup("events", 0);
	restless = true;
	g_assert_null(proc_name(G_TASK, "kworker/1:2"));
	g_assert_cmpuint(worker_reads, ==, WORKER_READS * 3);
}

/* A worker that does not read: its comm, as for any task. */
static void test_unreadable(void)
{
	setup("events", 0);
	put64(G_KTHREAD + K_DATA, G_BASE + 0x10000);
	assert_name("kworker/1:2");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/osi-names/still", test_still);
	g_test_add_func("/osi-names/changes-once", test_changes_once);
	g_test_add_func("/osi-names/restless", test_restless);
	g_test_add_func("/osi-names/unreadable", test_unreadable);
	return g_test_run();
}
