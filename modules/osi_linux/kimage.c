// SPDX-License-Identifier: MIT
/*
 * kimage.c - a kernel profile from the kernel image itself: the structure
 * layouts from its BTF (CONFIG_DEBUG_INFO_BTF), read with libbpf.
 *
 * Debian's cloud kernel ships as a bzImage whose LZ4 payload is the
 * vmlinux ELF, stripped of symbols but not of .BTF; ../lib/kernel_image.c
 * unpacks it.  Two symbols, for the kernel's module list, come from its
 * own kallsyms tables (kernel_image.c too).
 *
 * The one address osi_linux needs, the current task pointer, is a per-CPU
 * variable: BTF lists per-CPU variables in the DATASEC ".data..percpu"
 * with their offsets in that section, which on x86_64 is linked at 0, so
 * the offset is what %gs-relative code uses and KASLR does not move it.
 */
#include <errno.h>
#include <string.h>

#include <bpf/btf.h>

#include "kernel_image.h"
#include "osi_linux.h"

/* The struct or union a type id names, through typedefs and qualifiers. */
static const struct btf_type *composite(const struct btf *btf, __u32 id)
{
	int r = btf__resolve_type(btf, id);
	const struct btf_type *t = r < 0 ? NULL : btf__type_by_id(btf, r);

	return t && btf_is_composite(t) ? t : NULL;
}

/*
 * Member @name of composite @t, looking into anonymous structs and unions:
 * its byte offset and type id.  0, or -ENOENT (or -EINVAL for a bit field).
 */
static int member(const struct btf *btf, const struct btf_type *t,
		  const char *name, uint64_t *off, __u32 *type)
{
	const struct btf_member *m = btf_members(t);

	for (unsigned int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);
		__u32 bits = btf_member_bit_offset(t, i);
		const struct btf_type *sub;

		if (mn && *mn) {
			if (strcmp(mn, name))
				continue;
			if (bits % 8)
				return -EINVAL;
			*off = bits / 8;
			*type = m->type;
			return 0;
		}
		sub = composite(btf, m->type);
		if (sub && !member(btf, sub, name, off, type)) {
			*off += bits / 8;
			return 0;
		}
	}
	return -ENOENT;
}

/* Offset of the dotted member path @path in struct @sname. */
static int path_offset(const struct btf *btf, const char *sname,
		       const char *path, uint64_t *off, __u32 *type)
{
	g_auto(GStrv) parts = g_strsplit(path, ".", -1);
	__s32 id = btf__find_by_name_kind(btf, sname, BTF_KIND_STRUCT);
	const struct btf_type *t = id < 0 ? NULL : btf__type_by_id(btf, id);

	*off = 0;
	for (char **p = parts; *p; p++) {
		uint64_t o;

		if (!t || member(btf, t, *p, &o, type))
			return -ENOENT;
		*off += o;
		t = p[1] ? composite(btf, *type) : NULL;
	}
	return 0;
}

/* What a profile holds: "struct.member path" (an array's count too). */
static const char *const wanted[] = {
	"task_struct.tasks", "task_struct.pid", "task_struct.tgid",
	"task_struct.comm", "task_struct.real_parent", "task_struct.mm",
	"task_struct.start_time", "task_struct.thread_node", "task_struct.signal",
	"signal_struct.thread_head",
	"mm_struct.pgd", "mm_struct.mm_mt", "mm_struct.map_count",
	"mm_struct.start_brk", "mm_struct.brk", "mm_struct.start_stack",
	"maple_tree.ma_root", "maple_range_64.slot", "maple_arange_64.slot",
	"vm_area_struct.vm_start", "vm_area_struct.vm_end",
	"vm_area_struct.vm_mm", "vm_area_struct.vm_flags",
	"vm_area_struct.vm_file", "vm_area_struct.vm_pgoff",
	"file.f_path.dentry", "file.f_path.mnt",
	"dentry.d_parent", "dentry.d_name.name",
	"mount.mnt", "mount.mnt_parent", "mount.mnt_mountpoint",
	"vfsmount.mnt_root",
	/* Optional: the names /proc gives kernel threads and workers. */
	"task_struct.flags", "task_struct.worker_private", "kthread.full_name",
	"kthread.data", "worker.desc", "worker.current_work", "worker.pool",
	/* Optional: the kernel's modules (to 6.3: core_layout). */
	"module.list", "module.name", "module.core_layout.base",
	"module.core_layout.size",
};

/* Symbols, from the image's kallsyms: the module list and KASLR's anchor. */
static const char *const wanted_syms[] = { "init_task", "modules", NULL };

