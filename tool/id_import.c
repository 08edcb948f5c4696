/* danemsg id import: install a CA-issued certificate (and chain) for an identity's key. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char id_import_usage[] =
	"usage: danemsg id import NAME CERT [--chain FILE] [--dir DIR] [--force] [--next]\n"
	"Installs CERT (PEM; certificates after the first are its chain) as NAME's\n"
	"certificate. It must be for NAME's key, name NAME in its subjectAltName and be\n"
	"signed by the chain's certificates in order. The replaced files are kept as\n"
	"NAME.crt.pem.bak and NAME.chain.pem.bak.\n"
	"  --chain FILE    the issuing certificates, PEM, if CERT does not hold them\n"
	"  --force         accept an expired or not yet valid certificate\n"
	"  --next          for the next key of a rollover\n"
	CLI_DIR_HELP;

int id_import(int argc, char **argv)
{
	static const struct option options[] = {
		{"chain", required_argument, NULL, 'c'},
		{"dir", required_argument, NULL, 'd'},
		{"force", no_argument, NULL, 'f'},
		{"next", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir_option = NULL, *chain = NULL;
	unsigned flags = 0;
	int opt;

	optind = 1;
	while ((opt = cli_getopt(argc, argv, options)) != -1) {
		switch (opt) {
		case 'c': chain = optarg; break;
		case 'd': dir_option = optarg; break;
		case 'f': flags |= DANEMSG_CREDENTIAL_FORCE; break;
		case 'n': flags |= DANEMSG_CREDENTIAL_NEXT; break;
		case 'h': fputs(id_import_usage, stdout); return EXIT_OK_;
		default: return EXIT_USAGE;
		}
	}
	if (cli_operands(argc, argv, argc - optind ? "CERT" : "NAME and CERT", 2, 2))
		return EXIT_USAGE;
	const char *name = argv[optind], *cert = argv[optind + 1];
	const char *dir = cli_identity_dir(dir_option);
	if (!dir)
		return EXIT_USAGE;

	char errbuf[512] = "";
	danemsg_err err = danemsg_credential_import(dir, name, cert, chain, flags, errbuf,
						    sizeof(errbuf));
	if (err) {
		cli_error("cannot import %s for %s: %s (%s)", cert, name, danemsg_strerror(err),
			  errbuf);
		return cli_exit_code(err);
	}
	printf("imported %s as %s's %scertificate; publish these TLSA records:\n", cert, name,
	       (flags & DANEMSG_CREDENTIAL_NEXT) ? "next " : "");
	fflush(stdout);
	return cli_print_tlsa(dir, name, DANEMSG_TLSA_DANE_EE, DANEMSG_TLSA_SEL_CERT,
			      DANEMSG_TLSA_MATCH_FULL, 300);
}
