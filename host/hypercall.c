// SPDX-License-Identifier: MIT
/*
 * Guest hypercalls: recognition, routes, route-to-symbol, guest control.
 * The guest-facing contract is Documentation/hypercall-abi.rst.
 *
 * Recognition happens at translation only: the host's tb_trans looks at
 * each instruction's bytes and puts a callback on exactly the encodings of
 * the target's two forms, and no other instruction pays anything at run
 * time.  x86: cpuid (0f a2) and the marked NOP (0f 1f 84 00 4d 48 43 4c).
 * aarch64 and arm: PANDA's instruction (msr S0_0_c5_c0_0, xzr; mcr/mrc
 * p7) and the marked form, four HINTs whose immediates are 'M' 'H' 'C'
 * 'L'; the callback goes on the last one.  Arm code is decoded in the
 * state it runs in: a block is translated for the vCPU's current state,
 * so CPSR.T read at translation says ARM or Thumb.  The target is told by
 * its registers (regs.c), never assumed.
 *
 * The callback reads the magic's register first (eax; x8 on aarch64, r7
 * on arm, where PANDA's hypercaller reads it).  A cpuid whose eax is a
 * real leaf (the BIOS and every OS run hundreds) returns at once.
 * Otherwise the magic is looked up in the route table: an immutable array
 * sorted by magic, replaced as a whole when a route comes or goes and
 * read without a lock.  A replaced table (and the routes it dropped) is
 * freed at the next quiesce, when no vCPU can still be walking it.
 *
 * Only then are the guest's mode and the six argument registers read.
 * x86 width: a guest in long mode (EFER.LMA) passes rdi rsi rdx r10 r8 r9,
 * any other guest ebx ecx edx esi edi ebp.  A 32-bit program under a
 * 64-bit kernel (compatibility mode) is read with the 64-bit order: QEMU
 * shows a plugin the cs selector but not the descriptor's L bit.  Arm
 * (Xen's order): x0..x5 on aarch64, r0..r5 on arm.
 *
 * Guest control (load/unload/reload by hypercall) is off unless
 * guest_control=on; the guest is untrusted, so a name is read with a
 * bounded length, must be a bare module name and is only ever looked up in
 * dir; the request is queued (mh_request_async) so the vCPU never waits.
 *
 * Every refusal and every unknown magic is an event, rate limited so that
 * a guest cannot flood the log: a burst of RL_BURST events a second, each
 * with the count of occurrences it stands for; what is left is reported
 * at exit, so the counts always add up.  Guest requests themselves are
 * accepted at most RL_BURST a second (more are refused, so counted as
 * guest_denied): each causes a few events, and so these stay bounded too.
 *
 * Locking: routes_lock serialises writers of the table (register,
 * unregister, release); readers (vCPUs) take none.
 */
#include <dlfcn.h>
#include <errno.h>
#include <ffi.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/*
 * The marked NOP as the host matches it: the bytes that MH_HC_NOP_INSN
 * (<modhost/hypercall.h>, what guest.h emits) assembles to, so guests and
 * host share one spelling.  A local symbol of this object's .rodata.
 */
__asm__(".pushsection .rodata\n"
	"hc_nop_bytes:\n\t" MH_HC_NOP_INSN "\n"
	".popsection");
extern const uint8_t hc_nop_bytes[8] __attribute__((visibility("hidden")));
#define HC_NOP_BYTES	hc_nop_bytes
#define HC_STR_MAX	4096	/* an "s" argument: longer is refused */
#define HC_NARGS	6

struct route {
	uint32_t magic;
	char *owner;		/* module name */
	struct mh_module *mod;	/* handler routes: the owning instance */
	mh_hypercall_fn fn;
	void *opaque;
	char *symbol;		/* symbol routes (route=): owner's export */
	struct sym_call *call;	/* symbol routes: prepared call, or NULL */
	uint64_t calls;		/* relaxed atomics */
};

/*
 * What a symbol route's call reaches, with the call prepared for its
 * export's signature: made at the first call, kept while the registry's
 * generation stays the same (mh_registry_gen()), so a call takes no lock
 * and looks nothing up.  Immutable once set on a route (read with
 * acquire); one replaced is freed at the next quiesce.
 */
struct sym_call {
	uint64_t reg_gen;
	void (*fn)(void);
	struct mh_module *provider;
	struct mh_sig_ffi f;
};

struct table {
	guint n;
	struct route *r[];	/* sorted by magic */
};

static GMutex routes_lock;
static struct table *table;	/* current; read with acquire */
static GPtrArray *retired;	/* tables and routes to free at the quiesce */
static bool guest_control;

/*
 * The targets hypercalls exist on, told apart by their registers.  x86's
 * names are the 64-bit ones (QEMU lists those for i386 code too).
 */
struct hc_target {
	const char *name;
	const char *magic;		/* the register holding the magic */
	const char *mode;		/* x86: EFER; arm: CPSR; or NULL */
	const char *args[2][HC_NARGS];	/* [is64] */
	unsigned int width;		/* 32 or 64; 0: by EFER.LMA */
	bool cpuid_leaves;		/* PANDA's form is cpuid: real leaves pass */
	const char *enc_names[2];	/* [MH_HC_ENC_*], for events */
	void (*instrument)(struct qemu_plugin_tb *tb);
};

