/* danemsg id rollover: make an identity's next key (from id new --next) the current one. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char id_rollover_usage[] =
	"usage: danemsg id rollover NAME [--dir DIR]\n"
	"       danemsg id rollover NAME --delete-old [--dir DIR]\n"
	"Makes NAME's next key and certificates (from 'id new NAME --next') the current\n"
	"ones; the replaced files are kept as NAME.old.*. Publish the next key's TLSA\n"
	"record and wait one TTL before, remove the old record after. An interrupted\n"
	"rollover is finished by running the command again; until then the previous\n"
	"key stays current. A rollover refuses (exit 31) while NAME.old.* holds the key\n"
	"an earlier rollover retired.\n"
	"  --delete-old   only delete NAME.old.* (the retired key), once no message\n"
	"                 sealed to or signed with it can still arrive; nothing else\n"
	"                 deletes a key\n"
	CLI_DIR_HELP;

static int delete_old(const char *dir, const char *name)
{
	char errbuf[512] = "";
	danemsg_err err = danemsg_credential_delete_old(dir, name, errbuf, sizeof(errbuf));
	if (err) {
		cli_error("cannot delete the old key of %s: %s (%s)", name, danemsg_strerror(err),
			  errbuf);
		return cli_exit_code(err);
	}
	printf("%s: the retired key (%s/<name>.old.*) is deleted\n", name, dir);
	return EXIT_OK_;
}

int id_rollover(int argc, char **argv)
{
	static const struct option options[] = {
		{"dir", required_argument, NULL, 'd'},
		{"delete-old", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir_option = NULL;
	int opt, only_delete = 0;

	optind = 1;
	while ((opt = cli_getopt(argc, argv, options)) != -1) {
		switch (opt) {
		case 'd': dir_option = optarg; break;
		case 'D': only_delete = 1; break;
		case 'h': fputs(id_rollover_usage, stdout); return EXIT_OK_;
		default: return EXIT_USAGE;
		}
	}
	const char *dir, *name = cli_name_operand(argc, argv, dir_option, &dir);
	if (!name)
		return EXIT_USAGE;
	if (only_delete)
		return delete_old(dir, name);

	char errbuf[512] = "";
	danemsg_err err = danemsg_credential_rollover(dir, name, errbuf, sizeof(errbuf));
	if (err) {
		cli_error("cannot roll %s over: %s (%s)", name, danemsg_strerror(err), errbuf);
		return cli_exit_code(err);
	}
	printf("%s: the next key is now current (previous files kept as %s/<name>.old.*);\n"
	       "these TLSA records remain to publish (remove the old key's record):\n", name, dir);
	fflush(stdout);
	return cli_print_tlsa(dir, name, DANEMSG_TLSA_DANE_EE, DANEMSG_TLSA_SEL_CERT,
			      DANEMSG_TLSA_MATCH_FULL, 300);
}
