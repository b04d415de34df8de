// SPDX-License-Identifier: MIT
/*
 * Unit tests for osi_linux's kernel profiles (modules/osi_linux/profile.c):
 * the file form, and the check that refuses a profile lacking anything
 * osi_linux needs, naming every missing or bad key at once.  A profile
 * written and read back is the same profile.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "osi_linux.h"
#include "unit.h"

/* Every key osi_linux needs, with plausible values. */
static const char *const full[] = {
	"task_struct.tasks=2192", "task_struct.pid=2416", "task_struct.tgid=2420",
	"task_struct.comm=2976", "task_struct.real_parent=2432",
	"task_struct.mm=2272", "task_struct.start_time=2776",
	"task_struct.thread_node=2608", "task_struct.signal=3072",
	"signal_struct.thread_head=16", "mm_struct.pgd=72", "mm_struct.mm_mt=0",
	"mm_struct.map_count=104", "mm_struct.start_brk=288", "mm_struct.brk=296",
	"mm_struct.start_stack=304", "maple_tree.ma_root=8",
	"maple_range_64.slot=128", "maple_range_64.slot.n=16",
	"maple_arange_64.slot=80", "maple_arange_64.slot.n=10",
	"vm_area_struct.vm_start=0", "vm_area_struct.vm_end=8",
	"vm_area_struct.vm_mm=16", "vm_area_struct.vm_flags=32",
	"vm_area_struct.vm_file=112", "vm_area_struct.vm_pgoff=104",
	"file.f_path.dentry=24", "file.f_path.mnt=16", "dentry.d_parent=24",
	"dentry.d_name.name=40", "mount.mnt=32", "mount.mnt_parent=16",
	"mount.mnt_mountpoint=24", "vfsmount.mnt_root=0",
	"percpu.current_task=129920", NULL,
};

/* @lines, minus any line starting with @drop, as a profile file. */
static char *write_profile(const char *const *lines, const char *drop,
			   const char *extra)
{
	g_autoptr(GString) s = g_string_new("# a comment\n\n");
	char *path = NULL;
	int fd = g_file_open_tmp("osi-profile-XXXXXX", &path, NULL);

	g_assert_cmpint(fd, >=, 0);
	for (; *lines; lines++)
		if (!drop || strncmp(*lines, drop, strlen(drop)))
			g_string_append_printf(s, "%s\n", *lines);
	if (extra)
		g_string_append(s, extra);
	g_assert_true(g_file_set_contents(path, s->str, -1, NULL));
	close(fd);
	return path;
}

static GHashTable *read_ok(const char *path)
{
	g_autofree char *err = NULL;
	GHashTable *p = osil_profile_read(path, &err);

	g_assert_null(err);
	g_assert_nonnull(p);
	return p;
}

static void test_full(void)
{
	g_autofree char *path = write_profile(full, NULL, "version = Linux version 6.1\n");
	g_autoptr(GHashTable) p = read_ok(path);
	g_autofree char *err = NULL;
	struct osil_layout l;

	g_assert_cmpint(osil_layout_from_profile(p, &l, &err), ==, 0);
	g_assert_cmpuint(l.task_pid, ==, 2416);
	g_assert_cmpuint(l.mr64_slot_n, ==, 16);
	g_assert_cmpuint(l.percpu_current_task, ==, 129920);
	/* Spaces around '=' are dropped. */
	g_assert_cmpstr(l.version, ==, "Linux version 6.1");
	/* Without the kthread and worker keys, names are comm. */
	g_assert_false(l.kthread_names);
	osil_layout_clear(&l);
	g_unlink(path);
}

static void test_missing(void)
{
	g_autofree char *path = write_profile(full, "task_struct.pid=",
					      "mm_struct.pgd=lots\n");
	g_autoptr(GHashTable) p = read_ok(path);
	g_autofree char *err = NULL;
	struct osil_layout l;

	g_assert_cmpint(osil_layout_from_profile(p, &l, &err), ==, -EINVAL);
	/* Every problem at once: one refusal says all that is wrong. */
	assert_error(err, STRV("lacks", "task_struct.pid",
			       "mm_struct.pgd (bad value)"));
	g_assert_null(strstr(err, "task_struct.tgid"));
	g_unlink(path);
}

static void test_not_maple(void)
{
	g_autofree char *path = write_profile(full, "maple_range_64.slot.n=",
					      "maple_range_64.slot.n=64\n");
	g_autoptr(GHashTable) p = read_ok(path);
	g_autofree char *err = NULL;
	struct osil_layout l;

	g_assert_cmpint(osil_layout_from_profile(p, &l, &err), ==, -EINVAL);
	assert_error(err, STRV("maple node slot counts"));
	g_unlink(path);
}

static void test_bad_line(void)
{
	g_autofree char *path = write_profile(full, NULL, "no equals sign\n");
	/* 2 lines of header, the full list, then the bad one. */
	g_autofree char *where = g_strdup_printf("line %u: not key=value",
		2 + g_strv_length((char **)full) + 1);
	g_autofree char *err = NULL;

	g_assert_null(osil_profile_read(path, &err));
	assert_error(err, STRV(path, where));
	g_unlink(path);
}

static void test_binary(void)
{
	g_autofree char *path = NULL;
	g_autofree char *err = NULL;
	int fd = g_file_open_tmp("osi-profile-XXXXXX", &path, NULL);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "a=1\0b=2\n", 8), ==, 8);
	close(fd);
	g_assert_null(osil_profile_read(path, &err));
	assert_error(err, STRV("not a profile"));
	g_unlink(path);
}

static void test_round_trip(void)
{
	g_autofree char *path = write_profile(full, NULL, NULL), *text = NULL;
	g_autofree char *path2 = NULL;
	g_autoptr(GHashTable) p = read_ok(path), p2 = NULL;
	int fd;

	text = osil_profile_write(p);
	fd = g_file_open_tmp("osi-profile-XXXXXX", &path2, NULL);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_assert_true(g_file_set_contents(path2, text, -1, NULL));
	p2 = read_ok(path2);
	g_assert_cmpuint(g_hash_table_size(p2), ==, g_hash_table_size(p));
	g_assert_cmpstr(g_hash_table_lookup(p2, "file.f_path.dentry"), ==, "24");
	g_unlink(path);
	g_unlink(path2);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/osi-profile/full", test_full);
	g_test_add_func("/osi-profile/missing", test_missing);
	g_test_add_func("/osi-profile/not-maple", test_not_maple);
	g_test_add_func("/osi-profile/bad-line", test_bad_line);
	g_test_add_func("/osi-profile/binary", test_binary);
	g_test_add_func("/osi-profile/round-trip", test_round_trip);
	return g_test_run();
}
