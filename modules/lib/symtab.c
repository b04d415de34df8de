// SPDX-License-Identifier: MIT
/*
 * symtab: function symbols from an ELF file or a System.map / kallsyms
 * list, and the kernel's relocation (KASLR) found from call targets.
 *
 * Why call targets: a relocated x86_64 kernel moves its text as one block,
 * by a multiple of CONFIG_PHYSICAL_ALIGN (2 MiB) less than 1 GiB.  A
 * direct call's target is the start of a function nearly always (the
 * kernel calls local labels only in a few assembly stubs), so under the
 * right offset nearly every observed target is a symbol's start, and
 * under any other almost none is: 2 MiB of alignment leaves the low 21
 * bits of every address unchanged, and few symbols share them.  Nothing
 * about the guest OS needs to be known, and the kernel's own memory is
 * never read.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel_image.h"
#include "symtab.h"

/* Offsets tried: multiples of the alignment in [-RANGE, +RANGE]. */
#define NSLOTS		(2 * (SYMTAB_KASLR_RANGE / SYMTAB_KASLR_ALIGN) + 1)
#define LOW_MASK	(SYMTAB_KASLR_ALIGN - 1)

/* symtab_observe(): when to try, what wins, how much to keep. */
#define FIRST_TRY	64
#define TRY_EVERY	32
#define MIN_VOTES	16
#define SETTLE_VOTES	3
#define MAX_SEEN	8192

enum symtab_kind { KIND_ELF, KIND_MAP, KIND_KALLSYMS, KIND_IMAGE };

struct sym {
	uint64_t addr, size;
	const char *name;	/* in names */
	bool global;
};

struct symtab {
	enum symtab_kind kind;
	GArray *syms;		/* struct sym, sorted by addr, one per addr */
	GStringChunk *names;
	uint64_t lo, hi;	/* first and last symbol's address */

	/* The offset: read without the lock once known is set (release). */
	int64_t offset;
	bool known;
	unsigned int votes, nseen;

	GMutex lock;		/* the rest */
	uint32_t *by_low;	/* indices into syms, sorted by low bits */
	GHashTable *seen;	/* distinct targets observed */
	unsigned int next_try;
};

static gint sym_cmp(gconstpointer a, gconstpointer b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static struct symtab *symtab_new(enum symtab_kind kind)
{
	struct symtab *t = g_new0(struct symtab, 1);

	t->kind = kind;
	t->syms = g_array_new(FALSE, FALSE, sizeof(struct sym));
	t->names = g_string_chunk_new(64 * 1024);
	g_mutex_init(&t->lock);
	t->next_try = FIRST_TRY;
	return t;
}

void symtab_free(struct symtab *t)
{
	if (!t)
		return;
	g_array_free(t->syms, TRUE);
	g_string_chunk_free(t->names);
	g_free(t->by_low);
	if (t->seen)
		g_hash_table_destroy(t->seen);
	g_mutex_clear(&t->lock);
	g_free(t);
}

/*
 * Sorts, and keeps one symbol per address (aliases are common in a
 * kernel): a global one before a local one, else the first read.  The
 * sort is stable (GLib's merge sort), so "first read" holds.
 */
static void symtab_finish(struct symtab *t)
{
	GArray *a = t->syms;
	guint out = 0;

	g_array_sort(a, sym_cmp);
	for (guint i = 0; i < a->len; i++) {
		struct sym *s = &g_array_index(a, struct sym, i);
		struct sym *prev = out ? &g_array_index(a, struct sym, out - 1)
				       : NULL;

		if (prev && prev->addr == s->addr) {
			if (s->global && !prev->global)
				*prev = *s;
			continue;
		}
		g_array_index(a, struct sym, out++) = *s;
	}
	g_array_set_size(a, out);
	if (out) {
		t->lo = g_array_index(a, struct sym, 0).addr;
		t->hi = g_array_index(a, struct sym, out - 1).addr;
	}
}

/* -- ELF --------------------------------------------------------------- */

/*
 * A kernel's assembly marks much of its code with untyped symbols
 * (SYM_CODE_START: ret_from_fork, the entry points), which its System.map
 * lists as text and addr2line takes as functions: take an untyped symbol
 * of an executable section in the upper half too.  Elsewhere (programs,
 * the tests' guests) such symbols are labels inside functions.
 */
static bool kernel_code_label(Elf *elf, const GElf_Sym *s)
{
	Elf_Scn *scn;
	GElf_Shdr sh;

	if (GELF_ST_TYPE(s->st_info) != STT_NOTYPE || !(s->st_value >> 63) ||
	    s->st_shndx == SHN_UNDEF || s->st_shndx >= SHN_LORESERVE)
		return false;
	scn = elf_getscn(elf, s->st_shndx);
	return scn && gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_EXECINSTR);
}