static void instrument_x86(struct qemu_plugin_tb *tb);
static void instrument_arm(struct qemu_plugin_tb *tb);

static const struct hc_target targets[] = {
	{ "x86", "rax", "efer",
	  { { "rbx", "rcx", "rdx", "rsi", "rdi", "rbp" },  /* i386: Xen order */
	    { "rdi", "rsi", "rdx", "r10", "r8", "r9" } },  /* x86_64 */
	  0, true, { "cpuid", "nop" }, instrument_x86 },
	{ "aarch64", "x8", NULL,
	  { { "x0", "x1", "x2", "x3", "x4", "x5" },
	    { "x0", "x1", "x2", "x3", "x4", "x5" } },
	  64, false, { "panda", "hint" }, instrument_arm },
	{ "arm", "r7", "cpsr",
	  { { "r0", "r1", "r2", "r3", "r4", "r5" },
	    { "r0", "r1", "r2", "r3", "r4", "r5" } },
	  32, false, { "panda", "hint" }, instrument_arm },
};

/* Set once at the first vCPU init; NULL: no hypercalls on this target. */
static const struct hc_target *target;
static struct qemu_plugin_register *reg_magic, *reg_mode;
static struct qemu_plugin_register *reg_args[2][HC_NARGS];	/* [is64] */
#define EFER_LMA	(1u << 10)
#define CPSR_T		(1u << 5)

/* QEMU >= 10.1 (plugin API v5); looked up at start, NULL on 10.0. */
typedef int (*write_register_fn)(struct qemu_plugin_register *reg,
				 GByteArray *buf);
static write_register_fn write_register;

static __thread GByteArray *hc_buf;
static __thread const struct mh_hypercall *hc_current;

/* -- rate-limited events ------------------------------------------------ */

#define RL_BURST	10
#define RL_WINDOW_US	1000000

struct ratelimit {
	GMutex lock;
	int64_t window_us;	/* start of the current window */
	unsigned int sent;	/* events in it */
	uint64_t total;		/* occurrences, all */
	uint64_t pending;	/* occurrences no event has reported yet */
};

static struct ratelimit rl_unknown, rl_denied, rl_fault;
/*
 * Guest requests accepted: at most RL_BURST a window, so the events a
 * request causes (guest_request, load, unload, reload, reject, rollback,
 * quiesce ...) stay as bounded as the rate-limited kinds.  One over is
 * refused with a (rate-limited) guest_denied and so counted.
 */
static struct ratelimit rl_requests;

/* One more occurrence.  True: emit an event now, standing for *@count. */
static bool rl_hit(struct ratelimit *rl, uint64_t *count, uint64_t *total)
{
	int64_t now = g_get_monotonic_time();
	bool emit = false;

	g_mutex_lock(&rl->lock);
	rl->total++;
	rl->pending++;
	if (now - rl->window_us >= RL_WINDOW_US) {
		rl->window_us = now;
		rl->sent = 0;
	}
	if (rl->sent < RL_BURST) {
		rl->sent++;
		emit = true;
		*count = rl->pending;
		*total = rl->total;
		rl->pending = 0;
	}
	g_mutex_unlock(&rl->lock);
	return emit;
}

static void kv_magic(GString *json, uint32_t magic)
{
	char hex[16];

	snprintf(hex, sizeof(hex), "0x%08" PRIx32, magic);
	mh_json_kv_str(json, "magic", hex);
}

static void rl_flush(struct ratelimit *rl, const char *event)
{
	GString *ev;

	g_mutex_lock(&rl->lock);
	if (rl->pending) {
		ev = mh_event_new(event);
		mh_event_int(ev, "count", rl->pending);
		mh_event_int(ev, "total", rl->total);
		mh_event_str(ev, "final", "at exit");
		mh_event_emit(ev);
		rl->pending = 0;
	}
	g_mutex_unlock(&rl->lock);
}

static void unknown(uint32_t magic, unsigned int enc)
{
	uint64_t count, total;
	GString *ev;

	if (!rl_hit(&rl_unknown, &count, &total))
		return;
	ev = mh_event_new("hypercall_unknown");
	kv_magic(ev, magic);
	mh_event_str(ev, "encoding", target->enc_names[enc == MH_HC_ENC_NOP]);
	mh_event_int(ev, "count", count);
	mh_event_int(ev, "total", total);
	mh_event_emit(ev);
}

/*
 * A guest request refused (@what: guest_denied), or a route call failed.
 * @name: @name_len bytes from the guest, any (NULL: none).
 */
static void refuse(struct ratelimit *rl, const char *what, uint32_t magic,
		   const char *op, const char *name, size_t name_len,
		   const char *error)
{
	uint64_t count, total;
	GString *ev;

	if (!rl_hit(rl, &count, &total))
		return;
	ev = mh_event_new(what);
	kv_magic(ev, magic);
	mh_event_str(ev, "op", op);
	if (name)
		mh_event_strn(ev, "name", name, name_len);
	mh_event_str(ev, "error", error);
	mh_event_int(ev, "count", count);
	mh_event_int(ev, "total", total);
	mh_event_emit(ev);
}

/* -- the route table ----------------------------------------------------- */

