/* danemsg id new: create an identity's key and self-signed certificate. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char id_new_usage[] =
	"usage: danemsg id new NAME [--key p256|ed25519|rsa2048|rsa3072] [--days N] [--dir DIR]\n"
	"                           [--force] [--next]\n"
	"Creates a private key (default p256) and a self-signed certificate for NAME, and\n"
	"prints the TLSA records to publish.\n"
	"  --key TYPE      p256 (default), ed25519 (with an X25519 key for encryption),\n"
	"                  rsa2048 or rsa3072\n"
	"  --days N        the certificate's validity, 1 to 36500 days (default 365)\n"
	"  --force         replace an existing key (never replaced otherwise)\n"
	"  --next          create the next key of a rollover (see id rollover)\n"
	CLI_DIR_HELP;

/* Prints the paths of the files just written. */
static void print_files(const char *dir, const char *name, danemsg_credential_slot slot,
			danemsg_keytype type)
{
	static const struct {
		danemsg_credential_file file;
		const char *what;
	} files[] = {
		{DANEMSG_FILE_KEY, "private key"},
		{DANEMSG_FILE_CERT, "certificate"},
		{DANEMSG_FILE_CSR, "CSR"},
		{DANEMSG_FILE_ENC_KEY, "X25519 key"},
		{DANEMSG_FILE_ENC_CERT, "X25519 certificate"},
	};
	char path[4096];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i].file >= DANEMSG_FILE_ENC_KEY && type != DANEMSG_KEY_ED25519)
			continue;
		if (danemsg_credential_path(dir, name, slot, files[i].file, path, sizeof(path)))
			continue;
		printf("  %-19s %s\n", files[i].what, path);
	}
}

int id_new(int argc, char **argv)
{
	static const struct option options[] = {
		{"key", required_argument, NULL, 'k'},
		{"days", required_argument, NULL, 'D'},
		{"dir", required_argument, NULL, 'd'},
		{"force", no_argument, NULL, 'f'},
		{"next", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	danemsg_keytype type = DANEMSG_KEY_P256;
	unsigned long days = DANEMSG_CREDENTIAL_DEFAULT_DAYS;
	unsigned flags = 0;
	const char *dir_option = NULL;
	int opt;

	optind = 1;
	while ((opt = cli_getopt(argc, argv, options)) != -1) {
		int bad = 0;
		switch (opt) {
		case 'k':
			if (danemsg_keytype_parse(optarg, &type)) {
				cli_error("--key: unknown key type '%s'", optarg);
				bad = 1;
			}
			break;
		case 'D':
			bad = cli_parse_uint(optarg, "--days", 1, DANEMSG_CREDENTIAL_MAX_DAYS,
					     &days);
			break;
		case 'd': dir_option = optarg; break;
		case 'f': flags |= DANEMSG_CREDENTIAL_FORCE; break;
		case 'n': flags |= DANEMSG_CREDENTIAL_NEXT; break;
		case 'h': fputs(id_new_usage, stdout); return EXIT_OK_;
		default: bad = 1; break;
		}
		if (bad)
			return EXIT_USAGE;
	}
	const char *dir, *name = cli_name_operand(argc, argv, dir_option, &dir);
	if (!name)
		return EXIT_USAGE;

	char errbuf[512] = "";
	danemsg_err err = danemsg_credential_new(dir, name, type, (unsigned)days, flags, errbuf,
						 sizeof(errbuf));
	if (err) {
		cli_error("cannot create identity %s: %s (%s)", name, danemsg_strerror(err),
			  errbuf);
		return cli_exit_code(err);
	}
	danemsg_credential_slot slot = (flags & DANEMSG_CREDENTIAL_NEXT) ? DANEMSG_SLOT_NEXT :
				       DANEMSG_SLOT_CURRENT;
	char norm[DANEMSG_CREDENTIAL_NAME_MAX];
	danemsg_credential_name_normalize(name, norm, sizeof(norm));
	printf("created %s%s key for %s, certificate valid %lu days:\n",
	       slot == DANEMSG_SLOT_NEXT ? "next " : "", danemsg_keytype_name(type), norm, days);
	print_files(dir, name, slot, type);
	printf("publish these TLSA records (then 'danemsg id publish' or your DNS provider):\n");
	fflush(stdout);
	return cli_print_tlsa(dir, name, DANEMSG_TLSA_DANE_EE, DANEMSG_TLSA_SEL_CERT,
			      DANEMSG_TLSA_MATCH_FULL, 300);
}