static struct symtab *load_elf(int fd, char **err)
{
	struct symtab *t = symtab_new(KIND_ELF);
	Elf_Scn *scn = NULL;
	size_t nsymtab = 0;
	GElf_Ehdr eh;
	GElf_Shdr sh;
	uint64_t thumb_bit;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		*err = g_strdup_printf("libelf: %s", elf_errmsg(-1));
		goto err;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		*err = g_strdup_printf("not a readable ELF file: %s",
				       elf_errmsg(-1));
		goto err_end;
	}
	/* An Arm Thumb function's symbol is its address + 1 (ELF for Arm). */
	thumb_bit = eh.e_machine == EM_ARM ? 1 : 0;
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB ||
		    !sh.sh_entsize)
			continue;
		nsymtab++;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *name;
			struct sym e;
			GElf_Sym s;

			if (!gelf_getsym(data, i, &s) || !s.st_value ||
			    (GELF_ST_TYPE(s.st_info) != STT_FUNC &&
			     !kernel_code_label(elf, &s)))
				continue;
			name = elf_strptr(elf, sh.sh_link, s.st_name);
			if (!name || !*name)
				continue;
			e.addr = s.st_value & ~thumb_bit;
			e.size = s.st_size;
			e.name = g_string_chunk_insert(t->names, name);
			e.global = GELF_ST_BIND(s.st_info) != STB_LOCAL;
			g_array_append_val(t->syms, e);
		}
	}
	if (!nsymtab) {
		*err = g_strdup("no symbol table (.symtab): the file is "
				"stripped; give the unstripped binary");
		goto err_end;
	}
	if (!t->syms->len) {
		*err = g_strdup("the symbol table names no function");
		goto err_end;
	}
	symtab_finish(t);
	/*
	 * A kernel image (vmlinux) is linked where KASLR moves it from; a
	 * program's own ELF is where it runs.
	 */
	if (eh.e_type != ET_EXEC || !(t->lo >> 63))
		symtab_set_offset(t, 0);
	elf_end(elf);
	return t;

err_end:
	if (elf)
		elf_end(elf);
err:
	symtab_free(t);
	return NULL;
}

/* -- System.map and /proc/kallsyms ------------------------------------- */

/* A line's text for an error message: short, printable. */
static char *line_excerpt(const char *line)
{
	GString *s = g_string_new(NULL);

	for (const char *p = line; *p && s->len < 60; p++)
		g_string_append_c(s, g_ascii_isprint(*p) ? *p : '?');
	if (strlen(line) > 60)
		g_string_append(s, "...");
	return g_string_free(s, FALSE);
}

/*
 * One line, "ADDRESS TYPE NAME" with an optional "[MODULE]" (kallsyms),
 * split by spaces or tabs.  False if it is not one.
 */
static bool parse_map_line(char *line, uint64_t *addr, char *type,
			   char **name, bool *module)
{
	char *f[5], *save = NULL, *end;
	int n = 0;

	for (char *p = strtok_r(line, " \t", &save); p;
	     p = strtok_r(NULL, " \t", &save)) {
		if (n == 4)
			return false;
		f[n++] = p;
	}
	if (n < 3 || strlen(f[0]) > 16 || strlen(f[1]) != 1 ||
	    !g_ascii_isalpha(f[1][0]))
		return false;
	errno = 0;
	*addr = strtoull(f[0], &end, 16);
	if (errno || *end || !g_ascii_isxdigit(f[0][0]))
		return false;
	if (n == 4) {
		size_t l = strlen(f[3]);

		if (l < 3 || f[3][0] != '[' || f[3][l - 1] != ']')
			return false;
	}
	*type = f[1][0];
	*name = f[2];
	*module = n == 4;
	return true;
}

