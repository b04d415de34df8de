// SPDX-License-Identifier: MIT
/*
 * The control socket's request grammar.
 *
 * A request is one line of words separated by spaces or tabs: a command
 * word and its arguments, as mh_ctl_commands[] lists them.
 *
 * This file is pure (no I/O, no host state) so that the unit tests
 * (tests/unit/test-ctlparse.c), a libFuzzer target (tests/fuzz/ctl-parse.c)
 * and modctl, for its usage text, can use it.
 * Whatever it gets, it either fills a request or returns -EINVAL with one
 * line saying why; an error message never quotes more than a bounded,
 * printable part of the input, so the reply stays short and valid JSON.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/*
 * The commands, their words and what modctl --help says of them: the one
 * place a command is described (modctl links this file).
 */
const struct mh_ctl_command mh_ctl_commands[] = {
	{ "list", MH_CTL_LIST, 0, 0, "",
	  "live modules, in load order (lsmod)" },
	{ "info", MH_CTL_INFO, 1, 1, "NAME",
	  "a module's metadata and state (modinfo)" },
	{ "load", MH_CTL_LOAD, 1, G_MAXUINT, "NAME [KEY=VALUE]...",
	  "load NAME.so from the module directory with these parameters "
	  "(insmod)" },
	{ "unload", MH_CTL_UNLOAD, 1, 2, "NAME [force]",
	  "unload; force: even if modules use it (rmmod)" },
	{ "reload", MH_CTL_RELOAD, 1, 1, "NAME",
	  "reload from its file, handing state over" },
	{ "param", MH_CTL_PARAM, 2, 2, "NAME KEY=VALUE",
	  "set a parameter for the next load or reload" },
	{ "stats", MH_CTL_STATS, 0, 0, "", "per-module accounting" },
	{ "symbols", MH_CTL_SYMBOLS, 0, 0, "",
	  "exported symbols and callback points" },
	{ "routes", MH_CTL_ROUTES, 0, 0, "", "hypercall routes" },
	{ "route", MH_CTL_ROUTE, 1, 1, "0xMAGIC:MODULE.SYMBOL",
	  "route a hypercall magic to an exported symbol (like the "
	  "plugin's route=)" },
	{ "unroute", MH_CTL_UNROUTE, 1, 1, "0xMAGIC", "remove such a route" },
	{ .word = NULL },
};

const struct mh_ctl_command *mh_ctl_command_find(const char *word)
{
	for (const struct mh_ctl_command *c = mh_ctl_commands; c->word; c++) {
		if (!strcmp(word, c->word))
			return c;
	}
	return NULL;
}

char *mh_ctl_usage(const struct mh_ctl_command *c)
{
	return g_strconcat(c->word, *c->args ? " " : "", c->args, NULL);
}

/* "list, info, ... or unroute", for the unknown command's message. */
static char *command_words(void)
{
	GString *s = g_string_new(NULL);

	for (const struct mh_ctl_command *c = mh_ctl_commands; c->word; c++) {
		if (c != mh_ctl_commands)
			g_string_append(s, c[1].word ? ", " : " or ");
		g_string_append(s, c->word);
	}
	return g_string_free(s, FALSE);
}

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
 * route 0xMAGIC:MODULE.SYMBOL or unroute 0xMAGIC, by the parsers of the
 * plugin's route=, so that both take the same routes and refuse the rest
 * for the same reasons.  The request's line limit is the only length
 * limit, as QEMU's argument length is route='s; those parsers quote at
 * most a magic's 8 digits, and the word is clipped here.
 */
static int parse_route(struct mh_ctl_req *req, const struct mh_ctl_command *c,
		       const char *word, char **err)
{
	g_autofree char *why = NULL;
	g_autofree char *w = NULL;
	int ret;

	if (req->cmd == MH_CTL_UNROUTE && strchr(word, ':')) {
		g_autofree char *usage = mh_ctl_usage(c);

		w = clip(word);
		*err = g_strdup_printf("'%s': usage: %s", w, usage);
		return -EINVAL;
	}
	ret = req->cmd == MH_CTL_ROUTE ?
	      mh_route_parse(word, &req->magic, &req->name, &req->symbol, &why) :
	      mh_magic_parse(word, strlen(word), &req->magic, &why);
	if (ret) {
		w = clip(word);
		*err = g_strdup_printf("'%s': %s", w, why);
	}
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
	const struct mh_ctl_command *c;
	unsigned int nargs;
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
	c = mh_ctl_command_find(g_ptr_array_index(words, 0));
	if (!c) {
		g_autofree char *w = clip(g_ptr_array_index(words, 0));
		g_autofree char *known = command_words();

		*err = g_strdup_printf("unknown command '%s' (expected %s)", w,
				       known);
		return -EINVAL;
	}

	nargs = words->len - 1;
	if (nargs < c->min_args || nargs > c->max_args) {
		g_autofree char *usage = mh_ctl_usage(c);

		*err = g_strdup_printf("%s: usage: %s", nargs < c->min_args ?
				       "missing argument" : "too many arguments",
				       usage);
		return -EINVAL;
	}

	req->cmd = c->cmd;
	if (c->cmd == MH_CTL_ROUTE || c->cmd == MH_CTL_UNROUTE) {
		ret = parse_route(req, c, g_ptr_array_index(words, 1), err);
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
				g_autofree char *usage = mh_ctl_usage(c);

				*err = g_strdup_printf("'%s': usage: %s", cw,
						       usage);
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
