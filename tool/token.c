/* danemsg token: a login token for a broker that checks identities in DNS
 * (docs/broker-auth.md); and the login of send and listen with --auth dane. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <danemsg.h>

#include "cli.h"
#include "mqtt.h"

static const char token_usage[] =
	"usage: danemsg token NAME [--audience BROKER] [--lifetime S] [--issued-at T] [--dir DIR]\n"
	"Prints a login token for NAME (a compact JWS signed with NAME's key): the MQTT\n"
	"password, with NAME as the user name, for a broker with the danemsg plugin.\n"
	"  --audience BROKER  the broker's name, as its plugin is configured\n"
	"                     (env DANEMSG_BROKER_AUDIENCE; required)\n"
	"  --lifetime S       seconds the token is valid, 1 to 300 (default 300)\n"
	"  --issued-at T      its iat, Unix seconds (default now; for clocks known to be off)\n"
	"  --dir DIR          the identity folder (env DANEMSG_DIR or CRYPTO_PATH;\n"
	"                     default ~/.danemsg)\n"
	"  -h, --help         this text\n";

static const char *const audience_vars[] = {"DANEMSG_BROKER_AUDIENCE", NULL};

int cmd_token(int argc, char **argv)
{
	static const struct option options[] = {
		{"audience", required_argument, NULL, 'a'},
		{"lifetime", required_argument, NULL, 'l'},
		{"issued-at", required_argument, NULL, 'i'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir_option = NULL, *audience = NULL, *dir, *name;
	unsigned long lifetime = DANEMSG_TOKEN_MAX_LIFETIME, iat = 0;
	danemsg_credential *cred = NULL;
	char *token = NULL;
	danemsg_err err;
	int opt;

	optind = 1;
	while ((opt = cli_getopt(argc, argv, options)) != -1) {
		int bad = 0;
		switch (opt) {
		case 'a': audience = optarg; break;
		case 'l':
			bad = cli_parse_uint(optarg, "--lifetime", 1, DANEMSG_TOKEN_MAX_LIFETIME,
					     &lifetime);
			break;
		case 'i': bad = cli_parse_uint(optarg, "--issued-at", 1, 1UL << 40, &iat); break;
		case 'd': dir_option = optarg; break;
		case 'h': fputs(token_usage, stdout); return EXIT_OK_;
		default: bad = 1; break;
		}
		if (bad)
			return EXIT_USAGE;
	}
	if (!(name = cli_name_operand(argc, argv, dir_option, &dir)))
		return EXIT_USAGE;
	if (!audience && !(audience = cli_env(audience_vars))) {
		cli_error("token: give the broker's name with --audience (or "
			  "DANEMSG_BROKER_AUDIENCE)");
		return EXIT_USAGE;
	}
	if ((err = cli_credential_load(dir, name, &cred)))
		return cli_exit_code(err);
	err = danemsg_token_make(cred, audience, (uint32_t)lifetime, (int64_t)iat, &token);
	danemsg_credential_free(cred);
	if (err) {
		cli_error("token: %s%s", danemsg_strerror(err), err == DANEMSG_ERR_INVALID_ARG ?
			  " (the audience is 1 to 253 printable characters)" : "");
		return cli_exit_code(err);
	}
	printf("%s\n", token);
	free(token);
	return fflush(stdout) == 0 ? EXIT_OK_ : EXIT_FAILURE_;
}

int cli_mqtt_login(struct mosquitto *m, const struct cli_mqtt_opts *o, const struct cli_broker *b)
{
	const char *audience = o->audience ? o->audience : cli_env(audience_vars);
	char *token = NULL;
	danemsg_err err;
	int rc;

	if (!o->auth_dane)
		return 0;
	if (!audience)
		audience = b->host;   /* the broker's own name, when nobody said otherwise */
	if (!o->login || (err = danemsg_token_make(o->login, audience, 0, 0, &token))) {
		cli_error("--auth dane: cannot make a login token: %s",
			  o->login ? danemsg_strerror(err) : "no identity");
		return -1;
	}
	rc = mosquitto_username_pw_set(m, danemsg_credential_name(o->login), token);
	free(token);
	if (rc)
		cli_error("--auth dane: %s", mosquitto_strerror(rc));
	return rc ? -1 : 0;
}
