/* SPDX-License-Identifier: MIT */
/*
 * osi_linux internals: what the kernel-image reader (kimage.c), the
 * profile (profile.c) and the module (osi_linux.c) share.  kimage.c and
 * profile.c are plain C with GLib, libbpf and liblz4, no modhost API, so
 * tools/osi-profile links them too.
 */
#ifndef OSI_LINUX_H
#define OSI_LINUX_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

/*
 * A kernel profile: what osi_linux needs to know of one kernel build, as
 * "key=value" pairs (a GHashTable of strings).  Offsets are bytes, in
 * decimal; "T.m" is member m of struct T (a dotted path for nested
 * members, "file.f_path.dentry"), "T.m.n" the element count of an array
 * member, "percpu.current_task" the per-CPU offset of the current task
 * pointer, "version" the kernel's banner.  The file form is one pair a
 * line, '#' starts a comment.
 */

/**
 * struct osil_layout - a profile, checked and in numbers
 *
 * Every field is a byte offset, but the counts (_n) and the symbols'
 * addresses (sym_).  The fields after @kthread_names and after @modules
 * are optional: each flag says whether the profile has all of its group.
 */
struct osil_layout {
	uint64_t task_tasks, task_pid, task_tgid, task_comm, task_real_parent;
	uint64_t task_mm, task_start_time, task_thread_node, task_signal;
	uint64_t signal_thread_head;
	uint64_t mm_pgd, mm_mt, mm_map_count, mm_start_brk, mm_brk;
	uint64_t mm_start_stack;
	uint64_t mt_root;
	uint64_t mr64_slot, mr64_slot_n, ma64_slot, ma64_slot_n;
	uint64_t vma_start, vma_end, vma_mm, vma_flags, vma_file, vma_pgoff;
	uint64_t file_dentry, file_mnt;
	uint64_t dentry_parent, dentry_name;
	uint64_t mount_mnt, mount_parent, mount_mountpoint, vfsmount_root;
	uint64_t percpu_current_task;
	/* The names /proc shows for kernel threads, if the profile has them. */
	bool kthread_names;
	uint64_t task_flags, task_worker_private, kthread_full_name, kthread_data;
	uint64_t worker_desc, worker_desc_n, worker_current_work, worker_pool;
	/* The kernel's modules, if the profile has these. */
	bool modules;
	uint64_t sym_init_task, sym_modules;	/* link-time addresses */
	uint64_t module_list, module_name, module_name_n, module_base;
	uint64_t module_size;
	char *version;
};

/**
 * osil_kimage_profile() - the profile of a kernel image
 * @path: a bzImage (LZ4-compressed payload) or an uncompressed vmlinux,
 *	either with BTF (CONFIG_DEBUG_INFO_BTF)
 * @err: why it failed: one line naming @path and what is missing
 *
 * Return: a new table (key -> value, both g_free'd), or NULL.
 */
GHashTable *osil_kimage_profile(const char *path, char **err);

/**
 * osil_kimage_reads() - what osil_kimage_profile() reads from an image,
 *	as text: the profile keys it looks for and its reader's version.  A
 *	profile cached from an image is only good for the same text.
 *
 * Return: a new string, g_free'd.
 */
char *osil_kimage_reads(void);

/**
 * osil_profile_read() - a profile file
 * @path: the file (tools/osi-profile's output)
 * @err: why it failed, with the line number of a bad line
 *
 * Return: a new table, or NULL.
 */
GHashTable *osil_profile_read(const char *path, char **err);

/**
 * osil_profile_write() - a profile as its file text, keys sorted
 * @prof: the table
 *
 * Return: a new string (g_free()).
 */
char *osil_profile_write(GHashTable *prof);

/**
 * osil_layout_from_profile() - check a profile and read it into @l
 * @prof: the table
 * @l: filled in; osil_layout_clear() it after
 * @err: which keys are missing or bad (all of them, one line)
 *
 * Return: 0, or -EINVAL.
 */
int osil_layout_from_profile(GHashTable *prof, struct osil_layout *l,
			     char **err);
void osil_layout_clear(struct osil_layout *l);

#endif /* OSI_LINUX_H */
