/* danemsg id rollover: make an identity's next key (from id new --next) the current one. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char id_rollover_usage[] =
	"usage: danemsg id rollover NAME [--dir DIR]\n"
	"Makes NAME's next key and certificates (from 'id new NAME --next') the current\n"
	"ones; the replaced files are kept as NAME.old.*. Publish the next key's TLSA\n"
	"record and wait one TTL before, remove the old record after.\n";

int id_rollover(int argc, char **argv)
{
	static const struct option options[] = {
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir_option = NULL;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'd': dir_option = optarg; break;
		case 'h': fputs(id_rollover_usage, stdout); return EXIT_OK_;
		default: fputs(id_rollover_usage, stderr); return EXIT_USAGE;
		}
	}
	const char *dir, *name = cli_name_operand(argc, argv, "id rollover", id_rollover_usage,
						  dir_option, &dir);
	if (!name)
		return EXIT_USAGE;

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
