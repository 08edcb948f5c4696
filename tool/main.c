/* danemsg: the command-line tool. One binary, subcommands like git. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_version(int argc, char **argv)
{
	printf("danemsg %s\n", danemsg_version());
	return EXIT_OK_;
}

static const struct cli_command commands[] = {
	{"id", cmd_id, "manage and inspect identities (keys, certificates, TLSA records)"},
	{"seal", cmd_seal, "sign a message and encrypt it to recipients found in DNS"},
	{"open", cmd_open, "decrypt a message, verify its sender in DNS, apply the policy"},
	{"send", cmd_send, "seal a message and publish it to the recipient over MQTT"},
	{"listen", cmd_listen, "receive, open and deliver messages over MQTT (a daemon)"},
	{"quarantine", cmd_quarantine, "list, show, retry or purge what listen refused"},
	{"token", cmd_token, "print a login token for a broker that checks identities in DNS"},
	{"version", cmd_version, "print the version"},
	{NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version"))
		return cmd_version(0, NULL);
	return cli_dispatch("danemsg", commands, argc - 1, argv + 1);
}