static struct symtab *load_map(FILE *f, char **err)
{
	struct symtab *t = symtab_new(KIND_MAP);
	GArray *bounds = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	bool any_module = false, any_addr = false;
	size_t cap = 0, lineno = 0;
	char *line = NULL;
	ssize_t n;

	while ((n = getline(&line, &cap, f)) >= 0) {
		g_autofree char *copy = NULL, *ex = NULL;
		bool module;
		uint64_t addr;
		char type, *name;
		struct sym s;

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		if (!n)
			continue;
		copy = g_strdup(line);
		if ((size_t)n != strlen(line) ||
		    !parse_map_line(line, &addr, &type, &name, &module)) {
			ex = line_excerpt(copy);
			*err = g_strdup_printf(
				"line %zu is neither System.map nor kallsyms "
				"format (\"ADDRESS TYPE NAME\"): \"%s\"%s",
				lineno, ex, strstr(copy, "real System.map") ?
				" (the kernel package's stub: the real file is "
				"in its -dbg package, see make linux-dbg)" : "");
			goto err;
		}
		any_addr |= addr != 0;
		if (module) {
			any_module = true;
			continue;
		}
		/* Absolute symbols are not addresses: no bound. */
		if (type == 'A' || type == 'a' || type == 'U')
			continue;
		g_array_append_val(bounds, addr);
		if (!strchr("TtWw", type))
			continue;
		s.addr = addr;
		s.size = 0;
		s.name = g_string_chunk_insert(t->names, name);
		s.global = g_ascii_isupper(type);
		g_array_append_val(t->syms, s);
	}
	if (ferror(f)) {
		*err = g_strdup_printf("read error after line %zu", lineno);
		goto err;
	}
	if (!any_addr && lineno) {
		*err = g_strdup("every address is 0: /proc/kallsyms hides them "
				"from a reader without CAP_SYSLOG (read it as "
				"root, or set kernel.kptr_restrict=0)");
		goto err;
	}
	if (!t->syms->len) {
		*err = g_strdup("no function (text) symbol in the file");
		goto err;
	}
	t->kind = any_module ? KIND_KALLSYMS : KIND_MAP;
	symtab_finish(t);
	/* Each function ends where the next symbol of any kind starts. */
	g_array_sort(bounds, sym_cmp);	/* compares the first uint64_t */
	for (guint i = 0, b = 0; i < t->syms->len; i++) {
		struct sym *s = &g_array_index(t->syms, struct sym, i);

		while (b < bounds->len &&
		       g_array_index(bounds, uint64_t, b) <= s->addr)
			b++;
		if (b < bounds->len)
			s->size = g_array_index(bounds, uint64_t, b) - s->addr;
	}
	g_array_free(bounds, TRUE);
	free(line);
	return t;

err:
	g_array_free(bounds, TRUE);
	free(line);
	symtab_free(t);
	return NULL;
}

/*
 * A kernel image's own kallsyms tables (kernel_image.c), read as the
 * System.map they make: for a bzImage, or a vmlinux stripped of its
 * symbol table.  NULL with *@err (the first reader's, if it had one) when
 * there are none.
 */
static struct symtab *load_image(const char *path, char **err)
{
	g_autofree char *map = NULL, *kerr = NULL;
	struct symtab *t;
	FILE *f;

	map = kimage_system_map(path, &kerr);
	if (!map) {
		/* Without the path where it leads: the caller names it. */
		size_t n = strlen(path);

		if (!*err)
			*err = g_strdup(!strncmp(kerr, path, n) &&
					!strncmp(kerr + n, ": ", 2) ? kerr + n + 2
								    : kerr);
		return NULL;
	}
	f = fmemopen(map, strlen(map), "r");
	if (!f) {
		*err = g_strdup_printf("cannot read: %s", strerror(errno));
		return NULL;
	}
	g_clear_pointer(err, g_free);
	t = load_map(f, err);
	fclose(f);
	if (t)
		t->kind = KIND_IMAGE;
	return t;
}