static const struct route *table_find(const struct table *t, uint32_t magic)
{
	guint lo = 0, hi = t->n;

	while (lo < hi) {
		guint mid = (lo + hi) / 2;
		uint32_t m = t->r[mid]->magic;

		if (m == magic)
			return t->r[mid];
		if (m < magic)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void route_free(gpointer p)
{
	struct route *r = p;

	g_free(r->owner);
	g_free(r->symbol);
	g_free(r->call);
	g_free(r);
}

/* Retired things are freed with g_free or route_free: tag routes. */
struct retiree {
	bool is_route;
	void *p;
};

static void retiree_free(gpointer p)
{
	struct retiree *t = p;

	if (t->is_route)
		route_free(t->p);
	else
		g_free(t->p);
	g_free(t);
}

static void retire_locked(void *p, bool is_route) /* Must hold routes_lock. */
{
	struct retiree *t = g_new(struct retiree, 1);

	t->is_route = is_route;
	t->p = p;
	g_ptr_array_add(retired, t);
}

/*
 * Publish a copy of the table with @add inserted (if not NULL) and every
 * route matching @drop removed.  Must hold routes_lock.
 */
static void publish_locked(struct route *add,
			   bool (*drop)(const struct route *r, void *opaque),
			   void *opaque)
{
	struct table *old = table, *t;
	guint j = 0;

	t = g_malloc(sizeof(*t) + sizeof(t->r[0]) * (old->n + 1));
	for (guint i = 0; i < old->n; i++) {
		struct route *r = old->r[i];

		if (drop && drop(r, opaque)) {
			retire_locked(r, true);
			continue;
		}
		if (add && add->magic < r->magic) {
			t->r[j++] = add;
			add = NULL;
		}
		t->r[j++] = r;
	}
	if (add)
		t->r[j++] = add;
	t->n = j;
	__atomic_store_n(&table, t, __ATOMIC_RELEASE);
	retire_locked(old, false);
}

static bool drop_magic_of(const struct route *r, void *opaque)
{
	const struct route *key = opaque;

	return r->magic == key->magic && r->mod == key->mod;
}

static bool drop_owned_by(const struct route *r, void *m)
{
	return r->mod == m;
}

static char *magic_refusal(uint32_t magic)
{
	if (mh_hypercall_is_leaf(magic))
		return g_strdup_printf("hypercall magic 0x%08" PRIx32 " is a real "
				       "cpuid leaf range (0x0000xxxx, 0x4000xxxx, "
				       "0x8000xxxx, 0xC000xxxx)", magic);
	return g_strdup_printf("hypercall magic 0x%08" PRIx32 " is reserved for "
			       "the host (0x4d480000-0x4d4800ff)", magic);
}

static const char *route_owner_desc(const struct route *r, char **buf)
{
	if (r->symbol)
		return *buf = g_strdup_printf("%s.%s (a symbol route)", r->owner,
					      r->symbol);
	return r->owner;
}

/* Insert @r; -EEXIST naming the owner if its magic is taken. */
static int add_route(struct route *r, char **err)
{
	const struct route *have;
	g_autofree char *buf = NULL;

	g_mutex_lock(&routes_lock);
	have = table_find(table, r->magic);
	if (have) {
		*err = g_strdup_printf("hypercall magic 0x%08" PRIx32 " is already "
				       "routed to %s", r->magic,
				       route_owner_desc(have, &buf));
		g_mutex_unlock(&routes_lock);
		return -EEXIST;
	}
	publish_locked(r, NULL, NULL);
	g_mutex_unlock(&routes_lock);
	return 0;
}

int mh_hypercall_register(struct mh_module *m, uint32_t magic,
			  mh_hypercall_fn fn, void *opaque, char **err)
{
	struct route *r;
	int ret;

	if (!fn) {
		*err = g_strdup_printf("hypercall magic 0x%08" PRIx32 ": no handler",
				       magic);
		return -EINVAL;
	}
	if (!mh_hypercall_routable(magic)) {
		*err = magic_refusal(magic);
		return -EINVAL;
	}
	r = g_new0(struct route, 1);
	r->magic = magic;
	r->owner = g_strdup(m->meta->name);
	r->mod = m;
	r->fn = fn;
	r->opaque = opaque;
	ret = add_route(r, err);
	if (ret)
		route_free(r);
	return ret;
}

int mh_hypercall_unregister(struct mh_module *m, uint32_t magic)
{
	struct route key = { .magic = magic, .mod = m };
	const struct route *have;
	int ret = -ENOENT;

	g_mutex_lock(&routes_lock);
	have = table_find(table, magic);
	if (have && have->mod == m) {
		publish_locked(NULL, drop_magic_of, &key);
		ret = 0;
	}
	g_mutex_unlock(&routes_lock);
	return ret;
}

void mh_hypercall_release(struct mh_module *m)
{
	bool owns = false;

	g_mutex_lock(&routes_lock);
	for (guint i = 0; table && i < table->n && !owns; i++)
		owns = table->r[i]->mod == m;
	if (owns)
		publish_locked(NULL, drop_owned_by, m);
	g_mutex_unlock(&routes_lock);
}

void mh_hypercall_quiesced(void)
{
	g_mutex_lock(&routes_lock);
	if (retired)
		g_ptr_array_set_size(retired, 0);
	g_mutex_unlock(&routes_lock);
}

const struct mh_hypercall *mh_hypercall_current(unsigned int vcpu_index)
{
	const struct mh_hypercall *c = hc_current;

	return c && c->vcpu == vcpu_index ? c : NULL;
}

bool mh_hypercall_returns(void)
{
	return write_register != NULL;
}

/* -- reading the guest ----------------------------------------------------- */

static inline uint64_t reg_read(struct qemu_plugin_register *reg)
{
	GByteArray *b = hc_buf;
	uint64_t v = 0;
	int n;

	if (!reg)
		return 0;
	if (!b)
		b = hc_buf = g_byte_array_sized_new(16);
	g_byte_array_set_size(b, 0);
	n = qemu_plugin_read_register(reg, b);
	if (n > 0)
		memcpy(&v, b->data, MIN((size_t)n, sizeof(v)));
	return v;
}

static void read_call(struct mh_hypercall *c, unsigned int vcpu,
		      uint32_t magic, unsigned int enc, uint64_t pc)
{
	bool is64 = target->width ? target->width == 64 :
		    (reg_read(reg_mode) & EFER_LMA);

	c->magic = magic;
	c->width = is64 ? 64 : 32;
	c->encoding = enc;
	c->vcpu = vcpu;
	c->pc = pc;
	for (unsigned int i = 0; i < HC_NARGS; i++) {
		uint64_t v = reg_read(reg_args[is64][i]);

		c->args[i] = is64 ? v : (uint32_t)v;
	}
}

/*
 * Copy the NUL-terminated guest string at @addr, at most HC_STR_MAX bytes,
 * a page at a time (a read fails as a whole if any byte is unmapped).
 */
static int read_guest_str(uint64_t addr, char **out)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	GString *s = g_string_sized_new(64);

	while (s->len < HC_STR_MAX) {
		size_t chunk = MIN(4096 - (addr & 4095), HC_STR_MAX - s->len);
		const guint8 *nul;

		g_byte_array_set_size(b, 0);
		if (!qemu_plugin_read_memory_vaddr(addr, b, chunk) ||
		    b->len < chunk) {
			g_string_free(s, TRUE);
			return -EFAULT;
		}
		nul = memchr(b->data, 0, chunk);
		if (nul) {
			g_string_append_len(s, (const char *)b->data,
					    nul - b->data);
			*out = g_string_free(s, FALSE);
			return 0;
		}
		g_string_append_len(s, (const char *)b->data, chunk);
		addr += chunk;
	}
	g_string_free(s, TRUE);
	return -ENAMETOOLONG;
}

/* The result goes where the magic came from: rax, x8 or r7. */
static void write_result(uint64_t val)
{
	const struct mh_regs_reg *r = mh_regs_find(target->magic);
	GByteArray *b = hc_buf;

	g_byte_array_set_size(b, 0);
	g_byte_array_append(b, (const guint8 *)&val,
			    MIN(r->width ? r->width : sizeof(val), sizeof(val)));
	write_register(reg_magic, b);
}

/* -- route to an exported symbol ------------------------------------------ */

/* The register value @v as @t, for ffi_call; the result, back to 64 bits. */
union hc_val {
	int8_t i8;
	int16_t i16;
	int32_t i32;
	int64_t i64;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	void *p;
	ffi_arg ret;
	ffi_sarg sret;
};

static void to_val(enum mh_type t, uint64_t v, union hc_val *out)
{
	switch (t) {
	case MH_T_I8: out->i8 = v; break;
	case MH_T_I16: out->i16 = v; break;
	case MH_T_I32: out->i32 = v; break;
	case MH_T_U8: out->u8 = v; break;
	case MH_T_BOOL: out->u8 = !!v; break;
	case MH_T_U16: out->u16 = v; break;
	case MH_T_U32: out->u32 = v; break;
	default: out->u64 = v; break;
	}
}

static uint64_t from_ret(enum mh_type t, const union hc_val *r)
{
	switch (t) {
	case MH_T_I8:
	case MH_T_I16:
	case MH_T_I32:
	case MH_T_I64:
		return (uint64_t)(int64_t)r->sret;
	case MH_T_VOID:
		return 0;
	default:
		return r->ret;
	}
}

/*
 * Can a hypercall call @module.@symbol of signature @sigstr?  If so, @f
 * is its call prepared.
 */
static int sig_callable(const char *module, const char *symbol,
			const char *sigstr, struct mh_sig_ffi *f, char **err)
{
	const struct mh_sig *sig = &f->sig;

	if (mh_sig_ffi_prep(f, sigstr, err))
		return -EINVAL;
	if (sig->nargs > HC_NARGS) {
		*err = g_strdup_printf("%s.%s is %s: a hypercall has at most %d "
				       "arguments", module, symbol, sigstr,
				       HC_NARGS);
		return -E2BIG;
	}
	for (unsigned int i = 0; i < sig->nargs; i++) {
		if (sig->args[i] == MH_T_PTR) {
			*err = g_strdup_printf("%s.%s is %s: a host pointer (p) "
					       "cannot come from a guest",
					       module, symbol, sigstr);
			return -EINVAL;
		}
	}
	return 0;
}

static int not_live(const struct route *r, char **err)
{
	*err = g_strdup_printf("%s.%s is not live (is %s loaded?)", r->owner,
			       r->symbol, r->owner);
	return -ENOENT;
}

/*
 * @r's call as the registry stands: the cached one, or one made now and
 * cached.  NULL and *@err if the export is not live or cannot be called by
 * a hypercall.
 */
static const struct sym_call *sym_call_get(struct route *r, char **err)
{
	struct sym_call *sc = __atomic_load_n(&r->call, __ATOMIC_ACQUIRE), *old;
	uint64_t gen = mh_registry_gen();
	g_autofree char *sigstr = NULL;
	struct mh_module *provider;
	void (*fn)(void);

	if (sc && sc->reg_gen == gen)
		return sc;
	/*
	 * On this vCPU, the export cannot change before the call returns.
	 * (A change between reading gen and here leaves sc tagged older than
	 * what it holds: the next call makes it again.)
	 */
	if (mh_registry_current(r->owner, r->symbol, &fn, &sigstr, &provider)) {
		not_live(r, err);
		return NULL;
	}
	sc = g_new(struct sym_call, 1);
	sc->reg_gen = gen;
	sc->fn = fn;
	sc->provider = provider;
	if (sig_callable(r->owner, r->symbol, sigstr, &sc->f, err)) {
		g_free(sc);
		return NULL;
	}
	/*
	 * Another vCPU may be calling with the one replaced: it goes at the
	 * next quiesce.  (Two vCPUs making one at once both retire theirs in
	 * turn: whichever stays is as good.)
	 */
	g_mutex_lock(&routes_lock);
	old = __atomic_exchange_n(&r->call, sc, __ATOMIC_ACQ_REL);
	if (old)
		retire_locked(old, false);
	g_mutex_unlock(&routes_lock);
	return sc;
}

static int call_symbol(struct route *r, const struct mh_hypercall *c,
		       uint64_t *ret, char **err)
{
	union hc_val vals[HC_NARGS], rv = { 0 };
	char *strs[HC_NARGS] = { 0 };
	void *values[HC_NARGS];
	const struct sym_call *sc;
	int res = 0;

	sc = sym_call_get(r, err);
	if (!sc)
		return -EINVAL;
	for (unsigned int i = 0; i < sc->f.sig.nargs && !res; i++) {
		enum mh_type t = sc->f.sig.args[i];

		values[i] = &vals[i];
		if (t == MH_T_STR) {
			res = read_guest_str(c->args[i], &strs[i]);
			if (res)
				*err = g_strdup_printf("argument %u: no string at "
						       "0x%" PRIx64 " (%s)", i + 1,
						       c->args[i],
						       res == -EFAULT ? "not mapped" :
						       "longer than 4096 bytes");
			vals[i].p = strs[i];
		} else {
			to_val(t, c->args[i], &vals[i]);
		}
	}
	if (!res) {
		/* The cif is read only: vCPUs may share it. */
		ffi_call((ffi_cif *)&sc->f.cif, sc->fn, &rv, values);
		*ret = from_ret(sc->f.sig.ret, &rv);
		/* Live until the next quiesce, which this vCPU holds off. */
		__atomic_add_fetch(&sc->provider->entry->hypercalls, 1,
				   __ATOMIC_RELAXED);
	}
	for (unsigned int i = 0; i < HC_NARGS; i++)
		g_free(strs[i]);
	return res;
}

/* -- guest control ---------------------------------------------------------- */

static void control(const struct mh_hypercall *c)
{
	static const char *const ops[] = { "load", "unload", "reload" };
	static const enum mh_req_kind kinds[] = { MH_REQ_LOAD, MH_REQ_UNLOAD,
						  MH_REQ_RELOAD };
	unsigned int op = c->magic - MH_HC_LOAD;
	uint64_t addr = c->args[0], len = c->args[1];
	g_autoptr(GByteArray) b = NULL;
	g_autofree char *name = NULL;
	g_autofree char *why = NULL;
	uint64_t count, total;	/* of rl_requests: not reported */
	int ret;

	if (!guest_control) {
		refuse(&rl_denied, "guest_denied", c->magic, ops[op], NULL, 0,
		       "guest_control=off");
		return;
	}
	if (len == 0 || len > MH_NAME_MAX) {
		why = g_strdup_printf("name length %" PRIu64 " is not 1..%d", len,
				      MH_NAME_MAX);
		refuse(&rl_denied, "guest_denied", c->magic, ops[op], NULL, 0,
		       why);
		return;
	}
	b = g_byte_array_new();
	if (!qemu_plugin_read_memory_vaddr(addr, b, len) || b->len < len) {
		why = g_strdup_printf("cannot read the name at 0x%" PRIx64
				      ": not mapped", addr);
		refuse(&rl_denied, "guest_denied", c->magic, ops[op], NULL, 0,
		       why);
		return;
	}
	name = g_strndup((const char *)b->data, len);
	/*
	 * g_strndup stops at a NUL: a shorter string is not the name given.
	 * The event shows all the bytes the guest gave, NULs included.
	 */
	if (strlen(name) != len || !mh_valid_module_name(name, len)) {
		refuse(&rl_denied, "guest_denied", c->magic, ops[op],
		       (const char *)b->data, len,
		       "not a module name ([A-Za-z0-9_-]{1,64}, looked up in "
		       "dir only)");
		return;
	}
	if (!rl_hit(&rl_requests, &count, &total)) {
		refuse(&rl_denied, "guest_denied", c->magic, ops[op], name, len,
		       "more than " G_STRINGIFY(RL_BURST) " guest requests a "
		       "second");
		return;
	}
	ret = mh_request_async(kinds[op], name, MH_FROM_GUEST);
	if (ret)
		refuse(&rl_denied, "guest_denied", c->magic, ops[op], name, len,
		       ret == -EAGAIN ? "too many guest requests queued" :
		       "QEMU is exiting");
}

/* -- dispatch ---------------------------------------------------------------- */

static void dispatch(unsigned int vcpu, uint64_t pc, unsigned int enc)
{
	uint32_t magic = (uint32_t)reg_read(reg_magic);
	const struct route *r;
	struct mh_hypercall call;
	g_autofree char *err = NULL;
	uint64_t ret = 0;

	/* A real cpuid: the common case, at the cost of one register read. */
	if (enc == MH_HC_ENC_CPUID && target->cpuid_leaves &&
	    mh_hypercall_is_leaf(magic))
		return;
	r = table_find(__atomic_load_n(&table, __ATOMIC_ACQUIRE), magic);
	if (!r) {
		if (magic >= MH_HC_LOAD && magic <= MH_HC_RELOAD) {
			read_call(&call, vcpu, magic, enc, pc);
			control(&call);
		} else {
			unknown(magic, enc);
		}
		return;
	}
	read_call(&call, vcpu, magic, enc, pc);
	__atomic_add_fetch(&((struct route *)r)->calls, 1, __ATOMIC_RELAXED);
	if (r->fn) {
		hc_current = &call;
		ret = r->fn(mh_cpu_of(vcpu), &call, r->opaque);
		hc_current = NULL;
		/* The instance is live: routes leave with it, in a quiesce. */
		__atomic_add_fetch(&r->mod->entry->hypercalls, 1,
				   __ATOMIC_RELAXED);
	} else if (call_symbol((struct route *)r, &call, &ret, &err)) {
		g_autofree char *route = g_strdup_printf("%s.%s", r->owner,
							 r->symbol);

		refuse(&rl_fault, "hypercall_fault", magic, "route", route,
		       strlen(route), err);
		return;
	}
	/* cpuid overwrites rax right after: only the NOP form can return. */
	if (write_register && enc == MH_HC_ENC_NOP)
		write_result(ret);
}

static void cb_cpuid(unsigned int vcpu, void *udata)
{
	dispatch(vcpu, (uint64_t)(uintptr_t)udata, MH_HC_ENC_CPUID);
}

static void cb_nop(unsigned int vcpu, void *udata)
{
	dispatch(vcpu, (uint64_t)(uintptr_t)udata, MH_HC_ENC_NOP);
}

static void put_cb(struct qemu_plugin_insn *insn, unsigned int enc)
{
	void *pc = (void *)(uintptr_t)qemu_plugin_insn_vaddr(insn);

	if (enc == MH_HC_ENC_CPUID)
		qemu_plugin_register_vcpu_insn_exec_cb(insn, cb_cpuid,
						       QEMU_PLUGIN_CB_R_REGS, pc);
	else
		qemu_plugin_register_vcpu_insn_exec_cb(insn, cb_nop,
			write_register ? QEMU_PLUGIN_CB_RW_REGS :
					 QEMU_PLUGIN_CB_R_REGS, pc);
}

static void instrument_x86(struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);

	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		size_t size = qemu_plugin_insn_size(insn);
		uint8_t b[8];

		/* The decoded length must match exactly: no prefixes. */
		if (size != 2 && size != 8)
			continue;
		if (qemu_plugin_insn_data(insn, b, size) != size)
			continue;
		if (size == 2 && b[0] == 0x0f && b[1] == 0xa2)
			put_cb(insn, MH_HC_ENC_CPUID);
		else if (size == 8 && !memcmp(b, HC_NOP_BYTES, 8))
			put_cb(insn, MH_HC_ENC_NOP);
	}
}

