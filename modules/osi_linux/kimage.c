// SPDX-License-Identifier: MIT
/*
 * kimage.c - a kernel profile from the kernel image itself: the structure
 * layouts from its BTF (CONFIG_DEBUG_INFO_BTF), read with libbpf.
 *
 * Debian's cloud kernel ships as a bzImage whose payload is LZ4 in the
 * "legacy" frame format the kernel's own decompressor reads (magic
 * 0x184C2102, then blocks of at most 8 MiB of output, each a 32-bit
 * little-endian compressed size and the block); liblz4 unpacks each block.
 * The payload is the vmlinux ELF, stripped of symbols but not of .BTF.
 *
 * Two symbols, for the kernel's module list, come from its own kallsyms
 * tables (kallsyms.c).
 *
 * The one address osi_linux needs, the current task pointer, is a per-CPU
 * variable: BTF lists per-CPU variables in the DATASEC ".data..percpu"
 * with their offsets in that section, which on x86_64 is linked at 0, so
 * the offset is what %gs-relative code uses and KASLR does not move it.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <lz4.h>
#include <string.h>

#include <bpf/btf.h>

#include "osi_linux.h"

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK (8u << 20)
#define KIMAGE_MAX (1u << 30)	/* unpacked vmlinux: far more than any */

static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The vmlinux inside a bzImage's LZ4 payload, or NULL and *err. */
static unsigned char *unpack_bzimage(const char *path, const unsigned char *img,
				     size_t len, size_t *out_len, char **err)
{
	size_t off, plen, in, out = 0, cap = 0;
	unsigned char *buf = NULL;
	unsigned int setup;

	if (len < 0x250) {
		*err = g_strdup_printf("%s: too short for a bzImage", path);
		return NULL;
	}
	setup = img[0x1f1] ? img[0x1f1] : 4;
	off = (size_t)(setup + 1) * 512 + le32(img + 0x248);
	plen = le32(img + 0x24c);
	if (off > len || plen > len - off || plen < 8) {
		*err = g_strdup_printf("%s: bzImage payload out of the file", path);
		return NULL;
	}
	if (le32(img + off) != LZ4_LEGACY_MAGIC) {
		*err = g_strdup_printf("%s: the bzImage payload is not LZ4 "
				       "(magic %02x %02x %02x %02x); unpack it to "
				       "a vmlinux and give that", path, img[off],
				       img[off + 1], img[off + 2], img[off + 3]);
		return NULL;
	}
	in = off + 4;
	/* Blocks until the end, or a new frame's magic (concatenated frames). */
	while (in + 4 <= off + plen) {
		uint32_t bsz = le32(img + in);
		int n;

		if (bsz == LZ4_LEGACY_MAGIC) {
			in += 4;
			continue;
		}
		in += 4;
		if (bsz > off + plen - in || bsz > (uint32_t)INT32_MAX)
			break;	/* the kernel's decompressor stops here too */
		if (out + LZ4_LEGACY_BLOCK > cap) {
			cap = cap ? cap * 2 : 64u << 20;
			if (cap > KIMAGE_MAX)
				goto bad;
			buf = g_realloc(buf, cap);
		}
		n = LZ4_decompress_safe((const char *)img + in, (char *)buf + out,
					(int)bsz, LZ4_LEGACY_BLOCK);
		if (n < 0)
			goto bad;
		out += (size_t)n;
		in += bsz;
	}
	if (out < 64 || memcmp(buf, ELFMAG, SELFMAG))
		goto bad;
	*out_len = out;
	return buf;
bad:
	g_free(buf);
	*err = g_strdup_printf("%s: the LZ4 payload does not unpack to an ELF "
			       "vmlinux", path);
	return NULL;
}

