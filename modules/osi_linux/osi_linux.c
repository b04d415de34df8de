// SPDX-License-Identifier: MIT
/*
 * osi_linux - osi's provider for Linux guests (x86_64), with no agent in
 * the guest.  What it knows of the kernel is a profile (osi_linux.h): the
 * structure offsets from the kernel image's BTF (kimage.c), or a profile
 * file.  Everything else is reached from one pointer, the per-CPU current
 * task, found through the vCPU's gs base (zero-based per-CPU offsets are
 * not moved by KASLR); the task list, a process's threads and its
 * mappings (the mm's maple tree) hang off it.  So no kernel symbol and no
 * KASLR offset is needed, but for the list of kernel modules (two symbols
 * from the image's kallsyms and the KASLR offset init_task gives).
 *
 * Every guest walk is bounded and checks its links; guest memory that
 * cannot be read ends the walk with what was read whole, marked partial.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <modhost/module.h>
#include <modhost/osi.h>

#include "kernel_image.h"
#include "osi_linux.h"

MH_PARAM_STR(kernel, "",
	     "the guest's kernel image (bzImage or vmlinux, with BTF); default: "
	     "QEMU's -kernel");
MH_PARAM_STR(profile, "",
	     "a kernel profile file (osi-profile IMAGE FILE), instead of kernel=");
MH_PARAM_STR(cache, "",
	     "where profiles read from kernel images are kept, or off; default: "
	     "$XDG_CACHE_HOME/modhost/osi_linux");

static osi_runcb_on_task_change_t osi_runcb_on_task_change;
MH_IMPORT(OSI_MODULE, osi_runcb_on_task_change, OSI_RUNCB_ON_TASK_CHANGE_SIG);

/* Bounds of every walk: far above what a guest has, far below forever. */
#define MAX_TASKS 65536u	/* tasks, and threads of one process */
#define MAX_VMAS 65536u		/* a process's mappings (max_map_count 65530) */
#define MAX_NODES 65536u	/* maple nodes of one tree */
#define MAX_DEPTH 16u		/* maple tree height: 10 slots a level cover 2^33 */
#define MAX_PATH_PARTS 64u	/* components of a file's path */
#define NAME_MAX_LEN 255u

#define KERNEL_MIN 0xffff800000000000ull

/* Per vCPU: the task it runs, as last seen at a switch (on_task_change). */
struct vstate {
	uint64_t task;
	int32_t pid, tid;
};

static const struct mh_api *mh;
static mh_module *me;
static struct osil_layout L;
static bool have_layout;
static mh_reg *reg_gs_base, *reg_k_gs_base, *reg_cr3;
static mh_scoreboard *vstates;
/* Learnt from the guest at run time; 0 until then. */
static uint64_t init_task;		/* the head of the task list */
static uint64_t page_offset_base;	/* the direct map, for asids */
static bool unfit;			/* the profile does not fit the guest */

/* -- guest memory ------------------------------------------------------------ */

static bool kaddr(uint64_t a)
{
	return a >= KERNEL_MIN;
}

static bool rd(uint64_t a, void *buf, size_t len)
{
	return kaddr(a) && !mh->mem_read(a, buf, len);
}

static bool rd64(uint64_t a, uint64_t *v)
{
	return rd(a, v, sizeof(*v));
}

static bool rd32(uint64_t a, int32_t *v)
{
	return rd(a, v, sizeof(*v));
}

/* A NUL-terminated string of at most @max bytes, read a piece at a time. */
static char *rd_str(uint64_t a, size_t max)
{
	char buf[NAME_MAX_LEN + 1];
	size_t n = 0;

	if (max > NAME_MAX_LEN)
		max = NAME_MAX_LEN;
	while (n < max) {
		/* Not across a page end: the next page may be unmapped. */
		size_t chunk = MIN(max - n, 0x1000 - ((a + n) & 0xfff));

		if (!rd(a + n, buf + n, chunk))
			return NULL;
		if (memchr(buf + n, 0, chunk))
			return strdup(buf);
		n += chunk;
	}
	buf[n] = 0;
	return strdup(buf);
}

/* -- tasks ----------------------------------------------------------------- */

/* The task running on this vCPU, 0 if unknown (early boot, not long mode). */
static uint64_t current_task(void)
{
	uint64_t base = 0, task = 0;

	/*
	 * In the kernel gs holds the per-CPU base; in user space (and on entry
	 * before swapgs) the kernel's is in KERNEL_GS_BASE.  A user gs base
	 * is never a kernel address.
	 */
	if (mh->reg_read(reg_gs_base, &base, sizeof(base)) < 0 || !kaddr(base))
		if (mh->reg_read(reg_k_gs_base, &base, sizeof(base)) < 0 ||
		    !kaddr(base))
			return 0;
	if (!rd64(base + L.percpu_current_task, &task) || !kaddr(task))
		return 0;
	return task;
}