char *osil_kimage_reads(void)
{
	GString *s = g_string_new("osi_linux kernel image reader 1\n");

	for (unsigned int i = 0; i < G_N_ELEMENTS(wanted); i++)
		g_string_append_printf(s, "%s\n", wanted[i]);
	for (unsigned int i = 0; wanted_syms[i]; i++)
		g_string_append_printf(s, "sym.%s\n", wanted_syms[i]);
	return g_string_free(s, FALSE);
}

static void put_u64(GHashTable *prof, const char *key, uint64_t v)
{
	g_hash_table_replace(prof, g_strdup(key),
			     g_strdup_printf("%" G_GUINT64_FORMAT, v));
}

/* percpu.current_task: a per-CPU variable (to 6.1) or pcpu_hot's member. */
static int percpu_current(const struct btf *btf, GHashTable *prof)
{
	__s32 id = btf__find_by_name_kind(btf, ".data..percpu", BTF_KIND_DATASEC);
	const struct btf_type *ds = id < 0 ? NULL : btf__type_by_id(btf, id);
	const struct btf_var_secinfo *v;

	if (!ds)
		return -ENOENT;
	v = btf_var_secinfos(ds);
	for (unsigned int i = 0; i < btf_vlen(ds); i++, v++) {
		const struct btf_type *var = btf__type_by_id(btf, v->type);
		const char *n = var ? btf__name_by_offset(btf, var->name_off) : NULL;
		uint64_t off;
		__u32 type;

		if (!n)
			continue;
		if (!strcmp(n, "current_task")) {
			put_u64(prof, "percpu.current_task", v->offset);
			return 0;
		}
		if (!strcmp(n, "pcpu_hot") &&
		    !path_offset(btf, "pcpu_hot", "current_task", &off, &type)) {
			put_u64(prof, "percpu.current_task", v->offset + off);
			return 0;
		}
	}
	return -ENOENT;
}

static void banner(const unsigned char *img, size_t len, GHashTable *prof)
{
	static const char pfx[] = "Linux version ";
	const unsigned char *p = memmem(img, len, pfx, sizeof(pfx) - 1);
	const unsigned char *e;

	if (!p)
		return;
	e = memchr(p, '\n', len - (size_t)(p - img));
	if (!e || e - p > 400)
		return;
	g_hash_table_replace(prof, g_strdup("version"),
			     g_strndup((const char *)p, (size_t)(e - p)));
}

static GHashTable *profile_of_elf(const char *path, const unsigned char *img,
				  size_t len, char **err)
{
	g_autoptr(GHashTable) prof = g_hash_table_new_full(g_str_hash, g_str_equal,
							   g_free, g_free);
	const void *data;
	struct btf *btf;
	size_t size = 0;

	data = kimage_section(img, len, ".BTF", &size);
	if (!data) {
		*err = g_strdup_printf("%s: no .BTF section (a kernel built without "
				       "CONFIG_DEBUG_INFO_BTF)", path);
		return NULL;
	}
	btf = btf__new(data, (__u32)size);
	if (!btf) {
		*err = g_strdup_printf("%s: .BTF does not parse: %s", path,
				       g_strerror(errno));
		return NULL;
	}
	for (unsigned int i = 0; i < G_N_ELEMENTS(wanted); i++) {
		const char *key = wanted[i], *dot = strchr(key, '.');
		g_autofree char *sname = g_strndup(key, (size_t)(dot - key));
		const struct btf_type *at;
		uint64_t off;
		__u32 type;

		/* A member this kernel lacks: the layout check names it. */
		if (path_offset(btf, sname, dot + 1, &off, &type))
			continue;
		put_u64(prof, key, off);
		at = btf__type_by_id(btf, type);
		if (at && btf_is_array(at)) {
			g_autofree char *nkey = g_strdup_printf("%s.n", key);

			put_u64(prof, nkey, btf_array(at)->nelems);
		}
	}
	percpu_current(btf, prof);
	btf__free(btf);
	banner(img, len, prof);
	data = kimage_section(img, len, ".rodata", &size);
	if (data) {
		uint64_t addrs[G_N_ELEMENTS(wanted_syms)] = { 0 };

		kimage_kallsyms_find(data, size, wanted_syms, addrs);
		for (unsigned int i = 0; wanted_syms[i]; i++) {
			g_autofree char *key = g_strdup_printf("sym.%s", wanted_syms[i]);

			if (addrs[i])
				put_u64(prof, key, addrs[i]);
		}
	}
	return g_steal_pointer(&prof);
}

GHashTable *osil_kimage_profile(const char *path, char **err)
{
	g_autofree unsigned char *img = NULL, *vmlinux = NULL;
	const unsigned char *elf;
	size_t len = 0;

	elf = kimage_elf(path, &img, &vmlinux, &len, err);
	return elf ? profile_of_elf(path, elf, len, err) : NULL;
}