/* The bytes of section @name of the ELF image, or NULL. */
static const void *elf_section(const unsigned char *img, size_t len,
			       const char *name, size_t *size)
{
	Elf *e = elf_memory((char *)img, len);
	const void *ret = NULL;
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (!e)
		return NULL;
	if (elf_getshdrstrndx(e, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			break;
		n = elf_strptr(e, shstrndx, sh.sh_name);
		if (n && !strcmp(n, name) && sh.sh_type != SHT_NOBITS &&
		    sh.sh_offset <= len && sh.sh_size <= len - sh.sh_offset) {
			ret = img + sh.sh_offset;
			*size = sh.sh_size;
			break;
		}
	}
out:
	elf_end(e);
	return ret;
}

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

	elf_version(EV_CURRENT);
	data = elf_section(img, len, ".BTF", &size);
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
	data = elf_section(img, len, ".rodata", &size);
	if (data) {
		uint64_t addrs[G_N_ELEMENTS(wanted_syms)] = { 0 };

		osil_kallsyms(data, size, wanted_syms, addrs);
		for (unsigned int i = 0; wanted_syms[i]; i++) {
			g_autofree char *key = g_strdup_printf("sym.%s", wanted_syms[i]);

			if (addrs[i])
				put_u64(prof, key, addrs[i]);
		}
	}
	return g_steal_pointer(&prof);
}

/*
 * The vmlinux ELF of the image at @path: the file itself, or the payload
 * of a bzImage unpacked.  *@img and *@vmlinux hold what to g_free().
 */
static const unsigned char *kimage_elf(const char *path, unsigned char **img,
				       unsigned char **vmlinux, size_t *vlen,
				       char **err)
{
	GError *gerr = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, (char **)img, &len, &gerr)) {
		*err = g_strdup_printf("kernel image: %s", gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	if (len >= SELFMAG && !memcmp(*img, ELFMAG, SELFMAG)) {
		*vlen = len;
		return *img;
	}
	if (len < 0x206 || memcmp(*img + 0x202, "HdrS", 4)) {
		*err = g_strdup_printf("%s: neither a bzImage nor an ELF vmlinux",
				       path);
		return NULL;
	}
	*vmlinux = unpack_bzimage(path, *img, len, vlen, err);
	return *vmlinux;
}

GHashTable *osil_kimage_profile(const char *path, char **err)
{
	g_autofree unsigned char *img = NULL, *vmlinux = NULL;
	const unsigned char *elf;
	size_t len = 0;

	elf = kimage_elf(path, &img, &vmlinux, &len, err);
	return elf ? profile_of_elf(path, elf, len, err) : NULL;
}

struct ksym {
	uint64_t addr;
	guint at;		/* its place in the tables */
	char type;
	char *name;
};

static void add_ksym(char type, const char *name, uint64_t addr, void *opaque)
{
	GArray *syms = opaque;
	struct ksym k = { addr, syms->len, type, g_strdup(name) };

	g_array_append_val(syms, k);
}

static gint ksym_cmp(gconstpointer a, gconstpointer b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return (x->addr > y->addr) - (x->addr < y->addr);
	return (x->at > y->at) - (x->at < y->at);
}

static void ksym_clear(gpointer p)
{
	g_free(((struct ksym *)p)->name);
}

char *osil_kimage_system_map(const char *path, char **err)
{
	g_autofree unsigned char *img = NULL, *vmlinux = NULL;
	g_autoptr(GArray) syms = g_array_new(FALSE, FALSE, sizeof(struct ksym));
	const unsigned char *elf, *ro;
	GString *map;
	size_t len = 0, rlen = 0;

	g_array_set_clear_func(syms, ksym_clear);
	elf = kimage_elf(path, &img, &vmlinux, &len, err);
	if (!elf)
		return NULL;
	elf_version(EV_CURRENT);
	ro = elf_section(elf, len, ".rodata", &rlen);
	if (!ro || osil_kallsyms_each(ro, rlen, add_ksym, syms) < 0 ||
	    !syms->len) {
		*err = g_strdup_printf("%s: no kallsyms tables in its .rodata "
				       "(a kernel built without CONFIG_KALLSYMS)",
				       path);
		return NULL;
	}
	/* In address order, as a System.map; equal addresses in the tables'. */
	g_array_sort(syms, ksym_cmp);
	map = g_string_sized_new(syms->len * 40);
	for (guint i = 0; i < syms->len; i++) {
		const struct ksym *k = &g_array_index(syms, struct ksym, i);

		g_string_append_printf(map, "%016" PRIx64 " %c %s\n", k->addr,
				       k->type, k->name);
	}
	return g_string_free(map, FALSE);
}
