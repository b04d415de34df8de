// SPDX-License-Identifier: MIT
/*
 * kallsyms.c - a few kernel symbols from the kernel's own kallsyms tables
 * (CONFIG_KALLSYMS), found in the image's .rodata: the image has no symbol
 * table, and Debian's System.map is a stub.
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
 * osi_linux learns at run time (init_task's address against its symbol).
 */
#include <string.h>

#include "osi_linux.h"

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

int osil_kallsyms_each(const unsigned char *ro, size_t len,
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

int osil_kallsyms(const unsigned char *ro, size_t len, const char *const *names,
		  uint64_t *addrs)
{
	struct wanted w = { names, addrs, 0 };

	return osil_kallsyms_each(ro, len, want, &w) < 0 ? -1 : w.found;
}
