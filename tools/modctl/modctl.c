// SPDX-License-Identifier: MIT
/*
 * modctl - lsmod, insmod, rmmod and modinfo for a QEMU running modhost.
 *
 *   modctl [-s SOCK] [--json] COMMAND [ARGS]...
 *   modctl [-s SOCK] --raw < requests
 *
 * It sends one request line to the host's control socket (ctl=PATH) and
 * prints the one-line JSON reply as text, or as it is with --json.  A
 * failed request exits 1 with the host's error on stderr.  "info FILE.so"
 * needs no socket: it reads the file's metadata with the host's own reader
 * (host/loader.c is linked in), like modinfo.
 *
 * See Documentation/modctl.rst.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "modctl.h"

/* Exit statuses: a failed request, and a command line modctl cannot use. */
#define EXIT_FAILED 1
#define EXIT_USAGE 2

static char *opt_socket;
static gboolean opt_json;
static gboolean opt_raw;

static const GOptionEntry options[] = {
	{ "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket,
	  "the host's control socket (default: $MODHOST_CTL)", "SOCK" },
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "print the reply as the host sent it (one JSON object)", NULL },
	{ "raw", 0, 0, G_OPTION_ARG_NONE, &opt_raw,
	  "send standard input as it is, print every reply line", NULL },
	{ NULL },
};

/* "info" also reads a file offline; the host's table does not know. */
static const char info_file_args[] = "FILE.so";
static const char info_file_help[] = "a module file's metadata, offline";

#define HELP_COLUMN 28
#define HELP_WIDTH 76

/* "  usage   help", the help wrapped in its column. */
static void summary_line(GString *s, const char *word, const char *args,
			 const char *help)
{
	g_autofree char *usage = g_strconcat(word, *args ? " " : "", args, NULL);
	g_auto(GStrv) words = g_strsplit(help, " ", -1);
	size_t col;

	g_string_append_printf(s, "  %s", usage);
	col = 2 + strlen(usage);
	for (char **w = words; *w; w++) {
		if (w == words && col < HELP_COLUMN) {
			g_string_append_printf(s, "%*s", (int)(HELP_COLUMN - col), "");
			col = HELP_COLUMN;
		} else if (w == words || col + 1 + strlen(*w) > HELP_WIDTH) {
			g_string_append_printf(s, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		} else {
			g_string_append_c(s, ' ');
			col++;
		}
		g_string_append(s, *w);
		col += strlen(*w);
	}
	g_string_append_c(s, '\n');
}

/* The commands for --help, from the host's own table. */
static char *summary(void)
{
	GString *s = g_string_new("Commands:\n");

	for (const struct mh_ctl_command *c = mh_ctl_commands; c->word; c++) {
		summary_line(s, c->word, c->args, c->help);
		if (c->cmd == MH_CTL_INFO)
			summary_line(s, c->word, info_file_args, info_file_help);
	}
	g_string_append(s, "\n"
		"Exit status: 0 done, 1 the request failed (the host's error on\n"
		"stderr), 2 a bad command line.  See Documentation/modctl.rst.\n");
	return g_string_free(s, FALSE);
}

static void G_GNUC_PRINTF(2, 3) die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("modctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* -- talking to the host ---------------------------------------------- */

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		die(EXIT_USAGE, "%s: socket path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die(EXIT_FAILED, "cannot connect to %s: %s", path,
		    g_strerror(errno));
	return fd;
}

/*
 * Send @len bytes.  false if the host closed the connection first: it
 * closes a client it refuses ("too many clients") right after saying so,
 * and that reply is still there to read.
 */
static bool write_all(int fd, const char *buf, size_t len, const char *what)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return false;
		if (n < 0)
			die(EXIT_FAILED, "%s: %s", what, g_strerror(errno));
		buf += n;
		len -= n;
	}
	return true;
}

