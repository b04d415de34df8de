// SPDX-License-Identifier: MIT
/*
 * The control socket's request grammar.
 *
 * A request is one line of words separated by spaces or tabs:
 *
 *   list | symbols | routes | stats
 *   info NAME | reload NAME
 *   load NAME [KEY=VALUE]...
 *   unload NAME [force]
 *   param NAME KEY=VALUE
 *   route 0xMAGIC:MODULE.SYMBOL | unroute 0xMAGIC
 *
 * This file is pure (no I/O, no host state) so that the unit tests and a
 * libFuzzer target (tests/fuzz/ctl-parse.c) can drive it on any bytes.
 * Whatever it gets, it either fills a request or returns -EINVAL with one
 * line saying why; an error message never quotes more than a bounded,
 * printable part of the input, so the reply stays short and valid JSON.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

struct ctl_cmd {
	const char *word;
	enum mh_ctl_cmd cmd;
	const char *usage;
};

static const struct ctl_cmd commands[] = {
	{ "list", MH_CTL_LIST, "list" },
	{ "info", MH_CTL_INFO, "info NAME" },
	{ "load", MH_CTL_LOAD, "load NAME [KEY=VALUE]..." },
	{ "unload", MH_CTL_UNLOAD, "unload NAME [force]" },
	{ "reload", MH_CTL_RELOAD, "reload NAME" },
	{ "symbols", MH_CTL_SYMBOLS, "symbols" },
	{ "routes", MH_CTL_ROUTES, "routes" },
	{ "stats", MH_CTL_STATS, "stats" },
	{ "param", MH_CTL_PARAM, "param NAME KEY=VALUE" },
	{ "route", MH_CTL_ROUTE, "route 0xMAGIC:MODULE.SYMBOL" },
	{ "unroute", MH_CTL_UNROUTE, "unroute 0xMAGIC" },
};

bool mh_ctl_changes_modules(enum mh_ctl_cmd cmd)
{
	return cmd == MH_CTL_LOAD || cmd == MH_CTL_UNLOAD ||
	       cmd == MH_CTL_RELOAD || cmd == MH_CTL_PARAM;
}

void mh_ctl_req_clear(struct mh_ctl_req *req)
{
	g_free(req->name);
	g_free(req->symbol);
	if (req->params)
		g_hash_table_unref(req->params);
	memset(req, 0, sizeof(*req));
}

/*
 * A word for a message: at most 40 characters, cut on a character boundary
 * (words are valid UTF-8 by then), so a message is short and valid UTF-8.
 */
static char *clip(const char *word)
{
	g_autofree char *head = NULL;

	if (g_utf8_strlen(word, -1) <= 40)
		return g_strdup(word);
	head = g_utf8_substring(word, 0, 37);
	return g_strconcat(head, "...", NULL);
}

/*
 * route 0xMAGIC:MODULE.SYMBOL (the plugin's route= syntax) or unroute
 * 0xMAGIC, checked by params.c as route= is.  A route is short ASCII:
 * anything else is refused before it is parsed, so no message quotes more
 * than a clipped word.
 */
static int parse_route(struct mh_ctl_req *req, const char *word,
		       const char *usage, char **err)
{
	g_autofree char *why = NULL;
	size_t len = strlen(word);
	bool ascii = len <= 8 + 3 + MH_NAME_MAX + 1 + 64;
	int ret;

	for (size_t i = 0; i < len && ascii; i++)
		ascii = g_ascii_isgraph(word[i]);
	if (!ascii || (req->cmd == MH_CTL_UNROUTE && strchr(word, ':'))) {
		g_autofree char *w = clip(word);

		*err = g_strdup_printf("'%s': usage: %s", w, usage);
		return -EINVAL;
	}
	ret = req->cmd == MH_CTL_ROUTE ?
	      mh_route_parse(word, &req->magic, &req->name, &req->symbol, &why) :
	      mh_magic_parse(word, len, &req->magic, &why);
	if (ret)
		*err = g_strdup_printf("'%s': %s", word, why);
	return ret;
}

/* Parse KEY=VALUE into @req->params; a KEY given again adds a value. */
static int parse_assign(struct mh_ctl_req *req, const char *word, char **err)
{
	const char *eq = strchr(word, '=');
	g_autofree char *key = NULL;

	if (!eq || eq == word) {
		g_autofree char *w = clip(word);

		*err = g_strdup_printf("'%s': expected KEY=VALUE", w);
		return -EINVAL;
	}
	key = g_strndup(word, eq - word);
	if (!mh_valid_param_name(key)) {
		g_autofree char *k = clip(key);

		*err = g_strdup_printf("'%s': a parameter name is an identifier",
				       k);
		return -EINVAL;
	}
	if (!req->params)
		req->params = g_hash_table_new_full(g_str_hash, g_str_equal,
						    g_free, g_free);
	mh_param_add(req->params, key, eq + 1);
	return 0;
}