/*
 * Arm encodings (Documentation/hypercall-abi.rst).  A T32 instruction is
 * taken as its two halfwords, the first in the high half, so A32 and T32
 * coprocessor forms share one mask.
 */
enum arm_isa { ISA_A64, ISA_A32, ISA_T32 };
#define A64_PANDA	0xd500501fu	/* msr S0_0_c5_c0_0, xzr */
#define ARM_CP7_MASK	0xff000f10u	/* mcr/mrc p7 (A32: cond AL) */
#define ARM_CP7		0xee000710u
#define MARK_BYTE(i)	((MH_HC_NOP_MARK >> (8 * (i))) & 0xffu)

static uint32_t arm_hint(enum arm_isa isa, uint32_t imm)
{
	switch (isa) {
	case ISA_A64:
		return 0xd503201fu | imm << 5;	/* hint #imm (7 bits) */
	case ISA_A32:
		return 0xe320f000u | imm;	/* hint #imm, cond AL */
	default:
		return 0xf3af8000u | imm;	/* hint.w #imm */
	}
}

static uint32_t arm_word(enum arm_isa isa, const uint8_t *b)
{
	if (isa == ISA_T32)
		return (uint32_t)(b[0] | b[1] << 8) << 16 | (b[2] | b[3] << 8);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

/*
 * Are the three instructions before @idx (at @pc) the hints 'M' 'H' 'C'?
 * From the block when they are in it, else from guest memory: the
 * sequence may straddle two blocks (a page boundary, the block size limit).
 */
static bool arm_mark_before(struct qemu_plugin_tb *tb, size_t idx,
			    uint64_t pc, enum arm_isa isa)
{
	uint8_t b[12];

	if (idx >= 3) {
		for (size_t k = 0; k < 3; k++) {
			struct qemu_plugin_insn *p =
				qemu_plugin_tb_get_insn(tb, idx - 3 + k);

			if (qemu_plugin_insn_size(p) != 4 ||
			    qemu_plugin_insn_vaddr(p) != pc - 12 + 4 * k ||
			    qemu_plugin_insn_data(p, b + 4 * k, 4) != 4)
				return false;
		}
	} else {
		g_autoptr(GByteArray) m = g_byte_array_new();

		if (pc < 12 || !qemu_plugin_read_memory_vaddr(pc - 12, m, 12) ||
		    m->len < 12)
			return false;
		memcpy(b, m->data, 12);
	}
	for (unsigned int k = 0; k < 3; k++)
		if (arm_word(isa, b + 4 * k) != arm_hint(isa, MARK_BYTE(k)))
			return false;
	return true;
}

static void instrument_arm(struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	enum arm_isa isa = ISA_A64;

	/*
	 * A block is translated for the state the vCPU is in now, so CPSR.T
	 * tells ARM from Thumb; unreadable, nothing is decoded at all.
	 */
	if (reg_mode) {
		GByteArray *b = hc_buf ? hc_buf : (hc_buf = g_byte_array_new());
		uint32_t cpsr = 0;

		g_byte_array_set_size(b, 0);
		if (qemu_plugin_read_register(reg_mode, b) < 4) {
			static gsize said;

			if (g_once_init_enter(&said)) {
				mh_err("hypercalls: cpsr cannot be read while "
				       "translating: ARM and Thumb code is not "
				       "decoded, no hypercall is recognised");
				g_once_init_leave(&said, 1);
			}
			return;
		}
		memcpy(&cpsr, b->data, 4);
		isa = cpsr & CPSR_T ? ISA_T32 : ISA_A32;
	}
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t pc = qemu_plugin_insn_vaddr(insn);
		uint8_t b[4];
		uint32_t w;

		/* Every form is one 4-byte instruction (T32: a 32-bit one). */
		if (qemu_plugin_insn_size(insn) != 4 ||
		    qemu_plugin_insn_data(insn, b, 4) != 4)
			continue;
		w = arm_word(isa, b);
		if (isa == ISA_A64 ? w == A64_PANDA :
		    (w & ARM_CP7_MASK) == ARM_CP7)
			put_cb(insn, MH_HC_ENC_CPUID);
		else if (w == arm_hint(isa, MARK_BYTE(3)) &&
			 arm_mark_before(tb, i, pc, isa))
			put_cb(insn, MH_HC_ENC_NOP);
	}
}

