// SPDX-License-Identifier: MIT
/*
 * The target's registers by name: one table for the whole host, built
 * from qemu_plugin_get_registers() at the first vCPU init and never
 * changed after.  api.c binds modules' register handles to it, hypercall.c
 * finds the registers of its calling convention in it.
 *
 * Nothing here knows a target: names, feature sets and widths are what
 * QEMU reports (x86_64 gives rax..r15, efer ...; Arm gives x0.., pc ...).
 * QEMU gives no width, so each register is read once while the table is
 * built (a vCPU init callback runs on its vCPU's thread, where reads are
 * allowed) and the width is the size of what came back.
 *
 * QEMU lists registers only from a vCPU thread; modules may look names up
 * earlier (in init, before any vCPU exists), so mh_regs_find() says "not
 * yet" (NULL) until the table is there.  Locking: the table is published
 * once, with release; readers take no lock.
 */
#include "internal.h"

static GHashTable *table;	/* name -> struct mh_regs_reg; read with acquire */
static GPtrArray *order;	/* the same, in QEMU's order; set before table */

static void reg_free(gpointer p)
{
	struct mh_regs_reg *r = p;

	g_free(r->name);
	g_free(r->feature);
	g_free(r);
}

void mh_regs_vcpu_init(void)
{
	static gsize done;
	g_autoptr(GArray) list = NULL;
	g_autoptr(GByteArray) buf = NULL;
	GHashTable *t;

	if (!g_once_init_enter(&done))
		return;
	t = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, reg_free);
	order = g_ptr_array_new();
	buf = g_byte_array_new();
	list = qemu_plugin_get_registers();
	for (guint i = 0; list && i < list->len; i++) {
		qemu_plugin_reg_descriptor *d =
			&g_array_index(list, qemu_plugin_reg_descriptor, i);
		struct mh_regs_reg *r;
		int n;

		/* The first of a name wins, should a target list one twice. */
		if (!d->name || g_hash_table_contains(t, d->name))
			continue;
		r = g_new0(struct mh_regs_reg, 1);
		r->name = g_strdup(d->name);
		r->feature = g_strdup(d->feature);
		r->handle = d->handle;
		g_byte_array_set_size(buf, 0);
		n = qemu_plugin_read_register(d->handle, buf);
		r->width = n > 0 ? (unsigned int)n : 0;
		g_hash_table_insert(t, r->name, r);
		g_ptr_array_add(order, r);
	}
	__atomic_store_n(&table, t, __ATOMIC_RELEASE);
	g_once_init_leave(&done, 1);
}

const struct mh_regs_reg *mh_regs_find(const char *name)
{
	GHashTable *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);

	return t && name ? g_hash_table_lookup(t, name) : NULL;
}

const struct mh_regs_reg *mh_regs_nth(unsigned int idx)
{
	GHashTable *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);

	return t && idx < order->len ? g_ptr_array_index(order, idx) : NULL;
}