/* Send @line and return the reply line, without its newline. */
static char *request(const char *path, const char *line)
{
	g_autoptr(GString) reply = g_string_new(NULL);
	int fd = connect_to(path);
	char buf[4096];

	if (write_all(fd, line, strlen(line), path))
		write_all(fd, "\n", 1, path);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EXIT_FAILED, "%s: %s", path, g_strerror(errno));
		if (n == 0)
			die(EXIT_FAILED, "%s: the host closed the connection "
			    "without a reply", path);
		g_string_append_len(reply, buf, n);
		nl = memchr(reply->str, '\n', reply->len);
		if (nl) {
			g_string_truncate(reply, nl - reply->str);
			break;
		}
	}
	close(fd);
	return g_string_free(g_steal_pointer(&reply), FALSE);
}

/*
 * --raw: copy standard input to the socket as it is, then half-close, and
 * copy every reply to standard output until the host closes.  Both ways at
 * once, so that many requests cannot fill both socket buffers.
 */
static int raw(const char *path)
{
	int fd = connect_to(path);
	struct pollfd p[2] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = fd, .events = POLLIN },
	};
	char buf[4096];

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_FAILED, "poll: %s", g_strerror(errno));
		}
		if (p[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			/* A refused write: stop sending, read why. */
			if (n > 0 ? !write_all(fd, buf, n, path) :
			    n == 0 || errno != EINTR) {
				shutdown(fd, SHUT_WR);
				p[0].fd = -1;
			}
		}
		if (p[1].revents) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n == 0)
				break;
			if (n < 0 && errno != EINTR)
				die(EXIT_FAILED, "%s: %s", path, g_strerror(errno));
			if (n > 0 && fwrite(buf, 1, n, stdout) != (size_t)n)
				die(EXIT_FAILED, "stdout: %s", g_strerror(errno));
			fflush(stdout);
		}
	}
	close(fd);
	return 0;
}

/* -- info FILE.so, offline -------------------------------------------- */

static void add_strs(JsonBuilder *b, const char *key, GPtrArray *strs)
{
	json_builder_set_member_name(b, key);
	json_builder_begin_array(b);
	for (guint i = 0; strs && i < strs->len; i++)
		json_builder_add_string_value(b, g_ptr_array_index(strs, i));
	json_builder_end_array(b);
}