void mh_hypercall_instrument(struct qemu_plugin_tb *tb)
{
	if (target)
		target->instrument(tb);
}

/* -- start, vCPUs, exit ------------------------------------------------------ */

static struct qemu_plugin_register *reg_handle(const char *name)
{
	const struct mh_regs_reg *r = mh_regs_find(name);

	return r ? r->handle : NULL;
}

/* Does the register table have every register @t reads? */
static bool target_fits(const struct hc_target *t)
{
	if (!mh_regs_find(t->magic) || (t->mode && !mh_regs_find(t->mode)))
		return false;
	for (unsigned int w = 0; w < 2; w++)
		for (unsigned int a = 0; a < HC_NARGS; a++)
			if (!mh_regs_find(t->args[w][a]))
				return false;
	return true;
}

void mh_hypercall_vcpu_init(void)
{
	static gsize done;

	if (!g_once_init_enter(&done))
		return;
	mh_regs_vcpu_init();
	for (size_t i = 0; i < G_N_ELEMENTS(targets) && !target; i++)
		if (target_fits(&targets[i]))
			target = &targets[i];
	if (target) {
		reg_magic = reg_handle(target->magic);
		reg_mode = target->mode ? reg_handle(target->mode) : NULL;
		for (unsigned int w = 0; w < 2; w++)
			for (unsigned int a = 0; a < HC_NARGS; a++)
				reg_args[w][a] = reg_handle(target->args[w][a]);
		mh_msg("hypercalls: %s registers (magic in %s)", target->name,
		       target->magic);
	} else {
		mh_err("hypercalls: this vCPU has neither x86 (rax, efer ...) "
		       "nor Arm (x0..x8; r0..r7, cpsr) registers: hypercalls "
		       "are not recognised");
	}
	g_once_init_leave(&done, 1);
}