/*
 * Bytes allowed in a request: printable ASCII, tab, and valid UTF-8 (a
 * parameter value may be a file name).  Rejecting the rest here means no
 * later message or reply has to deal with control characters or NULs.
 */
static bool clean_line(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return g_utf8_validate(line, len, NULL);
}

int mh_ctl_parse(const char *line, size_t len, struct mh_ctl_req *req,
		 char **err)
{
	g_autofree char *copy = NULL;
	g_auto(GStrv) split = NULL;
	g_autoptr(GPtrArray) words = g_ptr_array_new();
	const struct ctl_cmd *c = NULL;
	unsigned int nargs, min, max;
	int ret = 0;

	memset(req, 0, sizeof(*req));
	/* A client may end its lines with CRLF. */
	if (len && line[len - 1] == '\r')
		len--;
	if (len > MH_CTL_LINE_MAX) {
		*err = g_strdup_printf("request longer than %d bytes",
				       MH_CTL_LINE_MAX);
		return -EINVAL;
	}
	if (!clean_line(line, len)) {
		*err = g_strdup("request holds control characters or invalid "
				"UTF-8");
		return -EINVAL;
	}
	copy = g_strndup(line, len);
	g_strdelimit(copy, "\t", ' ');
	split = g_strsplit(copy, " ", -1);
	for (char **w = split; *w; w++) {
		if (**w)
			g_ptr_array_add(words, *w);
	}
	if (!words->len) {
		*err = g_strdup("empty request");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (!strcmp(g_ptr_array_index(words, 0), commands[i].word)) {
			c = &commands[i];
			break;
		}
	}
	if (!c) {
		g_autofree char *w = clip(g_ptr_array_index(words, 0));

		*err = g_strdup_printf("unknown command '%s' (expected list, "
				       "info, load, unload, reload, symbols, "
				       "routes, stats, param, route or unroute)",
				       w);
		return -EINVAL;
	}

	nargs = words->len - 1;
	switch (c->cmd) {
	case MH_CTL_LIST:
	case MH_CTL_SYMBOLS:
	case MH_CTL_ROUTES:
	case MH_CTL_STATS:
		min = max = 0;
		break;
	case MH_CTL_INFO:
	case MH_CTL_RELOAD:
	case MH_CTL_ROUTE:
	case MH_CTL_UNROUTE:
		min = max = 1;
		break;
	case MH_CTL_LOAD:
		min = 1;
		max = G_MAXUINT;
		break;
	case MH_CTL_UNLOAD:
		min = 1;
		max = 2;
		break;
	case MH_CTL_PARAM:
		min = max = 2;
		break;
	default:
		g_assert_not_reached();
	}
	if (nargs < min || nargs > max) {
		*err = g_strdup_printf("%s: usage: %s", nargs < min ?
				       "missing argument" : "too many arguments",
				       c->usage);
		return -EINVAL;
	}

	req->cmd = c->cmd;
	if (c->cmd == MH_CTL_ROUTE || c->cmd == MH_CTL_UNROUTE) {
		ret = parse_route(req, g_ptr_array_index(words, 1), c->usage, err);
		if (ret)
			goto fail;
		return 0;
	}
	if (nargs >= 1) {
		const char *name = g_ptr_array_index(words, 1);

		if (!mh_valid_module_name(name, strlen(name))) {
			g_autofree char *n = clip(name);

			*err = g_strdup_printf("'%s' is not a module name "
					       "(expected [A-Za-z0-9_-]{1,%d})",
					       n, MH_NAME_MAX);
			ret = -EINVAL;
			goto fail;
		}
		req->name = g_strdup(name);
	}
	for (unsigned int i = 2; i < words->len && !ret; i++) {
		const char *w = g_ptr_array_index(words, i);

		if (c->cmd == MH_CTL_UNLOAD) {
			if (strcmp(w, "force")) {
				g_autofree char *cw = clip(w);

				*err = g_strdup_printf("'%s': usage: %s", cw,
						       c->usage);
				ret = -EINVAL;
			} else {
				req->force = true;
			}
		} else {
			ret = parse_assign(req, w, err);
		}
	}
	if (!ret)
		return 0;
fail:
	mh_ctl_req_clear(req);
	return ret;
}
