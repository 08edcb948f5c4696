/* The configuration file: defaults for the long options, below flags and environment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"

#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_ENTRIES 256

struct config_entry {
	char *key, *value;
	unsigned line;
};

struct cli_config {
	char *path;
	mode_t mode;
	struct config_entry entries[CONFIG_MAX_ENTRIES];
	size_t n;
};

/* Environment variables that give a setting, between flags and the file. */
static const struct {
	const char *key;
	const char *vars[3];
} env_settings[] = {
	{"broker", {"DANEMSG_BROKER", "MQTT_HOST", NULL}},
	{"dir", {"DANEMSG_DIR", "CRYPTO_PATH", NULL}},
	{"as", {"IDENTITY_NAME", NULL}},
	{"from", {"IDENTITY_NAME", NULL}},
	{"resolver", {"DANEMSG_RESOLVER", NULL}},
	{"trust-anchor", {"DANEMSG_TRUST_ANCHOR", NULL}},
	{"allow-insecure", {"DANEMSG_ALLOW_INSECURE", NULL}},
	{"username", {"DANEMSG_MQTT_USERNAME", NULL}},
	{"password", {"DANEMSG_MQTT_PASSWORD", NULL}},
};

/* Every key some command takes: anything else in the file is a typo worth a warning. */
static const char *const known_keys[] = {
	"allow", "allow-insecure", "as", "at", "broker", "cache-max-ttl", "cafile",
	"capath", "cert", "client-id", "compat", "count", "dir", "exec", "exec-timeout",
	"expires", "format", "from", "keepalive", "key", "max-age", "max-size", "mqtt",
	"no-compat", "offline", "password", "quarantine-max", "resolver", "retry",
	"root-anchor", "session-expiry", "state", "timeout", "timeout-broker", "topic",
	"trust-anchor", "username", "with-chain", "workers", "zone-file", NULL,
};

static char *trim(char *s)
{
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
			   end[-1] == '\n'))
		*--end = '\0';
	return s;
}

static int add_entry(struct cli_config *c, const char *key, const char *value, unsigned line)
{
	struct config_entry *e;
	if (c->n == CONFIG_MAX_ENTRIES) {
		cli_error("%s:%u: more than %d settings", c->path, line, CONFIG_MAX_ENTRIES);
		return EXIT_USAGE;
	}
	e = &c->entries[c->n];
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = line;
	if (!e->key || !e->value) {
		free(e->key);
		free(e->value);
		cli_error("out of memory");
		return EXIT_FAILURE_;
	}
	c->n++;
	return EXIT_OK_;
}

static int parse_file(struct cli_config *c, FILE *f)
{
	char buf[CONFIG_MAX_LINE];
	unsigned line = 0;
	int rc = EXIT_OK_;

	while (rc == EXIT_OK_ && fgets(buf, sizeof(buf), f)) {
		char *s, *eq, *key;
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			cli_error("%s:%u: line too long", c->path, line);
			return EXIT_USAGE;
		}
		s = trim(buf);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			cli_error("%s:%u: expected 'key = value'", c->path, line);
			return EXIT_USAGE;
		}
		*eq = '\0';
		key = trim(s);
		if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz-") != strlen(key)) {
			cli_error("%s:%u: '%s' is not a setting name", c->path, line, key);
			return EXIT_USAGE;
		}
		rc = add_entry(c, key, trim(eq + 1), line);
	}
	if (ferror(f)) {
		cli_error("%s: read error", c->path);
		return EXIT_FAILURE_;
	}
	return rc;
}

int cli_config_load(const char *path, struct cli_config **out)
{
	char def[4096];
	const char *home = getenv("HOME");
	struct stat st;
	FILE *f;
	int rc;

	*out = NULL;
	if (!path) {
		int n = home && *home ? snprintf(def, sizeof(def), "%s/.config/danemsg/config",
						 home) : -1;
		if (n < 0 || n >= (int)sizeof(def))
			return EXIT_OK_;
		if (stat(def, &st) && errno == ENOENT)
			return EXIT_OK_;
		path = def;
	}
	f = fopen(path, "r");
	if (!f) {
		cli_error("%s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	rc = cli_config_parse(f, path, out);
	if (!rc && !fstat(fileno(f), &st))
		(*out)->mode = st.st_mode;
	fclose(f);
	return rc;
}

int cli_config_parse(FILE *f, const char *name, struct cli_config **out)
{
	struct cli_config *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c || !(c->path = strdup(name))) {
		free(c);
		cli_error("out of memory");
		return EXIT_FAILURE_;
	}
	rc = parse_file(c, f);
	if (rc) {
		cli_config_free(c);
		return rc;
	}
	*out = c;
	return EXIT_OK_;
}

void cli_config_free(struct cli_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->path);
	free(c);
}

static int env_sets(const char *key)
{
	for (size_t i = 0; i < sizeof(env_settings) / sizeof(env_settings[0]); i++)
		if (!strcmp(env_settings[i].key, key))
			return cli_env(env_settings[i].vars) != NULL;
	return 0;
}

static int known(const char *key)
{
	for (const char *const *k = known_keys; *k; k++)
		if (!strcmp(*k, key))
			return 1;
	return 0;
}

/* For an option without argument: 1 on, 0 off, -1 neither. */
static int boolean(const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		return 1;
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		return 0;
	return -1;
}

int cli_config_apply(const struct cli_config *c, const struct option *longopts,
		     const struct cli_seen *seen, cli_option_fn apply, void *ctx)
{
	for (size_t i = 0; c && i < c->n; i++) {
		const struct config_entry *e = &c->entries[i];
		const struct option *o = longopts;
		const char *value = e->value;
		int rc;

		while (o->name && strcmp(o->name, e->key))
			o++;
		if (!o->name || !strcmp(e->key, "help") || !strcmp(e->key, "config")) {
			if (!known(e->key))
				fprintf(stderr, "danemsg: %s:%u: unknown setting '%s' (ignored)\n",
					c->path, e->line, e->key);
			continue;
		}
		if ((o->val >= 0 && o->val < CLI_OPT_CODES && seen->flag[o->val]) ||
		    env_sets(e->key))
			continue;
		if (!strcmp(e->key, "password") && (c->mode & 077))
			fprintf(stderr, "danemsg: WARNING: %s holds a password and others may read "
					"it (chmod 600)\n", c->path);
		if (o->has_arg == no_argument) {
			int on = boolean(value);
			if (on < 0) {
				cli_error("%s:%u: %s takes yes or no, not '%s'", c->path, e->line,
					  e->key, value);
				return EXIT_USAGE;
			}
			if (!on)
				continue;
			value = NULL;
		} else if (!*value) {
			cli_error("%s:%u: %s needs a value", c->path, e->line, e->key);
			return EXIT_USAGE;
		}
		rc = apply(ctx, o->val, value);
		if (rc) {
			fprintf(stderr, "danemsg: (in %s:%u)\n", c->path, e->line);
			return rc;
		}
	}
	return EXIT_OK_;
}

int cli_config_getopt(int argc, char **argv, const struct option *longopts,
		      struct cli_seen *seen, cli_option_fn apply, void *ctx)
{
	int opt, rc;
	optind = 1;
	while ((opt = cli_getopt(argc, argv, longopts)) != -1) {
		if (opt == 'h')
			return -1;
		if (opt == CLI_OPT_BAD_VALUE)
			return EXIT_USAGE;
		cli_seen_mark(seen, opt);
		if ((rc = apply(ctx, opt, optarg)))
			return rc;
	}
	return EXIT_OK_;
}
