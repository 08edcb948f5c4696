/* danemsg id: the identity subcommands. */
#include <stddef.h>

#include "cli.h"

static const struct cli_command id_commands[] = {
	{"show", id_show, "look up NAME's TLSA records in DNS, validated with DNSSEC"},
	{"new", id_new, "create a key and a self-signed certificate for NAME"},
	{"csr", id_csr, "write a certificate signing request for NAME"},
	{"import", id_import, "import a CA-issued certificate (and chain) for NAME"},
	{"tlsa", id_tlsa, "print NAME's TLSA record as a zone-file line"},
	{"publish", id_publish, "publish NAME's TLSA record by DNS UPDATE (TSIG)"},
	{"check", id_check, "check that DNS securely publishes NAME's local certificate"},
	{"rollover", id_rollover, "make NAME's next key (from id new --next) the current one"},
	{"fetch", id_fetch, "write the certificates NAME's TLSA records publish, as PEM"},
	{"verify", id_verify, "does DNS vouch for a certificate file at NAME (or its SAN names)?"},
	{"update", id_update, "replace NAME's local certificate by the one DNS publishes"},
	{NULL, NULL, NULL},
};

int cmd_id(int argc, char **argv)
{
	return cli_dispatch("danemsg id", id_commands, argc - 1, argv + 1);
}
