/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests. */
#ifndef MODHOST_TESTS_UNIT_H
#define MODHOST_TESTS_UNIT_H

#include <glib.h>
#include <string.h>

/* A NULL-terminated string array. */
#define STRV(...) ((const char *const[]){ __VA_ARGS__, NULL })

#define assert_contains(s, needle)					\
	do {								\
		const char *s_ = (s), *n_ = (needle);			\
		if (!s_ || !strstr(s_, n_)) {				\
			g_autofree char *m_ = g_strdup_printf(		\
				"\"%s\" does not contain \"%s\"",	\
				s_ ? s_ : "(null)", n_);		\
			g_assertion_message(G_LOG_DOMAIN, __FILE__,	\
					    __LINE__, G_STRFUNC, m_);	\
		}							\
	} while (0)

/* @err is a message that contains each of @needles. */
static inline void assert_error(const char *err, const char *const *needles)
{
	g_assert_nonnull(err);
	g_assert_cmpstr(err, !=, "");
	for (; needles && *needles; needles++)
		assert_contains(err, *needles);
}

#endif /* MODHOST_TESTS_UNIT_H */
