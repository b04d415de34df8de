// SPDX-License-Identifier: MIT
/*
 * kernel_image: a Linux kernel image as the modules read it, for any
 * module that names kernel addresses (README.md here): the vmlinux ELF of
 * a bzImage (Debian's ships LZ4 in the "legacy" frame format the
 * kernel's own decompressor reads: magic 0x184C2102, then blocks of at
 * most 8 MiB of output, each a 32-bit little-endian compressed size and
 * the block; liblz4 unpacks each), its sections, and its own symbol
 * tables, kallsyms (CONFIG_KALLSYMS), found in .rodata by their shape:
 * the image has no symbol table, and Debian's System.map is a stub.
 *
 * scripts/kallsyms lays the tables out one after the other, each 8-byte
 * aligned: kallsyms_offsets (s32 each), kallsyms_relative_base (u64),
 * kallsyms_num_syms (u64 slot), kallsyms_names, kallsyms_markers (u32 a
 * 256 symbols), [kallsyms_seqs_of_names, 3 bytes a symbol, from 6.2 and
 * in later 6.1 stable kernels], kallsyms_token_table (256 strings),
 * kallsyms_token_index (256 u16).  They carry no labels in a stripped
 * image, so they are recognised by shape from the end: the token index is
 * 256 increasing offsets that cut the strings before it exactly, then the
 * markers are 0 and increasing for the symbol count the layout implies,
 * and that count is found again as kallsyms_num_syms.  A name is a length
 * (two bytes when the first has bit 7) and that many token numbers; its
 * first character is the symbol's type.  An offset >= 0 is an absolute
 * value (per-CPU symbols), else relative_base - 1 - offset.
 *
 * The addresses are link-time ones: KASLR moves the kernel by an offset
 * that its readers learn at run time (osi_linux: init_task's address
 * against its symbol; symtab.c: the call targets).
 */
#include <gelf.h>
#include <glib.h>
#include <inttypes.h>
#include <libelf.h>
#include <lz4.h>
#include <stdbool.h>
#include <string.h>

#include "kernel_image.h"

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK (8u << 20)
#define KIMAGE_MAX (1u << 30)	/* unpacked vmlinux: far more than any */

