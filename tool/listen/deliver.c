/* Delivery of opened messages: standard output (text or JSON) or a command. */
#define _GNU_SOURCE   /* posix_spawn_file_actions_addclosefrom_np */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "message_io.h"
#include "spool.h"

extern char **environ;

static pthread_mutex_t stdout_lock = PTHREAD_MUTEX_INITIALIZER;

/* The name without its trailing dot, as the reference prints it. */
static void display_name(const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	snprintf(out, len, "%.*s", (int)n, name);
}

static int write_stdout(const char *a, size_t alen, const void *b, size_t blen,
			const char *c, size_t clen, char *why, size_t whylen)
{
	int ok, saved;
	pthread_mutex_lock(&stdout_lock);
	clearerr(stdout);
	errno = 0;
	ok = fwrite(a, 1, alen, stdout) == alen && fwrite(b, 1, blen, stdout) == blen &&
	     fwrite(c, 1, clen, stdout) == clen;
	ok = fflush(stdout) == 0 && ok;
	saved = errno;
	pthread_mutex_unlock(&stdout_lock);
	if (ok)
		return 0;
	snprintf(why, whylen, "cannot write to standard output: %s", strerror(saved));
	return saved == EPIPE ? DELIVER_GONE : -1;
}

/* One message, one line: the payload escaped (cli_escape_text), so that no payload can
 * print a line that looks like another sender's. */
static int deliver_text(const danemsg_message *m, char *why, size_t whylen)
{
	char from[300], prefix[320], *text;
	size_t len;
	const uint8_t *payload = danemsg_message_payload(m, &len);
	int rc;
	display_name(danemsg_message_from(m), from, sizeof(from));
	snprintf(prefix, sizeof(prefix), "%s says: ", from);
	if (!(text = cli_escape_text(payload, len, &len))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	rc = write_stdout(prefix, strlen(prefix), text, len, "\n", 1, why, whylen);
	free(text);
	return rc;
}

static int deliver_json(const danemsg_message *m, char *why, size_t whylen)
{
	json_t *o = cli_message_json(m);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int rc;
	json_decref(o);
	if (!text) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	rc = write_stdout("", 0, text, strlen(text), "\n", 1, why, whylen);
	free(text);
	return rc;
}

/* ---- --exec ---- */

#define FACTS 8

static const char *const fact_names[] = {
	"DANEMSG_FROM=", "DANEMSG_TO=", "DANEMSG_JTI=", "DANEMSG_DNSSEC=", "DANEMSG_FORMAT=",
	"DANEMSG_ALG=", "DANEMSG_IAT=", "DANEMSG_EXP=", NULL,
};

static int is_fact(const char *entry)
{
	for (const char *const *f = fact_names; *f; f++)
		if (!strncmp(entry, *f, strlen(*f)))
			return 1;
	return 0;
}

/* environ without our variables, then ours. Freed with free_env. */
static char **make_env(const struct deliver_opts *o, const danemsg_message *m)
{
	char name[300], me[300], num[32];
	const char *facts[FACTS][2];
	size_t n = 0, k = 0;
	char **env;

	display_name(danemsg_message_from(m), name, sizeof(name));
	display_name(o->me, me, sizeof(me));
	facts[k][0] = "DANEMSG_FROM";
	facts[k++][1] = name;
	facts[k][0] = "DANEMSG_TO";
	facts[k++][1] = me;
	facts[k][0] = "DANEMSG_JTI";
	facts[k++][1] = danemsg_message_id(m);
	facts[k][0] = "DANEMSG_DNSSEC";
	facts[k++][1] = danemsg_dnssec_name(danemsg_message_dnssec(m));
	facts[k][0] = "DANEMSG_FORMAT";
	facts[k++][1] = danemsg_message_format(m) == DANEMSG_FORMAT_COMPAT ? "compat" : "native";
	facts[k][0] = "DANEMSG_ALG";
	facts[k++][1] = danemsg_message_sig_alg(m);
	for (char **e = environ; *e; e++)
		n++;
	env = calloc(n + FACTS + 1, sizeof(*env));
	if (!env)
		return NULL;
	n = 0;
	for (char **e = environ; *e; e++)
		if (!is_fact(*e))   /* the listener's own would be taken for the message's */
			env[n++] = strdup(*e);
	for (size_t i = 0; i < k; i++) {
		size_t len;
		if (!facts[i][1])
			facts[i][1] = "";
		len = strlen(facts[i][0]) + strlen(facts[i][1]) + 2;
		if ((env[n] = malloc(len)))
			snprintf(env[n++], len, "%s=%s", facts[i][0], facts[i][1]);
	}
	if (danemsg_message_iat(m)) {
		snprintf(num, sizeof(num), "DANEMSG_IAT=%" PRId64, danemsg_message_iat(m));
		env[n++] = strdup(num);
	}
	if (danemsg_message_exp(m)) {
		snprintf(num, sizeof(num), "DANEMSG_EXP=%" PRId64, danemsg_message_exp(m));
		env[n++] = strdup(num);
	}
	for (size_t i = 0; i < n; i++)
		if (!env[i]) {   /* out of memory: compact the holes away */
			for (size_t j = i; j + 1 < n; j++)
				env[j] = env[j + 1];
			n--;
			i--;
		}
	env[n] = NULL;
	return env;
}

static void free_env(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}

/* Writes the payload to the command's stdin; gives up at the deadline or when the
 * command stops reading (it may not want it). */
static void feed(int fd, const uint8_t *p, size_t len, int64_t deadline)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {fd, POLLOUT, 0};
			int64_t left = (deadline - spool_mono_ns()) / 1000000;
			if (left <= 0 || poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) < 0)
				return;
			continue;
		}
		return;   /* EPIPE: it exited or closed stdin */
	}
}