static void add_syms(JsonBuilder *b, const char *key, GPtrArray *syms)
{
	json_builder_set_member_name(b, key);
	json_builder_begin_array(b);
	for (guint i = 0; syms && i < syms->len; i++) {
		const struct mh_meta_sym *s = g_ptr_array_index(syms, i);

		json_builder_begin_object(b);
		if (s->module) {
			json_builder_set_member_name(b, "module");
			json_builder_add_string_value(b, s->module);
		}
		json_builder_set_member_name(b, "name");
		json_builder_add_string_value(b, s->name);
		json_builder_set_member_name(b, "signature");
		json_builder_add_string_value(b, s->sig);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void add_str(JsonBuilder *b, const char *key, const char *val)
{
	json_builder_set_member_name(b, key);
	if (val)
		json_builder_add_string_value(b, val);
	else
		json_builder_add_null_value(b);
}

/* The reply the host would give for a module not loaded, plus ABI fit. */
static JsonNode *file_info(const char *path)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autofree char *why = NULL;
	g_autofree char *abi = NULL;
	g_autofree char *abi_err = NULL;
	struct mh_meta *m = NULL;

	if (mh_meta_read(path, &m, &why))
		die(EXIT_FAILED, "%s: %s", path, why);
	abi = g_strdup_printf("%u.%u", m->abi_major, m->abi_minor);
	mh_meta_check_abi(m, &abi_err);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "ok");
	json_builder_add_boolean_value(b, TRUE);
	add_str(b, "name", m->name);
	add_str(b, "file", path);
	add_str(b, "version", m->version);
	add_str(b, "license", m->license);
	add_str(b, "description", m->description);
	add_str(b, "abi", abi);
	if (abi_err)
		add_str(b, "abi_error", abi_err);
	add_strs(b, "depends", m->depends);
	if (m->targets) {	/* absent: every target */
		json_builder_set_member_name(b, "targets");
		json_builder_begin_array(b);
		for (char **t = m->targets; *t; t++)
			json_builder_add_string_value(b, *t);
		json_builder_end_array(b);
	}
	add_syms(b, "exports", m->exports);
	add_syms(b, "imports", m->imports);
	json_builder_set_member_name(b, "params");
	json_builder_begin_array(b);
	for (guint i = 0; i < m->params->len; i++) {
		const struct mh_param_decl *d = g_ptr_array_index(m->params, i);

		json_builder_begin_object(b);
		add_str(b, "name", d->name);
		add_str(b, "type", mh_ptype_name(d->type));
		add_str(b, "default", d->def);
		add_str(b, "help", d->help);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	mh_meta_free(m);
	return json_builder_get_root(b);
}

/* "info X" names a file when X has a slash or ends in .so. */
static bool is_file_arg(const char *arg)
{
	return strchr(arg, '/') || g_str_has_suffix(arg, ".so");
}

/* -- main ------------------------------------------------------------- */

static int print_reply(const char *cmd, JsonNode *root, const char *line)
{
	JsonObject *o = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root)
						      : NULL;
	JsonNode *ok = o ? json_object_get_member(o, "ok") : NULL;

	if (!ok || json_node_get_value_type(ok) != G_TYPE_BOOLEAN)
		die(EXIT_FAILED, "unexpected reply: %s", line);
	if (!json_node_get_boolean(ok)) {
		JsonNode *e = json_object_get_member(o, "error");

		if (opt_json)
			printf("%s\n", line);
		fprintf(stderr, "modctl: %s\n",
			e && json_node_get_value_type(e) == G_TYPE_STRING ?
			json_node_get_string(e) : line);
		return EXIT_FAILED;
	}
	if (opt_json)
		printf("%s\n", line);
	else
		show_reply(cmd, o);
	return 0;
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) gerr = NULL;
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GString) line = NULL;
	g_autofree char *reply = NULL;
	g_autofree char *help = summary();
	const struct mh_ctl_command *c;
	const char *sock;
	unsigned int nargs;

	ctx = g_option_context_new("COMMAND [ARGS]... - control a running modhost");
	g_option_context_add_main_entries(ctx, options, NULL);
	g_option_context_set_description(ctx, help);
	if (!g_option_context_parse(ctx, &argc, &argv, &gerr))
		die(EXIT_USAGE, "%s (try --help)", gerr->message);

	sock = opt_socket ? opt_socket : g_getenv("MODHOST_CTL");
	if (opt_raw) {
		if (argc > 1)
			die(EXIT_USAGE, "--raw takes no command: requests come "
			    "from standard input");
		if (!sock)
			die(EXIT_USAGE, "no socket: give -s SOCK or set MODHOST_CTL");
		return raw(sock);
	}
	if (argc < 2)
		die(EXIT_USAGE, "no command (try --help)");
	c = mh_ctl_command_find(argv[1]);
	if (!c)
		die(EXIT_USAGE, "unknown command '%s' (try --help)", argv[1]);
	nargs = argc - 2;
	if (nargs < c->min_args || nargs > c->max_args) {
		g_autofree char *usage = mh_ctl_usage(c);

		die(EXIT_USAGE, "usage: modctl %s%s", usage,
		    c->cmd == MH_CTL_INFO ? "|FILE.so" : "");
	}

	if (c->cmd == MH_CTL_INFO && is_file_arg(argv[2])) {
		g_autoptr(JsonNode) root = file_info(argv[2]);
		g_autofree char *text = json_to_string(root, FALSE);

		return print_reply("info", root, text);
	}

	/* The protocol's words are separated by blanks: none inside one. */
	line = g_string_new(c->word);
	for (int i = 2; i < argc; i++) {
		for (const char *p = argv[i]; *p; p++) {
			if (g_ascii_isspace(*p) || g_ascii_iscntrl(*p))
				die(EXIT_USAGE, "'%s': an argument cannot hold "
				    "blanks or control characters", argv[i]);
		}
		g_string_append_printf(line, " %s", argv[i]);
	}
	if (!sock)
		die(EXIT_USAGE, "no socket: give -s SOCK or set MODHOST_CTL");

	reply = request(sock, line->str);
	parser = json_parser_new();
	if (!json_parser_load_from_data(parser, reply, -1, &gerr))
		die(EXIT_FAILED, "unreadable reply (%s): %s", gerr->message, reply);
	return print_reply(c->word, json_parser_get_root(parser), reply);
}
