/* SPDX-License-Identifier: MIT */
/* What modctl's files share. */
#ifndef MODHOST_MODCTL_H
#define MODHOST_MODCTL_H

#include <json-glib/json-glib.h>

/*
 * Print the successful reply @reply to @cmd (a control socket command) as
 * text on stdout: a table like lsmod's, or modinfo-style lines.
 */
void show_reply(const char *cmd, JsonObject *reply);

#endif /* MODHOST_MODCTL_H */
