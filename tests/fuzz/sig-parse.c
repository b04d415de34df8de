// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for signature strings (host/signature.c).
 *
 * Contract checked on every input: no crash or sanitizer report; an
 * accepted signature has at most MH_SIG_MAX_ARGS arguments, none void,
 * and printing the parsed form gives back the input exactly (a signature
 * is its own canonical form); a refused one comes with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const names[] = {
	[MH_T_VOID] = "v", [MH_T_I8] = "i8", [MH_T_I16] = "i16",
	[MH_T_I32] = "i32", [MH_T_I64] = "i64", [MH_T_U8] = "u8",
	[MH_T_U16] = "u16", [MH_T_U32] = "u32", [MH_T_U64] = "u64",
	[MH_T_BOOL] = "b", [MH_T_PTR] = "p", [MH_T_GADDR] = "g",
	[MH_T_STR] = "s",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);
	struct mh_sig sig;
	char *err = NULL;
	GString *back;

	if (!s)
		return 0;
	if (mh_sig_parse(s, &sig, &err)) {
		if (!err || !*err)
			abort();
		g_free(err);
		free(s);
		return 0;
	}
	if (err || sig.nargs > MH_SIG_MAX_ARGS)
		abort();
	back = g_string_new(names[sig.ret]);
	g_string_append_c(back, '(');
	for (unsigned int i = 0; i < sig.nargs; i++) {
		if (sig.args[i] == MH_T_VOID)
			abort();
		g_string_append_printf(back, "%s%s", i ? "," : "",
				       names[sig.args[i]]);
	}
	g_string_append_c(back, ')');
	if (strcmp(back->str, s))
		abort();
	g_string_free(back, TRUE);
	free(s);
	return 0;
}