/*
 * A route to @module.@symbol, from route= or the control socket.  While
 * the provider is not loaded the route waits for it (calls fail with a
 * hypercall_fault event); @live says it is loaded, and then the symbol
 * must exist and be callable now.
 */
static int add_symbol_route(uint32_t magic, const char *module,
			    const char *symbol, bool live, char **err)
{
	g_autofree char *sigstr = NULL;
	void (*fn)(void);
	struct mh_sig_ffi f;
	struct route *r;
	int ret;

	if (live) {
		if (mh_registry_current(module, symbol, &fn, &sigstr, NULL)) {
			*err = g_strdup_printf("module %s exports no '%s' (see "
					       "modctl symbols)", module, symbol);
			return -ENOENT;
		}
		ret = sig_callable(module, symbol, sigstr, &f, err);
		if (ret)
			return ret;
	}
	r = g_new0(struct route, 1);
	r->magic = magic;
	r->owner = g_strdup(module);
	r->symbol = g_strdup(symbol);
	ret = add_route(r, err);
	if (ret)
		route_free(r);
	return ret;
}

static void route_event(const char *what, uint32_t magic, const char *module,
			const char *symbol)
{
	GString *ev = mh_event_new(what);

	kv_magic(ev, magic);
	if (module) {
		g_autofree char *to = g_strdup_printf("%s.%s", module, symbol);

		mh_event_str(ev, "to", to);
	}
	mh_event_str(ev, "from", "ctl");
	mh_event_emit(ev);
}