struct symtab *symtab_load(const char *path, char **err)
{
	static const char elfmag[4] = { 0x7f, 'E', 'L', 'F' };
	struct symtab *t = NULL;
	char head[0x206] = { 0 };
	size_t got;
	FILE *f;

	*err = NULL;
	f = fopen(path, "re");
	if (!f) {
		*err = g_strdup_printf("cannot open: %s", strerror(errno));
		return NULL;
	}
	got = fread(head, 1, sizeof(head), f);
	if (got >= sizeof(elfmag) && !memcmp(head, elfmag, sizeof(elfmag))) {
		t = load_elf(fileno(f), err);
		/* A vmlinux without .symtab: the kernel's own tables, if any. */
		if (!t)
			t = load_image(path, err);
	} else if (got == sizeof(head) && !memcmp(head + 0x202, "HdrS", 4)) {
		t = load_image(path, err);	/* a bzImage */
	} else if (fseek(f, 0, SEEK_SET)) {
		*err = g_strdup_printf("cannot read: %s", strerror(errno));
	} else {
		t = load_map(f, err);
	}
	fclose(f);
	return t;
}

const char *symtab_describe(const struct symtab *t)
{
	static const char *const kinds[] = {
		[KIND_ELF] = "ELF symbol table",
		[KIND_MAP] = "System.map",
		[KIND_KALLSYMS] = "kallsyms",
		[KIND_IMAGE] = "the kernel image's kallsyms",
	};

	return kinds[t->kind];
}

size_t symtab_count(const struct symtab *t)
{
	return t->syms->len;
}

const char *symtab_symbol(const struct symtab *t, size_t i, uint64_t *addr,
			  uint64_t *size)
{
	const struct sym *s;

	if (i >= t->syms->len)
		return NULL;
	s = &g_array_index(t->syms, struct sym, i);
	*addr = s->addr;
	*size = s->size;
	return s->name;
}

/* -- the offset -------------------------------------------------------- */

static void publish_offset(struct symtab *t, int64_t offset,
			   unsigned int votes)
{
	t->offset = offset;
	t->votes = votes;
	t->nseen = t->seen ? g_hash_table_size(t->seen) : 0;
	__atomic_store_n(&t->known, true, __ATOMIC_RELEASE);
}

void symtab_set_offset(struct symtab *t, int64_t offset)
{
	g_mutex_lock(&t->lock);
	publish_offset(t, offset, 0);
	g_mutex_unlock(&t->lock);
}

bool symtab_offset(struct symtab *t, int64_t *offset, unsigned int *votes,
		   unsigned int *seen)
{
	if (!__atomic_load_n(&t->known, __ATOMIC_ACQUIRE))
		return false;
	*offset = t->offset;
	if (votes)
		*votes = t->votes;
	if (seen)
		*seen = t->nseen;
	return true;
}

static const struct sym *sym_at(const struct symtab *t, uint32_t i)
{
	return &g_array_index(t->syms, struct sym, i);
}

static gint low_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
	const struct symtab *t = data;
	uint64_t x = sym_at(t, *(const uint32_t *)a)->addr & LOW_MASK;
	uint64_t y = sym_at(t, *(const uint32_t *)b)->addr & LOW_MASK;

	return x < y ? -1 : x > y;
}

