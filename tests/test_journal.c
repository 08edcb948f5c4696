/* The listener's delivery journal (tool/listen/journal.c): records read back, a torn last record
 * repaired, damage refused, a short append cut back, no link followed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"
#include "journal.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char path[512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = tu_tempdir();
	snprintf(f->path, sizeof(f->path), "%s/journal", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(fputs(text, out) >= 0, 1);
	fclose(out);
}

static char *read_file(const char *path)
{
	static char buf[65536];
	FILE *in = fopen(path, "r");
	size_t n;
	assert_non_null(in);
	n = fread(buf, 1, sizeof(buf) - 1, in);
	buf[n] = '\0';
	fclose(in);
	return buf;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;
	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static struct journal_entry entry(const char *sender, const char *id, uint8_t tag)
{
	int64_t now = (int64_t)time(NULL);
	struct journal_entry e = {now + 600, sender, id, {0}, tag, now + 3600};
	memset(e.sha256, tag, sizeof(e.sha256));
	return e;
}

/* Does the journal at path give these ids to a replay cache, and these payloads? */
static void assert_remembered(const char *path, const char *const *ids, size_t n,
			      uint8_t first_tag)
{
	danemsg_replay_cache *replay = NULL;
	struct journal *j = NULL;
	int64_t now = (int64_t)time(NULL);
	int mid;
	assert_int_equal(danemsg_replay_cache_new(100, &replay), DANEMSG_OK);
	assert_int_equal(journal_open(path, replay, 100, &j), EXIT_OK_);
	danemsg_replay_ops ops = danemsg_replay_cache_ops(replay);
	assert_int_equal(danemsg_replay_cache_count(replay), n);
	for (size_t i = 0; i < n; i++) {
		uint8_t sha[32];
		memset(sha, first_tag + (int)i, sizeof(sha));
		assert_int_equal(ops.check_and_add(ops.ctx, "a.example.", ids[i], now + 600, now),
				 DANEMSG_ERR_REPLAYED);
		assert_int_equal(journal_delivered(j, sha, &mid), 1);
		assert_int_equal(mid, first_tag + (int)i);
	}
	journal_close(j);
	danemsg_replay_cache_free(replay);
}

/* Any id round-trips: escaped on its line. */
static void test_records_read_back(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = {"8815Y8gSkE1iuu0Ie2or8w", "new\nline", "two  spaces",
					  "100%", "\x1b[2J"};
	struct journal *j = NULL;
	struct stat st;
	assert_int_equal(journal_open(f->path, NULL, 100, &j), EXIT_OK_);
	for (size_t i = 0; i < 5; i++) {
		struct journal_entry e = entry("a.example.", ids[i], (uint8_t)(1 + i));
		assert_int_equal(journal_record(j, &e), 0);
	}
	journal_close(j);
	assert_int_equal(count_lines(read_file(f->path)), 5);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_remembered(f->path, ids, 5, 1);
}

/* A torn last record (an append cut short by a crash) is dropped and the file repaired,
 * so that the next record is not glued to it; damage anywhere else stops the listener. */
