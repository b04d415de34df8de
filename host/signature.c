// SPDX-License-Identifier: MIT
/*
 * Signature strings: the small type language of exports, imports, PPP
 * points and hypercall routes (Documentation/registry.rst).
 *
 *   sig  := ret "(" [ type { "," type } ] ")"
 *   ret  := "v" | type
 *   type := "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64"
 *         | "b" | "p" | "g" | "s"
 *
 * b is a C bool, p a host pointer, g a guest address (64 bits), s a string
 * (const char *; a guest string copied in by the host for hypercall
 * routes).  No spaces: the string is its own canonical form, so two
 * signatures are equal exactly when their strings are.
 */
#include <errno.h>
#include <ffi.h>
#include <string.h>

#include "internal.h"

static const struct {
	const char *name;
	enum mh_type type;
} type_names[] = {
	{ "i8", MH_T_I8 }, { "i16", MH_T_I16 }, { "i32", MH_T_I32 },
	{ "i64", MH_T_I64 }, { "u8", MH_T_U8 }, { "u16", MH_T_U16 },
	{ "u32", MH_T_U32 }, { "u64", MH_T_U64 }, { "b", MH_T_BOOL },
	{ "p", MH_T_PTR }, { "g", MH_T_GADDR }, { "s", MH_T_STR },
	{ "v", MH_T_VOID },
};

/* Read one type name at *p, advancing past it. */
static int parse_type(const char **p, enum mh_type *t)
{
	for (unsigned int i = 0; i < G_N_ELEMENTS(type_names); i++) {
		size_t n = strlen(type_names[i].name);

		if (!strncmp(*p, type_names[i].name, n) &&
		    !g_ascii_isalnum((*p)[n])) {
			*t = type_names[i].type;
			*p += n;
			return 0;
		}
	}
	return -EINVAL;
}

int mh_sig_parse(const char *s, struct mh_sig *sig, char **err)
{
	const char *p = s;

	memset(sig, 0, sizeof(*sig));
	if (!s || strlen(s) > MH_SIG_MAX_LEN)
		goto bad;
	if (parse_type(&p, &sig->ret) || *p++ != '(')
		goto bad;
	if (*p == ')') {
		p++;
	} else {
		for (;;) {
			enum mh_type t;

			if (parse_type(&p, &t) || t == MH_T_VOID)
				goto bad;
			if (sig->nargs == MH_SIG_MAX_ARGS) {
				*err = g_strdup_printf("signature '%.80s' has more "
						       "than %d arguments", s,
						       MH_SIG_MAX_ARGS);
				return -E2BIG;
			}
			sig->args[sig->nargs++] = t;
			if (*p == ')') {
				p++;
				break;
			}
			if (*p++ != ',')
				goto bad;
		}
	}
	if (*p)
		goto bad;
	return 0;
bad:
	*err = g_strdup_printf("signature '%.80s' is not RET(TYPE,...) with "
			       "types v i8 i16 i32 i64 u8 u16 u32 u64 b p g s",
			       s ? s : "(null)");
	return -EINVAL;
}

bool mh_sig_valid(const char *s)
{
	struct mh_sig sig;
	g_autofree char *err = NULL;

	return !mh_sig_parse(s, &sig, &err);
}

ffi_type *mh_sig_ffi_type(enum mh_type t)
{
	switch (t) {
	case MH_T_VOID: return &ffi_type_void;
	case MH_T_I8: return &ffi_type_sint8;
	case MH_T_I16: return &ffi_type_sint16;
	case MH_T_I32: return &ffi_type_sint32;
	case MH_T_I64: return &ffi_type_sint64;
	case MH_T_U8:
	case MH_T_BOOL: return &ffi_type_uint8;	/* a C bool is one byte here */
	case MH_T_U16: return &ffi_type_uint16;
	case MH_T_U32: return &ffi_type_uint32;
	case MH_T_U64:
	case MH_T_GADDR: return &ffi_type_uint64;
	case MH_T_PTR:
	case MH_T_STR: return &ffi_type_pointer;
	}
	return &ffi_type_void;
}

int mh_sig_ffi_prep(struct mh_sig_ffi *f, const char *s, char **err)
{
	int ret = mh_sig_parse(s, &f->sig, err);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < f->sig.nargs; i++)
		f->args[i] = mh_sig_ffi_type(f->sig.args[i]);
	if (ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI, f->sig.nargs,
			 mh_sig_ffi_type(f->sig.ret), f->args) != FFI_OK) {
		*err = g_strdup_printf("libffi cannot call signature '%s'", s);
		return -EINVAL;
	}
	return 0;
}