static int spawn(const char *cmd, char **env, int stdin_fd, pid_t *pid)
{
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	int rc;

	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGHUP);
	sigaddset(&deflt, SIGUSR1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setpgroup(&attr, 0);   /* its own group: killed as one on timeout, and
						* a ^C for the listener is not its */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					       POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

static int deliver_exec(const struct deliver_opts *o, const danemsg_message *m, char *why,
			size_t whylen)
{
	int64_t deadline = spool_mono_ns() + (int64_t)o->exec_timeout * 1000000000;
	char **env = make_env(o, m);
	size_t len;
	const uint8_t *payload = danemsg_message_payload(m, &len);
	int in[2], rc, status = 0;
	pid_t pid;

	if (!env || pipe2(in, O_CLOEXEC)) {
		snprintf(why, whylen, "cannot run the command: %s", strerror(errno));
		free_env(env);
		return -1;
	}
	pthread_mutex_lock(&stdout_lock);
	fflush(stdout);   /* what it prints comes after what we printed */
	pthread_mutex_unlock(&stdout_lock);
	rc = spawn(o->exec, env, in[0], &pid);
	close(in[0]);
	free_env(env);
	if (rc) {
		close(in[1]);
		snprintf(why, whylen, "cannot run /bin/sh: %s", strerror(rc));
		return -1;
	}
	feed(in[1], payload, len, deadline);
	close(in[1]);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (spool_mono_ns() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			snprintf(why, whylen, "the command did not finish within %u s: killed",
				 o->exec_timeout);
			return -1;
		}
		struct timespec pause = {0, 5000000};
		nanosleep(&pause, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(why, whylen, "the command exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(why, whylen, "the command was killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, whylen, "the command failed");
	return -1;
}

int deliver_message(const struct deliver_opts *o, const danemsg_message *m, char *why,
		    size_t whylen)
{
	why[0] = '\0';
	switch (o->format) {
	case DELIVER_JSON: return deliver_json(m, why, whylen);
	case DELIVER_EXEC: return deliver_exec(o, m, why, whylen);
	default: return deliver_text(m, why, whylen);
	}
}