/* The first index of by_low whose symbol's low bits are >= @low. */
static guint low_lower_bound(const struct symtab *t, uint64_t low)
{
	guint lo = 0, hi = t->syms->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if ((sym_at(t, t->by_low[mid])->addr & LOW_MASK) < low)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Count, for each candidate offset, the targets that land on a symbol's
 * start under it; decide if one wins clearly.  Must hold t->lock.
 */
static bool try_decide_locked(struct symtab *t, unsigned int min_votes)
{
	g_autofree unsigned int *votes = g_new0(unsigned int, NSLOTS);
	unsigned int best = 0, second = 0;
	guint best_slot = 0;
	GHashTableIter it;
	gpointer key;

	if (!t->seen || !g_hash_table_size(t->seen))
		return false;
	if (!t->by_low) {
		t->by_low = g_new(uint32_t, t->syms->len);
		for (guint i = 0; i < t->syms->len; i++)
			t->by_low[i] = i;
		g_qsort_with_data(t->by_low, t->syms->len, sizeof(uint32_t),
				  low_cmp, t);
	}
	g_hash_table_iter_init(&it, t->seen);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		uint64_t target = *(uint64_t *)key;

		for (guint i = low_lower_bound(t, target & LOW_MASK);
		     i < t->syms->len; i++) {
			uint64_t a = sym_at(t, t->by_low[i])->addr;
			int64_t off = (int64_t)(target - a);

			if ((a & LOW_MASK) != (target & LOW_MASK))
				break;
			if (off < -(int64_t)SYMTAB_KASLR_RANGE ||
			    off > (int64_t)SYMTAB_KASLR_RANGE)
				continue;
			votes[(off + (int64_t)SYMTAB_KASLR_RANGE) /
			      (int64_t)SYMTAB_KASLR_ALIGN]++;
		}
	}
	for (guint s = 0; s < NSLOTS; s++) {
		if (votes[s] > best) {
			second = best;
			best = votes[s];
			best_slot = s;
		} else if (votes[s] > second) {
			second = votes[s];
		}
	}
	if (best < min_votes || best < 4 * second)
		return false;
	publish_offset(t, (int64_t)best_slot * (int64_t)SYMTAB_KASLR_ALIGN -
			  (int64_t)SYMTAB_KASLR_RANGE, best);
	g_clear_pointer(&t->seen, g_hash_table_destroy);
	g_clear_pointer(&t->by_low, g_free);
	return true;
}

/* @target is near the symbols: within the range, in the same half. */
static bool near_symbols(const struct symtab *t, uint64_t target)
{
	if ((target >> 63) != (t->lo >> 63))
		return false;
	if (target < t->lo && t->lo - target > SYMTAB_KASLR_RANGE)
		return false;
	if (target > t->hi && target - t->hi > SYMTAB_KASLR_RANGE)
		return false;
	return true;
}

bool symtab_observe(struct symtab *t, uint64_t target)
{
	bool decided = false;

	if (__atomic_load_n(&t->known, __ATOMIC_ACQUIRE) ||
	    !near_symbols(t, target))
		return false;
	g_mutex_lock(&t->lock);
	if (t->known)
		goto out;
	if (!t->seen)
		t->seen = g_hash_table_new_full(g_int64_hash, g_int64_equal,
						g_free, NULL);
	/* Bounded: a guest that never agrees costs no more than this. */
	if (g_hash_table_size(t->seen) >= MAX_SEEN ||
	    g_hash_table_contains(t->seen, &target))
		goto out;
	g_hash_table_add(t->seen, g_memdup2(&target, sizeof(target)));
	if (g_hash_table_size(t->seen) < t->next_try)
		goto out;
	t->next_try += TRY_EVERY;
	decided = try_decide_locked(t, MIN_VOTES);
out:
	g_mutex_unlock(&t->lock);
	return decided;
}

bool symtab_settle(struct symtab *t)
{
	bool decided;

	g_mutex_lock(&t->lock);
	decided = !t->known && try_decide_locked(t, SETTLE_VOTES);
	g_mutex_unlock(&t->lock);
	return decided;
}

/* -- names ------------------------------------------------------------- */

const char *symtab_name(struct symtab *t, uint64_t addr, char *buf,
			size_t len)
{
	guint lo = 0, hi = t->syms->len;
	const struct sym *s;

	if (!__atomic_load_n(&t->known, __ATOMIC_ACQUIRE))
		return NULL;
	addr -= (uint64_t)t->offset;
	/* The last symbol at or below @addr. */
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (sym_at(t, mid)->addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	s = sym_at(t, lo - 1);
	if (s->addr == addr)
		return s->name;
	if (addr - s->addr >= s->size)
		return NULL;
	snprintf(buf, len, "%s+0x%" PRIx64, s->name, addr - s->addr);
	return buf;
}