struct tinfo {
	int32_t pid, tgid;
	uint64_t parent, mm, start_time;
	char comm[17];
};

static bool read_task(uint64_t t, struct tinfo *ti)
{
	memset(ti, 0, sizeof(*ti));
	return rd32(t + L.task_pid, &ti->pid) && rd32(t + L.task_tgid, &ti->tgid) &&
	       rd64(t + L.task_real_parent, &ti->parent) &&
	       rd64(t + L.task_mm, &ti->mm) &&
	       rd64(t + L.task_start_time, &ti->start_time) &&
	       rd(t + L.task_comm, ti->comm, 16);
}

/* The first-level page table's physical address, as cr3 names it. */
static uint64_t asid_of(uint64_t mm)
{
	uint64_t pgd;

	if (!mm || !page_offset_base || !rd64(mm + L.mm_pgd, &pgd))
		return 0;
	return (pgd - page_offset_base) & ~0xfffull;
}

/*
 * The direct map's base (randomised by KASLR), from the current task's
 * page table: its virtual address in the mm against the physical one in
 * cr3.  The base is 1 GiB aligned, which also drops PTI's user bit.
 */
static void learn_page_offset(uint64_t task)
{
	uint64_t mm, pgd, cr3;

	if (page_offset_base || !rd64(task + L.task_mm, &mm) || !mm ||
	    !rd64(mm + L.mm_pgd, &pgd) ||
	    mh->reg_read(reg_cr3, &cr3, sizeof(cr3)) < 0)
		return;
	cr3 &= 0x000ffffffffff000ull;
	if (kaddr(pgd) && pgd > cr3)
		page_offset_base = (pgd - cr3) & ~((1ull << 30) - 1);
}

#define PF_WQ_WORKER 0x20u
#define PF_KTHREAD 0x00200000u
#define PROC_NAME_LEN 64	/* fs/proc/array.c's tcomm[] */
#define WORKER_READS 4		/* reads of a worker that must agree twice */

/* What a workqueue worker's name is made of, beside its comm. */
struct wstate {
	uint64_t pool, cur;
	char desc[64];
};

static bool read_worker(uint64_t worker, size_t n, struct wstate *w)
{
	memset(w, 0, sizeof(*w));
	return rd64(worker + L.worker_pool, &w->pool) &&
	       rd64(worker + L.worker_current_work, &w->cur) &&
	       rd(worker + L.worker_desc, w->desc, n);
}

/*
 * A worker's state as one instant had it.  Its CPU sets current_work and
 * desc together under the pool's lock, which /proc takes and osi_linux
 * cannot (that CPU runs on meanwhile), so a single read may pair a new
 * work with the last one's desc: a name /proc never shows.  Read until
 * two reads in a row agree; a torn read then needs the worker stopped
 * between its two stores for both reads.  -EAGAIN if no two agreed, -EIO
 * if it does not read.
 */
static int read_worker_stable(uint64_t worker, size_t n, struct wstate *w)
{
	struct wstate again;

	if (!read_worker(worker, n, w))
		return -EIO;
	for (unsigned int i = 1; i < WORKER_READS; i++) {
		if (!read_worker(worker, n, &again))
			return -EIO;
		if (!memcmp(w, &again, sizeof(again)))
			return 0;
		*w = again;
	}
	return -EAGAIN;
}

/*
 * The name /proc/PID/stat gives (fs/proc/array.c, proc_task_name()): a
 * kernel thread's full name, not its truncated comm; a workqueue worker's
 * comm with "+desc" (running a work item) or "-desc" (the last one) from
 * its worker; comm for the rest, and whenever a link does not read.
 * NULL if a worker changed under every read: the caller ends its walk
 * there, marked partial, rather than answer a name that never was.
 */