static void test_torn_tail_repaired_damage_refused(void **state)
{
	struct fixture *f = *state;
	char good[2][200];
	int64_t now = (int64_t)time(NULL);
	for (int i = 0; i < 2; i++)
		snprintf(good[i], sizeof(good[i]), "%lld a.example. id%d %064x %d %lld\n",
			 (long long)now + 600, i + 1, 0, i + 1, (long long)now + 3600);
	/* the payload hashes are all zero here: only the ids are checked */
	static const struct { const char *tail; int opens; size_t lines; } cases[] = {
		{"", 1, 2},
		{"1700000000 a.example. id", 1, 2},                /* torn */
		{"\0\0\0\0", 1, 2},                                 /* a crash's zeros */
		{"x\n", 0, 0},                                      /* damaged */
		{"1700000000 a.example. idX 00 1 1700000000\n", 0, 0},
		{"1 a.example. id 0000000000000000000000000000000000000000000000000000000000000000 "
		 "70000 1\n", 0, 0},                                /* packet id out of range */
		/* escaped new line: fine */
		{"1 a.example. i%0Ad "
		 "0000000000000000000000000000000000000000000000000000000000000000 1 1\n", 1, 2},
		/* NUL */
		{"1 a.example. i%00d "
		 "0000000000000000000000000000000000000000000000000000000000000000 1 1\n", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1000];
		struct journal *j = NULL;
		int rc;
		printf("case %zu\n", i);
		snprintf(text, sizeof(text), "%s%s%s", good[0], cases[i].tail, good[1]);
		if (i == 1 || i == 2) {   /* torn at the end, not in the middle */
			snprintf(text, sizeof(text), "%s%s", good[0], good[1]);
			FILE *out = fopen(f->path, "w");
			fputs(text, out);
			fwrite(cases[i].tail, 1, i == 2 ? 4 : strlen(cases[i].tail), out);
			fclose(out);
		} else {
			write_file(f->path, text);
		}
		rc = journal_open(f->path, NULL, 100, &j);
		assert_int_equal(rc == EXIT_OK_, cases[i].opens);
		if (rc == EXIT_OK_) {
			struct journal_entry e = entry("a.example.", "id3", 3);
			assert_int_equal(journal_record(j, &e), 0);
			journal_close(j);
			/* every line whole: the new record is not glued to the torn one */
			const char *back = read_file(f->path);
			assert_int_equal(count_lines(back), cases[i].lines + 1);
			assert_int_equal(back[strlen(back) - 1], '\n');
			assert_int_equal(journal_open(f->path, NULL, 100, &j), EXIT_OK_);
			journal_close(j);
		} else {
			assert_string_equal(read_file(f->path), text);   /* left as it was */
		}
	}
}

/* Appends e with room for only 20 more bytes in the file (the disk full in the middle of
 * an append makes the same short write): it fails, and the file is cut back at once. */
static void record_without_room(struct journal *j, const char *path,
				const struct journal_entry *e)
{
	struct rlimit old, small;
	struct stat st;
	off_t before;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(stat(path, &st), 0);
	before = st.st_size;
	getrlimit(RLIMIT_FSIZE, &old);
	small = old;
	small.rlim_cur = (rlim_t)before + 20;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(journal_record(j, e), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, before);   /* no half record left */
}

/* A record that could not be written waits in memory and goes first, whole, once there is
 * room: with the next record, or when the journal is closed. */
static void test_short_append_cut_back_and_kept(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = {"first", "second", "third", "fourth"};
	struct journal_entry e[4];
	struct journal *j = NULL;
	for (int i = 0; i < 4; i++)
		e[i] = entry("a.example.", ids[i], (uint8_t)(1 + i));
	assert_int_equal(journal_open(f->path, NULL, 100, &j), EXIT_OK_);
	assert_int_equal(journal_record(j, &e[0]), 0);
	record_without_room(j, f->path, &e[1]);
	assert_int_equal(journal_record(j, &e[2]), 0);
	assert_int_equal(count_lines(read_file(f->path)), 3);
	record_without_room(j, f->path, &e[3]);
	journal_close(j);
	assert_int_equal(count_lines(read_file(f->path)), 4);
	assert_remembered(f->path, ids, 4, 1);
}

/* A state file is never written through a link: not the journal, not its temporary. */
static void test_no_link_followed(void **state)
{
	struct fixture *f = *state;
	char victim[600], tmp[600];
	struct journal *j = NULL;
	snprintf(victim, sizeof(victim), "%s/victim", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	write_file(victim, "precious\n");
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(journal_open(f->path, NULL, 100, &j), EXIT_OK_);
	journal_close(j);
	assert_string_equal(read_file(victim), "precious\n");
	unlink(f->path);
	assert_int_equal(symlink(victim, f->path), 0);
	assert_int_equal(journal_open(f->path, NULL, 100, &j), EXIT_FAILURE_);
	assert_string_equal(read_file(victim), "precious\n");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_records_read_back),
		T(test_torn_tail_repaired_damage_refused),
		T(test_short_append_cut_back_and_kept),
		T(test_no_link_followed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