int mh_hypercall_route_add(uint32_t magic, const char *module,
			   const char *symbol, bool live, char **err)
{
	int ret = add_symbol_route(magic, module, symbol, live, err);

	if (!ret)
		route_event("route", magic, module, symbol);
	return ret;
}

int mh_hypercall_route_del(uint32_t magic, char **err)
{
	struct route key = { .magic = magic };
	const struct route *have;
	int ret = 0;

	g_mutex_lock(&routes_lock);
	have = table_find(table, magic);
	if (!have) {
		*err = g_strdup_printf("no route for hypercall magic 0x%08" PRIx32,
				       magic);
		ret = -ENOENT;
	} else if (!have->symbol) {
		*err = g_strdup_printf("hypercall magic 0x%08" PRIx32 " is %s's "
				       "own handler: it goes when %s unregisters "
				       "it or is unloaded", magic, have->owner,
				       have->owner);
		ret = -EPERM;
	} else {
		publish_locked(NULL, drop_magic_of, &key);
	}
	g_mutex_unlock(&routes_lock);
	if (!ret)
		route_event("unroute", magic, NULL, NULL);
	return ret;
}

int mh_hypercall_init(const struct mh_host_args *args, char **err)
{
	table = g_malloc0(sizeof(*table));
	retired = g_ptr_array_new_with_free_func(retiree_free);
	guest_control = args->guest_control;
	write_register = (write_register_fn)dlsym(RTLD_DEFAULT,
						  "qemu_plugin_write_register");
	for (unsigned int i = 0; i < args->nroutes; i++) {
		const struct mh_route_arg *a = &args->routes[i];
		g_autofree char *why = NULL;

		/* params.c parsed and checked it; a magic may still be taken. */
		if (add_symbol_route(a->magic, a->module, a->symbol, false, &why)) {
			*err = g_strdup_printf("route=%s: %s", a->spec, why);
			return -EINVAL;
		}
	}
	mh_msg("hypercalls: guest_control=%s, return values %s",
	       guest_control ? "on" : "off",
	       write_register ? "written to the magic's register (marked form)" :
	       "not supported by this QEMU (one-way)");
	return 0;
}

