/* SPDX-License-Identifier: MIT */
/*
 * osi - the consumers' and providers' API of the osi module: operating
 * system introspection (processes, threads, memory mappings, kernel
 * modules) of the guest, from whatever OS provider is loaded (osi_linux
 * for Linux), as PANDA's osi.
 *
 * Clients import the functions and handle the on_task_change point:
 *
 *	static osi_get_current_process_t get_current_process;
 *	static osi_free_osiproc_t free_osiproc;
 *	MH_IMPORT(OSI_MODULE, get_current_process, OSI_GET_CURRENT_PROCESS_SIG);
 *	MH_IMPORT(OSI_MODULE, free_osiproc, OSI_FREE_OSIPROC_SIG);
 *
 *	api->ppp_register(self, OSI_MODULE, "on_task_change",
 *			  OSI_ON_TASK_CHANGE_SIG, (void (*)(void))my_on_task_change);
 *
 * A provider handles the provider points (on_get_processes, ...) and
 * imports osi_runcb_on_task_change to raise on_task_change.
 *
 * Call the get_* functions from a vCPU callback (a hypercall handler, an
 * on_call handler, a callback registered with MH_CB_R_REGS): they read the
 * vCPU's registers and guest memory.
 *
 * Memory: every get_* returns memory the caller owns, or NULL (no provider,
 * the guest not in a state the provider can read).  Free it with the
 * matching free_* (free_osiproc() for get_current_process() ...); each
 * free_* frees the object, its arrays and its strings, and accepts NULL.
 * A provider allocates everything it returns with malloc() (strings with
 * strdup()), so that osi's free_* release it whichever module made it, and
 * a consumer needs no library of its own (no GLib in this header, where
 * PANDA hands out GArrays).
 *
 * Lists carry a @partial flag: guest memory that could not be read (a
 * page not mapped, a list changing under the walk, a walk longer than
 * the provider's bound) ends the walk early and sets it.  A partial list
 * holds only entries that were read whole.
 *
 * Guest addresses are uint64_t (PANDA's target_ptr_t), pids int32_t
 * (target_pid_t).  See modules/osi/README.md.
 */
#ifndef MODHOST_OSI_H
#define MODHOST_OSI_H

#include <stdbool.h>
#include <stdint.h>

#include <modhost/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The interface module's name, for MH_IMPORT() and ppp_register(). */
#define OSI_MODULE "osi"

/**
 * struct OsiProc - a process
 * @taskd: guest address of the OS's descriptor (Linux: the task_struct of
 *	the thread group leader)
 * @asid: the address space, as cr3 holds it with the low 12 bits clear
 *	(0 for a kernel thread, or when the provider cannot tell yet)
 * @pid: process id (Linux: tgid)
 * @ppid: the parent's process id
 * @name: the command name the kernel keeps (Linux: comm, at most 15
 *	characters); never NULL
 * @create_time: when it started, the OS's clock (Linux: task start_time,
 *	ns since boot, without suspend time)
 */
typedef struct OsiProc {
	uint64_t taskd;
	uint64_t asid;
	int32_t pid;
	int32_t ppid;
	char *name;
	uint64_t create_time;
} OsiProc;

/**
 * struct OsiThread - a thread
 * @pid: the process it belongs to
 * @tid: its own id (Linux: pid of the task)
 * @taskd: guest address of its descriptor (Linux: its task_struct)
 */
typedef struct OsiThread {
	int32_t pid;
	int32_t tid;
	uint64_t taskd;
} OsiThread;

/**
 * struct OsiModule - a memory mapping of a process, or a kernel module
 * @modd: guest address of the OS's descriptor (Linux: vm_area_struct,
 *	or struct module)
 * @base: first address
 * @size: bytes
 * @file: the backing file's path as the guest names it ("/bin/busybox");
 *	NULL for an anonymous mapping (and for a kernel module)
 * @name: the file's base name, a kernel module's name, or for an
 *	anonymous mapping "[heap]", "[stack]" or "[anon]"; never NULL
 * @offset: offset in @file of @base (bytes); 0 if no file
 * @flags: OSI_MAP_* (mappings only)
 */
typedef struct OsiModule {
	uint64_t modd;
	uint64_t base;
	uint64_t size;
	char *file;
	char *name;
	uint64_t offset;
	uint32_t flags;
} OsiModule;

#define OSI_MAP_READ 0x1u
#define OSI_MAP_WRITE 0x2u
#define OSI_MAP_EXEC 0x4u
#define OSI_MAP_SHARED 0x8u

/**
 * struct OsiProcs - a list of processes (get_processes())
 * @num: entries in @procs
 * @partial: the walk ended early (see the top of this file)
 * @procs: the processes; NULL when @num is 0
 */
typedef struct OsiProcs {
	uint32_t num;
	bool partial;
	OsiProc *procs;
} OsiProcs;

/**
 * struct OsiThreads - a list of threads (get_threads())
 * @num: entries in @threads
 * @partial: the walk ended early
 * @threads: the threads; NULL when @num is 0
 */
typedef struct OsiThreads {
	uint32_t num;
	bool partial;
	OsiThread *threads;
} OsiThreads;

/**
 * struct OsiModules - mappings (get_mappings()) or kernel modules
 * (get_modules()), by ascending @base
 * @num: entries in @mods
 * @partial: the walk ended early
 * @mods: the entries; NULL when @num is 0
 */
typedef struct OsiModules {
	uint32_t num;
	bool partial;
	OsiModule *mods;
} OsiModules;

/* -- client functions, exported by osi ---------------------------------- */

/**
 * get_current_process() - the process running on @cpu
 * @cpu: the vCPU
 *
 * Return: a new OsiProc (free_osiproc()), or NULL.
 */