static char *proc_name(uint64_t t, const char *comm)
{
	uint64_t kt, worker, full;
	char name[PROC_NAME_LEN];
	struct wstate w;
	uint32_t flags;
	int rc;

	if (!L.kthread_names || !rd(t + L.task_flags, &flags, sizeof(flags)) ||
	    !(flags & (PF_WQ_WORKER | PF_KTHREAD)) ||
	    !rd64(t + L.task_worker_private, &kt) || !kaddr(kt))
		return strdup(comm);
	if (!(flags & PF_WQ_WORKER)) {
		char *full_name;

		if (!rd64(kt + L.kthread_full_name, &full) || !full ||
		    !(full_name = rd_str(full, PROC_NAME_LEN - 1)))
			return strdup(comm);
		return full_name;
	}
	if (!rd64(kt + L.kthread_data, &worker))
		return strdup(comm);
	rc = read_worker_stable(worker, MIN(L.worker_desc_n, sizeof(w.desc) - 1), &w);
	if (rc == -EAGAIN)
		return NULL;
	if (rc || !w.pool || !w.desc[0])
		return strdup(comm);
	/* Truncated as /proc's buffer truncates it. */
	if (snprintf(name, sizeof(name), "%s%c%s", comm, w.cur ? '+' : '-',
		     w.desc) < 0)
		return strdup(comm);
	return strdup(name);
}

static bool fill_proc(uint64_t t, OsiProc *p)
{
	struct tinfo ti, pi;

	if (!read_task(t, &ti))
		return false;
	p->taskd = t;
	p->pid = ti.tgid;
	p->ppid = ti.parent && read_task(ti.parent, &pi) ? pi.tgid : 0;
	p->asid = asid_of(ti.mm);
	p->create_time = ti.start_time;
	p->name = proc_name(t, ti.comm);
	return p->name != NULL;
}

/* The thread group leader of task @t (its signal's first thread). */
static uint64_t leader_of(uint64_t t)
{
	uint64_t sig, first;

	if (!rd64(t + L.task_signal, &sig) ||
	    !rd64(sig + L.signal_thread_head, &first) || !kaddr(first))
		return t;
	return first - L.task_thread_node;
}

/*
 * Find init_task, the head of the task list, from any task: it is the one
 * task of pid 0 on the list (other CPUs' idle tasks are off it; their links
 * are stale copies, so the list check next->prev == node tells them apart).
 * A walk that comes back to where it started without finding it means the
 * profile does not fit this kernel: then no answers from now on, never
 * wrong ones.  A link that does not read just gives no answer this time.
 */
static uint64_t find_init_task(uint64_t from)
{
	uint64_t start = from + L.task_tasks, node = start;

	if (init_task || unfit)
		return init_task;
	for (unsigned int i = 0; i < MAX_TASKS; i++) {
		uint64_t next, back, t = node - L.task_tasks;
		int32_t pid;

		if (!rd64(node, &next) || !rd64(next + 8, &back) ||
		    !rd32(t + L.task_pid, &pid))
			return 0;
		if (!pid && back == node) {
			char comm[16];

			/* The profile fits this kernel if its head is the idle task. */
			if (rd(t + L.task_comm, comm, sizeof(comm)) &&
			    !strncmp(comm, "swapper", 7))
				return init_task = t;
			break;
		}
		if (next == start)
			break;
		node = next;
	}
	unfit = true;
	mh->log(me, MH_LOG_ERROR, "the guest's task list does not fit the profile "
		"of %s: no answers (is this the kernel the profile was made "
		"from?)", L.version);
	return 0;
}

/* -- lists ------------------------------------------------------------------- */

/* A growing array of @size-byte entries, malloc()'d as osi.h promises. */
struct vec {
	void *v;
	uint32_t n, cap;
	size_t size;
};