#define MAX_SYMS 2000000u

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static size_t align8(size_t x)
{
	return (x + 7) & ~(size_t)7;
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

const void *kimage_section(const unsigned char *img, size_t len,
			   const char *name, size_t *size)
{
	const void *ret = NULL;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE ||
	    !(e = elf_memory((char *)img, len)))
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

struct ktables {
	const unsigned char *ro;	/* .rodata */
	size_t len;
	size_t token_table, token_index, markers, names, offsets;
	uint64_t relative_base;
	uint32_t num;
	uint16_t idx[256];
};

/* Do the 256 offsets at @ti cut the bytes before it into 256 strings? */
static bool token_index_at(struct ktables *k, size_t ti)
{
	if (ti + 512 > k->len || le16(k->ro + ti))
		return false;
	for (unsigned int i = 0; i < 256; i++) {
		k->idx[i] = le16(k->ro + ti + 2 * i);
		/* Tokens are short: a step of 1 to 32 bytes. */
		if (i && (k->idx[i] <= k->idx[i - 1] ||
			  k->idx[i] > k->idx[i - 1] + 32))
			return false;
	}
	/* The table starts where each string ends with its only NUL. */
	for (size_t start = ti > 8192 ? ti - 8192 : 0; start < ti; start++) {
		const unsigned char *last = k->ro + start + k->idx[255], *nul;
		bool ok = true;

		if (start + k->idx[255] >= ti)
			break;
		for (unsigned int i = 1; i < 256 && ok; i++) {
			const unsigned char *s = k->ro + start + k->idx[i - 1];
			size_t n = k->idx[i] - k->idx[i - 1];

			ok = s[n - 1] == 0 && !memchr(s, 0, n - 1);
		}
		nul = ok ? memchr(last, 0, (size_t)(k->ro + ti - last)) : NULL;
		if (nul && align8((size_t)(nul + 1 - k->ro)) == ti) {
			k->token_table = start;
			k->token_index = ti;
			return true;
		}
	}
	return false;
}

/* The markers (and the count) before the token table, with or without seqs. */
static bool markers_before(struct ktables *k)
{
	for (int seqs = 1; seqs >= 0; seqs--) {
		for (uint32_t n = 256; n < MAX_SYMS; n++) {
			size_t s = seqs ? align8((size_t)3 * n) : 0;
			uint32_t m = (n + 255) / 256;
			size_t mk, last;
			bool ok = true;

			if (s + align8((size_t)4 * m) > k->token_table)
				break;
			mk = k->token_table - s - align8((size_t)4 * m);
			if (le32(k->ro + mk) || !le32(k->ro + mk + 4))
				continue;
			for (uint32_t i = 1; i < m && ok; i++)
				ok = le32(k->ro + mk + 4 * i) > le32(k->ro + mk + 4 * (i - 1));
			last = le32(k->ro + mk + 4 * (m - 1));
			if (!ok || last > mk)
				continue;
			/*
			 * kallsyms_num_syms: n again, before the names (which
			 * start 8-aligned, before the last marker's name).
			 */
			for (size_t r = (mk - last) & ~(size_t)7;
			     r >= 16 && r + (16u << 20) > mk; r -= 8) {
				if (le64(k->ro + r - 8) != n)
					continue;
				k->num = n;
				k->markers = mk;
				k->names = r;
				k->relative_base = le64(k->ro + r - 16);
				if (r - 16 < align8((size_t)4 * n))
					return false;
				k->offsets = r - 16 - align8((size_t)4 * n);
				return true;
			}
		}
	}
	return false;
}

int kimage_kallsyms_each(const unsigned char *ro, size_t len,
			 void (*fn)(char type, const char *name, uint64_t addr,
				    void *opaque),
			 void *opaque)
{
	struct ktables k = { .ro = ro, .len = len };
	size_t p;
	uint32_t i;

	for (size_t ti = 0; ti + 512 <= len; ti += 8)
		if (token_index_at(&k, ti) && markers_before(&k))
			break;
	if (!k.num)
		return -1;
	p = k.names;
	for (i = 0; i < k.num && p < k.markers; i++) {
		char sym[512];
		size_t n = ro[p++], o = 0;
		int32_t off;

		if (n & 0x80)
			n = (n & 0x7f) | (size_t)ro[p++] << 7;
		for (size_t t = 0; t < n && p + t < k.markers; t++) {
			const char *tok = (const char *)ro + k.token_table + k.idx[ro[p + t]];
			size_t tl = strnlen(tok, 32);

			if (o + tl >= sizeof(sym))
				break;
			memcpy(sym + o, tok, tl);
			o += tl;
		}
		sym[o] = 0;
		p += n;
		if (o < 2)
			continue;
		off = (int32_t)le32(ro + k.offsets + 4 * (size_t)i);
		fn(sym[0], sym + 1, off >= 0 ? (uint64_t)off :
		   k.relative_base - 1 - off, opaque);
	}
	return (int)i;
}

struct wanted {
	const char *const *names;
	uint64_t *addrs;
	int found;
};

static void want(char type, const char *name, uint64_t addr, void *opaque)
{
	struct wanted *w = opaque;

	(void)type;
	for (unsigned int i = 0; w->names[i]; i++) {
		if (w->addrs[i] || strcmp(name, w->names[i]))
			continue;
		w->addrs[i] = addr;
		w->found++;
	}
}

int kimage_kallsyms_find(const unsigned char *ro, size_t len,
			 const char *const *names, uint64_t *addrs)
{
	struct wanted w = { names, addrs, 0 };

	return kimage_kallsyms_each(ro, len, want, &w) < 0 ? -1 : w.found;
}

const unsigned char *kimage_elf(const char *path, unsigned char **img,
				unsigned char **vmlinux, size_t *vlen, char **err)
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

char *kimage_system_map(const char *path, char **err)
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
	ro = kimage_section(elf, len, ".rodata", &rlen);
	if (!ro || kimage_kallsyms_each(ro, rlen, add_ksym, syms) < 0 ||
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

char *kimage_qemu_kernel(void)
{
	g_autofree char *cmd = NULL;
	gsize len = 0;

	if (!g_file_get_contents("/proc/self/cmdline", &cmd, &len, NULL))
		return NULL;
	/* QEMU takes "-kernel FILE" and "--kernel FILE". */
	for (gsize i = 0; i < len; i += strlen(cmd + i) + 1) {
		const char *arg = cmd + i;
		gsize next = i + strlen(arg) + 1;

		if ((!strcmp(arg, "-kernel") || !strcmp(arg, "--kernel")) &&
		    next < len)
			return g_strdup(cmd + next);
	}
	return NULL;
}