void mh_hypercall_exit(void)
{
	rl_flush(&rl_unknown, "hypercall_unknown");
	rl_flush(&rl_denied, "guest_denied");
	rl_flush(&rl_fault, "hypercall_fault");
}

/* -- the control socket's "routes" -------------------------------------------- */

static void describe_one(GString *json, uint32_t magic, const char *owner,
			 const char *handler, const char *kind, bool enabled,
			 uint64_t calls)
{
	mh_json_obj_begin(json);
	kv_magic(json, magic);
	mh_json_kv_str(json, "owner", owner);
	mh_json_kv_str(json, "handler", handler);
	mh_json_kv_str(json, "kind", kind);
	mh_json_kv_bool(json, "enabled", enabled);
	mh_json_kv_uint(json, "calls", calls);
	mh_json_obj_end(json);
}

void mh_hypercall_describe(GString *json)
{
	static const char *const ops[] = { "load", "unload", "reload" };

	mh_json_arr_begin(json);
	for (unsigned int i = 0; i < 3; i++)
		describe_one(json, MH_HC_LOAD + i, "modhost", ops[i],
			     guest_control ? "guest_control" :
			     "guest_control (off)", guest_control, 0);
	g_mutex_lock(&routes_lock);
	for (guint i = 0; table && i < table->n; i++) {
		const struct route *r = table->r[i];
		g_autofree char *handler = NULL;
		Dl_info info;

		if (r->symbol)
			handler = g_strdup(r->symbol);
		else if (dladdr((void *)r->fn, &info) && info.dli_sname)
			handler = g_strdup(info.dli_sname);
		else if (dladdr((void *)r->fn, &info) && info.dli_fbase)
			handler = g_strdup_printf("%s+0x%tx", r->owner,
						  (char *)r->fn -
						  (char *)info.dli_fbase);
		else
			handler = g_strdup_printf("%p", (void *)r->fn);
		describe_one(json, r->magic, r->owner, handler,
			     r->symbol ? "symbol" : "handler", true,
			     __atomic_load_n(&r->calls, __ATOMIC_RELAXED));
	}
	g_mutex_unlock(&routes_lock);
	mh_json_arr_end(json);
}