static void *vec_push(struct vec *a)
{
	if (a->n == a->cap) {
		uint32_t cap = a->cap ? a->cap * 2 : 16;
		void *v = realloc(a->v, cap * a->size);

		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	memset((char *)a->v + a->n * a->size, 0, a->size);
	return (char *)a->v + a->n++ * a->size;
}

/*
 * Walk the circular list whose head is at @head (a list_head), visiting
 * each node but the head, at most @max of them.  @fn returns false to stop
 * (an entry that did not read).  Returns false if the walk ended early:
 * an unreadable link, a link whose prev does not point back (the list
 * changed under the walk), or the bound.
 */
static bool walk_list(uint64_t head, unsigned int max,
		      bool (*fn)(uint64_t node, void *opaque), void *opaque)
{
	uint64_t node = head, next, back;

	for (unsigned int i = 0; i <= max; i++) {
		if (!rd64(node, &next) || !rd64(next + 8, &back) || back != node)
			return false;
		if (next == head)
			return true;
		if (i == max || !fn(next, opaque))
			return false;
		node = next;
	}
	return false;
}

static bool add_proc(uint64_t node, void *opaque)
{
	struct vec *a = opaque;
	uint64_t t = node - L.task_tasks;
	int32_t pid;
	OsiProc *p;

	if (!rd32(t + L.task_pid, &pid))
		return false;
	if (!pid)
		return true;	/* never on the list but as its head; skip */
	p = vec_push(a);
	if (!p || !fill_proc(t, p)) {
		if (p)
			a->n--;
		return false;
	}
	return true;
}

static void on_get_processes(mh_cpu *cpu, OsiProcs **out)
{
	uint64_t cur = current_task(), head;
	struct vec a = { .size = sizeof(OsiProc) };
	OsiProcs *l;

	(void)cpu;
	if (!cur || !(head = find_init_task(cur)))
		return;
	learn_page_offset(cur);
	l = calloc(1, sizeof(*l));
	if (!l)
		return;
	l->partial = !walk_list(head + L.task_tasks, MAX_TASKS, add_proc, &a);
	l->procs = a.v;
	l->num = a.n;
	*out = l;
}

static void on_get_current_process(mh_cpu *cpu, OsiProc **out)
{
	uint64_t cur = current_task();
	OsiProc *p;

	(void)cpu;
	if (!cur || !find_init_task(cur))
		return;
	learn_page_offset(cur);
	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	if (!fill_proc(leader_of(cur), p)) {
		free(p);
		return;
	}
	*out = p;
}

static bool read_thread(uint64_t t, OsiThread *th)
{
	th->taskd = t;
	return rd32(t + L.task_pid, &th->tid) && rd32(t + L.task_tgid, &th->pid);
}

static void on_get_current_thread(mh_cpu *cpu, OsiThread **out)
{
	uint64_t cur = current_task();
	OsiThread *th;

	(void)cpu;
	if (!cur || !find_init_task(cur))
		return;
	th = calloc(1, sizeof(*th));
	if (th && !read_thread(cur, th)) {
		free(th);
		return;
	}
	*out = th;
}

static bool add_thread(uint64_t node, void *opaque)
{
	struct vec *a = opaque;
	OsiThread *th = vec_push(a);

	if (th && read_thread(node - L.task_thread_node, th))
		return true;
	if (th)
		a->n--;
	return false;
}

static void on_get_threads(mh_cpu *cpu, const OsiProc *p, OsiThreads **out)
{
	struct vec a = { .size = sizeof(OsiThread) };
	OsiThreads *l;
	uint64_t sig;

	(void)cpu;
	if (!have_layout || !rd64(p->taskd + L.task_signal, &sig))
		return;
	l = calloc(1, sizeof(*l));
	if (!l)
		return;
	l->partial = !walk_list(sig + L.signal_thread_head, MAX_TASKS, add_thread, &a);
	l->threads = a.v;
	l->num = a.n;
	*out = l;
}

/* -- mappings: the mm's maple tree -------------------------------------------- */

/*
 * maple_enode encoding (lib/maple_tree.c): the node 256-aligned, its type
 * in bits 3-6; the tree's root alone is also marked as an XArray internal
 * entry (low bits 10).
 */
enum { MAPLE_DENSE, MAPLE_LEAF_64, MAPLE_RANGE_64, MAPLE_ARANGE_64 };

struct mt_walk {
	uint64_t mm;
	GHashTable *seen;	/* vm_area_structs */
	struct vec vmas;	/* uint64_t */
	unsigned int nodes;
	bool partial;
};

static bool is_root_node(uint64_t e)
{
	return (e & 3) == 2 && e > 4096;
}

static void mt_vma(struct mt_walk *w, uint64_t e);

static void mt_node(struct mt_walk *w, uint64_t e, unsigned int depth)
{
	uint64_t node = e & ~0xffull, slots[16];
	unsigned int type = (e >> 3) & 0xf, n;
	uint64_t at;

	if (depth >= MAX_DEPTH || ++w->nodes > MAX_NODES) {
		w->partial = true;
		return;
	}
	if (type == MAPLE_LEAF_64 || type == MAPLE_RANGE_64) {
		at = L.mr64_slot;
		n = L.mr64_slot_n;
	} else if (type == MAPLE_ARANGE_64) {
		at = L.ma64_slot;
		n = L.ma64_slot_n;
	} else {
		w->partial = true;
		return;
	}
	if (!rd(node + at, slots, n * sizeof(slots[0]))) {
		w->partial = true;
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (!slots[i])
			continue;
		if (type == MAPLE_LEAF_64)
			mt_vma(w, slots[i]);
		else
			mt_node(w, slots[i], depth + 1);
	}
}

/*
 * A leaf entry: a vm_area_struct of this mm.  Slots past a node's end may
 * hold stale pointers, so an entry counts only if it points back to the
 * mm; the caller checks the count against mm->map_count.
 */
static void mt_vma(struct mt_walk *w, uint64_t e)
{
	uint64_t vm_mm, *slot;

	if ((e & 7) || !kaddr(e) || g_hash_table_contains(w->seen, &e))
		return;
	if (!rd64(e + L.vma_mm, &vm_mm)) {
		w->partial = true;
		return;
	}
	if (vm_mm != w->mm || w->vmas.n >= MAX_VMAS)
		return;
	slot = vec_push(&w->vmas);
	if (!slot) {
		w->partial = true;
		return;
	}
	*slot = e;
	g_hash_table_add(w->seen, g_memdup2(&e, sizeof(e)));
}

/* A file's path as the guest's /proc names it: dentries up to the root. */
static char *file_path(uint64_t file)
{
	uint64_t dentry, vfsmnt, mnt;
	char *parts[MAX_PATH_PARTS], *ret;
	unsigned int n = 0;
	GString *s;

	if (!rd64(file + L.file_dentry, &dentry) || !rd64(file + L.file_mnt, &vfsmnt))
		return NULL;
	mnt = vfsmnt - L.mount_mnt;
	/* Each step a component or a mount crossed: bounded both ways. */
	for (unsigned int step = 0;; step++) {
		uint64_t root, parent, name;

		if (step == 2 * MAX_PATH_PARTS || n == MAX_PATH_PARTS ||
		    !rd64(vfsmnt + L.vfsmount_root, &root))
			goto fail;
		if (dentry == root) {
			/* The mount's root: go on from where it is mounted. */
			if (!rd64(mnt + L.mount_parent, &parent))
				goto fail;
			if (parent == mnt)
				break;
			if (!rd64(mnt + L.mount_mountpoint, &dentry))
				goto fail;
			mnt = parent;
			vfsmnt = mnt + L.mount_mnt;
			continue;
		}
		if (!rd64(dentry + L.dentry_parent, &parent))
			goto fail;
		if (parent == dentry)
			break;
		if (!rd64(dentry + L.dentry_name, &name) ||
		    !(parts[n] = rd_str(name, NAME_MAX_LEN)))
			goto fail;
		n++;
		dentry = parent;
	}
	s = g_string_new(NULL);
	while (n) {
		g_string_append_printf(s, "/%s", parts[--n]);
		free(parts[n]);
	}
	if (!s->len)
		g_string_append_c(s, '/');
	/* malloc()'d, as osi.h promises. */
	ret = strdup(s->str);
	g_string_free(s, TRUE);
	return ret;
fail:
	while (n)
		free(parts[--n]);
	return NULL;
}

static int base_cmp(const void *a, const void *b)
{
	const OsiModule *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

#define VM_READ 0x1u
#define VM_WRITE 0x2u
#define VM_EXEC 0x4u
#define VM_SHARED 0x8u

static bool fill_vma(uint64_t v, uint64_t mm, OsiModule *m)
{
	uint64_t start, end, flags, file, pgoff, brk, start_brk, stack;
	const char *anon = "[anon]";

	if (!rd64(v + L.vma_start, &start) || !rd64(v + L.vma_end, &end) ||
	    !rd64(v + L.vma_flags, &flags) || !rd64(v + L.vma_file, &file) ||
	    !rd64(v + L.vma_pgoff, &pgoff) || end <= start)
		return false;
	m->modd = v;
	m->base = start;
	m->size = end - start;
	m->flags = (uint32_t)(flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED));
	if (file) {
		const char *slash;

		m->file = file_path(file);
		if (!m->file)
			return false;
		m->offset = pgoff << 12;
		slash = strrchr(m->file, '/');
		m->name = strdup(slash ? slash + 1 : m->file);
		return m->name != NULL;
	}
	/* The names /proc/PID/maps gives anonymous mappings it can tell. */
	if (rd64(mm + L.mm_start_brk, &start_brk) && rd64(mm + L.mm_brk, &brk) &&
	    start <= brk && end >= start_brk)
		anon = "[heap]";
	else if (rd64(mm + L.mm_start_stack, &stack) && start <= stack && end >= stack)
		anon = "[stack]";
	m->name = strdup(anon);
	return m->name != NULL;
}

static void on_get_mappings(mh_cpu *cpu, const OsiProc *p, OsiModules **out)
{
	struct mt_walk w = { .vmas = { .size = sizeof(uint64_t) } };
	struct vec mods = { .size = sizeof(OsiModule) };
	uint64_t root;
	int32_t count;
	OsiModules *l;

	(void)cpu;
	if (!have_layout || !rd64(p->taskd + L.task_mm, &w.mm))
		return;
	l = calloc(1, sizeof(*l));
	if (!l)
		return;
	*out = l;
	if (!w.mm)
		return;		/* a kernel thread */
	if (!rd64(w.mm + L.mm_mt + L.mt_root, &root) ||
	    !rd32(w.mm + L.mm_map_count, &count)) {
		l->partial = true;
		return;
	}
	w.seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	/* A tree of one entry at index 0 keeps it in the root itself. */
	if (is_root_node(root))
		mt_node(&w, root, 0);
	else if (root)
		mt_vma(&w, root);
	g_hash_table_destroy(w.seen);
	for (uint32_t i = 0; i < w.vmas.n; i++) {
		OsiModule *m = vec_push(&mods);

		if (!m) {
			w.partial = true;
			break;
		}
		if (!fill_vma(((uint64_t *)w.vmas.v)[i], w.mm, m)) {
			free(m->file);
			mods.n--;
			w.partial = true;
		}
	}
	free(w.vmas.v);
	if (mods.n)
		qsort(mods.v, mods.n, sizeof(OsiModule), base_cmp);
	l->mods = mods.v;
	l->num = mods.n;
	l->partial = w.partial || (int64_t)mods.n != count;
}

/* Bound of the module list walk: far above the modules a kernel loads. */
#define MAX_MODULES 16384u

static bool add_module(uint64_t node, void *opaque)
{
	struct vec *a = opaque;
	uint64_t mod = node - L.module_list, base;
	char name[64] = "";
	uint32_t size;
	OsiModule *m;
	size_t n = MIN(L.module_name_n, sizeof(name) - 1);

	if (!rd(mod + L.module_name, name, n) || !rd64(mod + L.module_base, &base) ||
	    !rd(mod + L.module_size, &size, sizeof(size)))
		return false;
	name[n] = 0;
	m = vec_push(a);
	if (!m)
		return false;
	m->modd = mod;
	m->base = base;
	m->size = size;
	m->name = strdup(name);
	if (!m->name) {
		a->n--;
		return false;
	}
	return true;
}

/*
 * The kernel's modules, from the list at the symbol "modules": its
 * link-time address moved by KASLR's offset, which init_task's address
 * (found from the current task) against its own symbol gives.
 */
static void on_get_modules(mh_cpu *cpu, OsiModules **out)
{
	uint64_t cur = current_task(), head;
	struct vec a = { .size = sizeof(OsiModule) };
	OsiModules *l;

	(void)cpu;
	if (!L.modules || !cur || !(head = find_init_task(cur)))
		return;
	l = calloc(1, sizeof(*l));
	if (!l)
		return;
	head = L.sym_modules + (head - L.sym_init_task);
	l->partial = !walk_list(head, MAX_MODULES, add_module, &a);
	if (a.n)
		qsort(a.v, a.n, sizeof(OsiModule), base_cmp);
	l->mods = a.v;
	l->num = a.n;
	*out = l;
}

/* -- task changes -------------------------------------------------------------- */

static void on_switch(unsigned int vcpu_index, uint32_t meminfo, uint64_t vaddr,
		      void *udata)
{
	struct vstate *vs = mh->scoreboard_find(vstates, vcpu_index);
	OsiThread prev = { .pid = vs->pid, .tid = vs->tid, .taskd = vs->task };
	OsiThread next = { .taskd = mh->mem_value(meminfo) };

	(void)vaddr;
	(void)udata;
	if (next.taskd == prev.taskd || !read_thread(next.taskd, &next))
		return;
	vs->task = next.taskd;
	vs->pid = next.pid;
	vs->tid = next.tid;
	osi_runcb_on_task_change(mh_cpu_of(vcpu_index), &prev, &next);
}

/*
 * The kernel's context switch stores the next task in the per-CPU current
 * task pointer: "mov %reg, %gs:OFFSET" (65, REX.W, 89 /r).  Linux builds
 * per-CPU accesses RIP-relative (ModRM mod 00 rm 101: the address is the
 * next instruction's plus the 32-bit displacement, wrapping to the
 * zero-based offset; KASLR's relocation keeps the sum) or absolute (rm 100
 * with a SIB of no base and no index).  A memory callback after that store
 * sees the new task as the stored value.
 */
static bool is_current_store(const unsigned char *b, size_t n, uint64_t vaddr)
{
	int32_t disp;

	if (n < 8 || b[0] != 0x65 || (b[1] & 0xf8) != 0x48 || b[2] != 0x89)
		return false;
	if (n == 8 && (b[3] & 0xc7) == 0x05) {
		memcpy(&disp, b + 4, sizeof(disp));
		return vaddr + n + (uint64_t)(int64_t)disp == L.percpu_current_task;
	}
	if (n == 9 && (b[3] & 0xc7) == 0x04 && b[4] == 0x25) {
		memcpy(&disp, b + 5, sizeof(disp));
		return (uint64_t)(uint32_t)disp == L.percpu_current_task;
	}
	return false;
}

static void translate(mh_tb *tb, void *opaque)
{
	size_t n = mh->tb_n_insns(tb);

	(void)opaque;
	if (!kaddr(mh->tb_vaddr(tb)))
		return;
	for (size_t i = 0; i < n; i++) {
		mh_insn *insn = mh->tb_insn(tb, i);
		unsigned char b[16];
		size_t len = mh->insn_size(insn);

		if ((len == 8 || len == 9) && mh->insn_data(insn, b, sizeof(b)) == len &&
		    is_current_store(b, len, mh->insn_vaddr(insn)))
			mh->insn_mem_cb(insn, on_switch, MH_CB_NO_REGS, MH_MEM_W, NULL);
	}
}

/* -- hooks ------------------------------------------------------------------------ */

/*
 * Reading a kernel image (unpacking 60 MB of LZ4, parsing its BTF and
 * kallsyms) took 70 ms of QEMU's start on every boot; a profile read
 * from a cache file takes 1.  The cache file of an image is named by a
 * digest of its path, device, inode, size and modification time and of
 * what this osi_linux reads from images (osil_kimage_reads()): a rebuilt
 * or replaced image, or an osi_linux that wants more keys, finds no file
 * and reads the image again.  NULL: no caching (cache=off, or the image
 * cannot be looked at).
 */
static char *cache_file(mh_module *self, const struct mh_api *api,
			const char *image)
{
	const char *dir = api->param_str(self, "cache");
	g_autofree char *def = NULL, *real = NULL, *reads = NULL, *key = NULL,
			*sum = NULL;
	struct stat st;

	if (dir && !strcmp(dir, "off"))
		return NULL;
	if (stat(image, &st) || !(real = realpath(image, NULL)))
		return NULL;
	reads = osil_kimage_reads();
	key = g_strdup_printf("%s\n%ju %ju %jd %jd.%09ld\n%s", real,
			      (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
			      (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
			      st.st_mtim.tv_nsec, reads);
	sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
	if (!dir || !*dir)
		dir = def = g_build_filename(g_get_user_cache_dir(), "modhost",
					     "osi_linux", NULL);
	return g_strdup_printf("%s/%.32s.profile", dir, sum);
}

/* The cached profile @file, or NULL (none, or unusable: a debug line). */
static GHashTable *cache_read(mh_module *self, const struct mh_api *api,
			      const char *file, struct osil_layout *l)
{
	g_autoptr(GHashTable) prof = NULL;
	g_autofree char *err = NULL;

	if (!g_file_test(file, G_FILE_TEST_EXISTS))
		return NULL;
	prof = osil_profile_read(file, &err);
	if (prof && !osil_layout_from_profile(prof, l, &err))
		return g_steal_pointer(&prof);
	api->log(self, MH_LOG_DEBUG, "cached profile not used: %s", err);
	return NULL;
}

/* Keep the profile read from @image in @file; a warning if it cannot. */
static bool cache_write(mh_module *self, const struct mh_api *api,
			const char *file, const char *image, GHashTable *prof)
{
	g_autofree char *dir = g_path_get_dirname(file), *text = NULL,
			*all = NULL;
	GError *gerr = NULL;

	text = osil_profile_write(prof);
	all = g_strdup_printf("# read from %s; delete to read it again\n%s",
			      image, text);
	if (g_mkdir_with_parents(dir, 0700) ||
	    !g_file_set_contents(file, all, -1, &gerr)) {
		api->log(self, MH_LOG_WARN, "cannot cache the kernel profile in "
			 "%s: %s (osi_linux.cache=off: no cache)", file,
			 gerr ? gerr->message : g_strerror(errno));
		g_clear_error(&gerr);
		return false;
	}
	return true;
}

static int load_layout(mh_module *self, const struct mh_api *api)
{
	const char *prof_path = api->param_str(self, "profile");
	const char *kpath = api->param_str(self, "kernel");
	g_autofree char *qk = NULL, *err = NULL, *cached = NULL;
	g_autoptr(GHashTable) prof = NULL;
	const char *from, *how = "";

	if (prof_path && *prof_path) {
		from = prof_path;
		prof = osil_profile_read(prof_path, &err);
	} else {
		if (!kpath || !*kpath)
			kpath = qk = kimage_qemu_kernel();
		if (!kpath) {
			api->log(self, MH_LOG_ERROR, "no kernel to read: give "
				 "osi_linux.kernel=IMAGE (the guest's bzImage or "
				 "vmlinux, with BTF) or osi_linux.profile=FILE (made "
				 "by osi-profile IMAGE FILE)");
			return -EINVAL;
		}
		from = kpath;
		cached = cache_file(self, api, kpath);
		if (cached && (prof = cache_read(self, api, cached, &L))) {
			have_layout = true;
			api->log(self, MH_LOG_INFO, "kernel %s (from %s, profile "
				 "cached in %s)", L.version, from, cached);
			return 0;
		}
		prof = osil_kimage_profile(kpath, &err);
	}
	if (!prof || osil_layout_from_profile(prof, &L, &err)) {
		/* err names the file when the file is what failed to read. */
		api->log(self, MH_LOG_ERROR, "%s%s%s; make a profile with "
			 "osi-profile IMAGE FILE from the kernel's image (with "
			 "BTF) and give osi_linux.profile=FILE", prof ? from : "",
			 prof ? ": " : "", err);
		return -EINVAL;
	}
	if (cached && cache_write(self, api, cached, kpath, prof))
		how = ", profile cached";
	have_layout = true;
	api->log(self, MH_LOG_INFO, "kernel %s (from %s%s)", L.version, from, how);
	return 0;
}

static int osi_linux_prepare(mh_module *self, const struct mh_api *api)
{
	if (have_layout) {
		osil_layout_clear(&L);
		have_layout = false;
	}
	return load_layout(self, api);
}

/* osi's provider points, and what answers each. */
static const struct {
	const char *name, *sig;
	void (*fn)(void);
} points[] = {
	{ "on_get_current_process", OSI_ON_GET_CURRENT_PROCESS_SIG,
	  (void (*)(void))on_get_current_process },
	{ "on_get_current_thread", OSI_ON_GET_CURRENT_THREAD_SIG,
	  (void (*)(void))on_get_current_thread },
	{ "on_get_processes", OSI_ON_GET_PROCESSES_SIG,
	  (void (*)(void))on_get_processes },
	{ "on_get_threads", OSI_ON_GET_THREADS_SIG,
	  (void (*)(void))on_get_threads },
	{ "on_get_mappings", OSI_ON_GET_MAPPINGS_SIG,
	  (void (*)(void))on_get_mappings },
	{ "on_get_modules", OSI_ON_GET_MODULES_SIG,
	  (void (*)(void))on_get_modules },
};

static int osi_linux_init(mh_module *self, const struct mh_api *api)
{
	int rc;

	mh = api;
	me = self;
	init_task = 0;
	page_offset_base = 0;
	unfit = false;
	/* A rolled-back reload runs init again without prepare. */
	if (!have_layout && (rc = load_layout(self, api)))
		return rc;
	reg_gs_base = api->reg_lookup("gs_base");
	reg_k_gs_base = api->reg_lookup("k_gs_base");
	reg_cr3 = api->reg_lookup("cr3");
	if (!reg_gs_base || !reg_k_gs_base || !reg_cr3) {
		api->log(self, MH_LOG_ERROR, "this vCPU has no gs_base, k_gs_base "
			 "or cr3 register: osi_linux reads x86_64 guests only");
		rc = -ENOTSUP;
		goto err;
	}
	vstates = api->scoreboard_new(self, sizeof(struct vstate));
	if (!vstates) {
		rc = -ENOMEM;
		goto err;
	}
	/* What init registered through the host goes with the failed load. */
	for (unsigned int i = 0; i < G_N_ELEMENTS(points); i++) {
		rc = api->ppp_register(self, OSI_MODULE, points[i].name,
				       points[i].sig, points[i].fn);
		if (rc)
			goto err;
	}
	rc = api->set_translate(self, translate, NULL);
	if (!rc)
		return 0;
err:
	osil_layout_clear(&L);
	have_layout = false;
	return rc;
}

static void osi_linux_exit(mh_module *self)
{
	(void)self;
	/* At QEMU's end other vCPUs may still read the layout: keep it. */
	if (mh->exiting())
		return;
	osil_layout_clear(&L);
	have_layout = false;
	vstates = NULL;
}

MH_MODULE("osi_linux", "1.0", "MIT",
	  "osi's provider for Linux guests: the kernel's BTF layouts, no guest agent",
	  .prepare = osi_linux_prepare,
	  .init = osi_linux_init,
	  .exit = osi_linux_exit);