typedef OsiProc *(*osi_get_current_process_t)(mh_cpu *cpu);
#define OSI_GET_CURRENT_PROCESS_SIG "p(p)"

/**
 * get_current_thread() - the thread running on @cpu
 * @cpu: the vCPU
 *
 * Return: a new OsiThread (free_osithread()), or NULL.
 */
typedef OsiThread *(*osi_get_current_thread_t)(mh_cpu *cpu);
#define OSI_GET_CURRENT_THREAD_SIG "p(p)"

/**
 * get_processes() - every process of the guest, as its /proc lists them
 * @cpu: the vCPU whose view is read
 *
 * Linux: every thread group, not the idle tasks (pid 0), in the kernel's
 * task list order.
 *
 * Return: a new list (free_osiprocs()), or NULL.
 */
typedef OsiProcs *(*osi_get_processes_t)(mh_cpu *cpu);
#define OSI_GET_PROCESSES_SIG "p(p)"

/**
 * get_threads() - the threads of a process
 * @cpu: the vCPU
 * @p: a process from get_current_process() or get_processes()
 *
 * Return: a new list (free_osithreads()), or NULL.
 */
typedef OsiThreads *(*osi_get_threads_t)(mh_cpu *cpu, const OsiProc *p);
#define OSI_GET_THREADS_SIG "p(p,p)"

/**
 * get_mappings() - the memory mappings of a process, by address
 * @cpu: the vCPU
 * @p: a process from get_current_process() or get_processes()
 *
 * Return: a new list (free_osimodules()), or NULL (a kernel thread has
 * no mappings: an empty list).
 */
typedef OsiModules *(*osi_get_mappings_t)(mh_cpu *cpu, const OsiProc *p);
#define OSI_GET_MAPPINGS_SIG "p(p,p)"

/**
 * get_modules() - the kernel's loaded modules
 * @cpu: the vCPU
 *
 * Return: a new list (free_osimodules()), or NULL when the provider
 * cannot find them (osi_linux: its profile has no module list symbol).
 */
typedef OsiModules *(*osi_get_modules_t)(mh_cpu *cpu);
#define OSI_GET_MODULES_SIG "p(p)"

/* Free what the get_* functions returned, with everything in it; NULL is fine. */
typedef void (*osi_free_osiproc_t)(OsiProc *p);
typedef void (*osi_free_osithread_t)(OsiThread *t);
typedef void (*osi_free_osiprocs_t)(OsiProcs *l);
typedef void (*osi_free_osithreads_t)(OsiThreads *l);
typedef void (*osi_free_osimodules_t)(OsiModules *l);
#define OSI_FREE_OSIPROC_SIG "v(p)"
#define OSI_FREE_OSITHREAD_SIG "v(p)"
#define OSI_FREE_OSIPROCS_SIG "v(p)"
#define OSI_FREE_OSITHREADS_SIG "v(p)"
#define OSI_FREE_OSIMODULES_SIG "v(p)"

/* -- user point: declared by osi, raised by a provider ------------------ */

/**
 * typedef on_task_change_t - handler of the PPP point "on_task_change"
 * @cpu: the vCPU
 * @prev: the thread that ran until now (pid and tid 0 when not known,
 *	as at the first switch a provider sees)
 * @next: the thread that runs from now on
 *
 * Runs on @cpu's thread when the kernel switches it to another task, after
 * the switch (osi_linux: when the kernel stores its per-CPU current task
 * pointer), before the new task runs.  @prev and @next live only during
 * the call.  PANDA's on_task_change passes the CPU only: get_current_thread()
 * there gives @next.
 */
typedef void (*on_task_change_t)(mh_cpu *cpu, const OsiThread *prev,
				 const OsiThread *next);
#define OSI_ON_TASK_CHANGE_SIG "v(p,p,p)"

/* -- provider points: declared by osi, handled by a provider ------------ */

/*
 * Each answers by setting *@out (a new object, as the client function
 * returns it) when it knows the guest, and leaves it alone otherwise; osi
 * asks the providers in registration order until one answers.
 */
typedef void (*on_get_current_process_t)(mh_cpu *cpu, OsiProc **out);
typedef void (*on_get_current_thread_t)(mh_cpu *cpu, OsiThread **out);
typedef void (*on_get_processes_t)(mh_cpu *cpu, OsiProcs **out);
typedef void (*on_get_threads_t)(mh_cpu *cpu, const OsiProc *p,
				 OsiThreads **out);
typedef void (*on_get_mappings_t)(mh_cpu *cpu, const OsiProc *p,
				  OsiModules **out);
typedef void (*on_get_modules_t)(mh_cpu *cpu, OsiModules **out);
#define OSI_ON_GET_CURRENT_PROCESS_SIG "v(p,p)"
#define OSI_ON_GET_CURRENT_THREAD_SIG "v(p,p)"
#define OSI_ON_GET_PROCESSES_SIG "v(p,p)"
#define OSI_ON_GET_THREADS_SIG "v(p,p,p)"
#define OSI_ON_GET_MAPPINGS_SIG "v(p,p,p)"
#define OSI_ON_GET_MODULES_SIG "v(p,p)"

/* -- provider function, exported by osi --------------------------------- */

/* Raise on_task_change (the provider's side of the point). */
typedef void (*osi_runcb_on_task_change_t)(mh_cpu *cpu, const OsiThread *prev,
					   const OsiThread *next);
#define OSI_RUNCB_ON_TASK_CHANGE_SIG OSI_ON_TASK_CHANGE_SIG

#ifdef __cplusplus
}
#endif

#endif /* MODHOST_OSI_H */
