// SPDX-License-Identifier: MIT
/*
 * profile.c - kernel profiles: the file form (key=value lines) and the
 * check that turns one into a struct osil_layout.  The check lists every
 * key that is missing or bad at once, so one refusal says all that a
 * profile for that kernel lacks.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "osi_linux.h"

#define PROFILE_MAX (1u << 20)

GHashTable *osil_profile_read(const char *path, char **err)
{
	g_autoptr(GHashTable) prof = g_hash_table_new_full(g_str_hash, g_str_equal,
							   g_free, g_free);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	GError *gerr = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &text, &len, &gerr)) {
		*err = g_strdup_printf("profile: %s", gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	if (len > PROFILE_MAX || memchr(text, 0, len)) {
		*err = g_strdup_printf("profile %s: not a profile (binary, or over "
				       "1 MiB)", path);
		return NULL;
	}
	lines = g_strsplit(text, "\n", -1);
	for (unsigned int i = 0; lines[i]; i++) {
		char *l = g_strstrip(lines[i]), *eq;

		if (!*l || *l == '#')
			continue;
		eq = strchr(l, '=');
		if (!eq || eq == l) {
			*err = g_strdup_printf("profile %s line %u: not key=value",
					       path, i + 1);
			return NULL;
		}
		*eq = 0;
		g_hash_table_replace(prof, g_strdup(g_strchomp(l)),
				     g_strdup(g_strchug(eq + 1)));
	}
	return g_steal_pointer(&prof);
}

char *osil_profile_write(GHashTable *prof)
{
	g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(prof),
					    (GCompareFunc)strcmp);
	GString *s = g_string_new("# osi_linux kernel profile (tools/osi-profile)\n");

	for (GList *k = keys; k; k = k->next)
		g_string_append_printf(s, "%s=%s\n", (char *)k->data,
				       (char *)g_hash_table_lookup(prof, k->data));
	return g_string_free(s, FALSE);
}

#define F(key, field) { key, offsetof(struct osil_layout, field) }
static const struct {
	const char *key;
	size_t at;
} fields[] = {
	F("task_struct.tasks", task_tasks), F("task_struct.pid", task_pid),
	F("task_struct.tgid", task_tgid), F("task_struct.comm", task_comm),
	F("task_struct.real_parent", task_real_parent),
	F("task_struct.mm", task_mm), F("task_struct.start_time", task_start_time),
	F("task_struct.thread_node", task_thread_node),
	F("task_struct.signal", task_signal),
	F("signal_struct.thread_head", signal_thread_head),
	F("mm_struct.pgd", mm_pgd), F("mm_struct.mm_mt", mm_mt),
	F("mm_struct.map_count", mm_map_count),
	F("mm_struct.start_brk", mm_start_brk), F("mm_struct.brk", mm_brk),
	F("mm_struct.start_stack", mm_start_stack),
	F("maple_tree.ma_root", mt_root),
	F("maple_range_64.slot", mr64_slot), F("maple_range_64.slot.n", mr64_slot_n),
	F("maple_arange_64.slot", ma64_slot),
	F("maple_arange_64.slot.n", ma64_slot_n),
	F("vm_area_struct.vm_start", vma_start), F("vm_area_struct.vm_end", vma_end),
	F("vm_area_struct.vm_mm", vma_mm), F("vm_area_struct.vm_flags", vma_flags),
	F("vm_area_struct.vm_file", vma_file),
	F("vm_area_struct.vm_pgoff", vma_pgoff),
	F("file.f_path.dentry", file_dentry), F("file.f_path.mnt", file_mnt),
	F("dentry.d_parent", dentry_parent), F("dentry.d_name.name", dentry_name),
	F("mount.mnt", mount_mnt), F("mount.mnt_parent", mount_parent),
	F("mount.mnt_mountpoint", mount_mountpoint),
	F("vfsmount.mnt_root", vfsmount_root),
	F("percpu.current_task", percpu_current_task),
};
/* All or nothing: without them a kernel thread is named by its comm. */
static const struct {
	const char *key;
	size_t at;
} optional[] = {
	F("task_struct.flags", task_flags),
	F("task_struct.worker_private", task_worker_private),
	F("kthread.full_name", kthread_full_name), F("kthread.data", kthread_data),
	F("worker.desc", worker_desc), F("worker.desc.n", worker_desc_n),
	F("worker.current_work", worker_current_work), F("worker.pool", worker_pool),
};
/* All or nothing: without them there is no module list. */
static const struct {
	const char *key;
	size_t at;
} module_keys[] = {
	F("sym.init_task", sym_init_task), F("sym.modules", sym_modules),
	F("module.list", module_list), F("module.name", module_name),
	F("module.name.n", module_name_n),
	F("module.core_layout.base", module_base),
	F("module.core_layout.size", module_size),
};
#undef F

/* Bound on any offset: past the largest struct and the per-CPU area. */
#define OFFSET_MAX (1u << 24)

/* Read @key into the field at @at of @l; false if missing or bad. */
static bool get_field(GHashTable *prof, const char *key, size_t at,
		      struct osil_layout *l, GString *bad)
{
	const char *s = g_hash_table_lookup(prof, key);
	/* Symbols are addresses; everything else an offset or a count. */
	guint64 max = g_str_has_prefix(key, "sym.") ? G_MAXUINT64 : OFFSET_MAX;
	guint64 n;

	if (!s || !g_ascii_string_to_unsigned(s, 10, 0, max, &n, NULL)) {
		if (bad)
			g_string_append_printf(bad, "%s%s%s", bad->len ? ", " : "",
					       key, s ? " (bad value)" : "");
		return false;
	}
	*(uint64_t *)((char *)l + at) = n;
	return true;
}

int osil_layout_from_profile(GHashTable *prof, struct osil_layout *l,
			     char **err)
{
	g_autoptr(GString) bad = g_string_new(NULL);
	const char *v;

	memset(l, 0, sizeof(*l));
	for (unsigned int i = 0; i < G_N_ELEMENTS(fields); i++)
		get_field(prof, fields[i].key, fields[i].at, l, bad);
	l->kthread_names = true;
	for (unsigned int i = 0; i < G_N_ELEMENTS(optional); i++)
		if (!get_field(prof, optional[i].key, optional[i].at, l, NULL))
			l->kthread_names = false;
	l->modules = true;
	for (unsigned int i = 0; i < G_N_ELEMENTS(module_keys); i++)
		if (!get_field(prof, module_keys[i].key, module_keys[i].at, l, NULL))
			l->modules = false;
	/* A maple node holds at most 16 slots; anything else is not a maple tree. */
	if (!bad->len && (!l->mr64_slot_n || l->mr64_slot_n > 16 ||
			  !l->ma64_slot_n || l->ma64_slot_n > 16))
		g_string_append(bad, "maple node slot counts (bad value)");
	if (bad->len) {
		*err = g_strdup_printf("the kernel profile lacks %s", bad->str);
		return -EINVAL;
	}
	v = g_hash_table_lookup(prof, "version");
	l->version = g_strdup(v ? v : "(unknown version)");
	return 0;
}

void osil_layout_clear(struct osil_layout *l)
{
	g_free(l->version);
	l->version = NULL;
}
