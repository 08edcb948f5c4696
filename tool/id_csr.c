/* danemsg id csr: a certificate signing request for an identity's existing key. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "cli.h"

static const char id_csr_usage[] =
	"usage: danemsg id csr NAME [--dir DIR] [--out FILE] [--next]\n"
	"Writes a CSR (subject CN=NAME, subjectAltName DNS:NAME) for NAME's key, PEM, to\n"
	"FILE or standard output.\n"
	"  --out FILE      write the CSR to FILE ('-': standard output, the default)\n"
	"  --next          for the next key of a rollover\n"
	CLI_DIR_HELP;

/* Writes the CSR as PEM to path ("-" or NULL: standard output). */
static int write_csr(X509_REQ *req, const char *path)
{
	int to_stdout = !path || !strcmp(path, "-");
	FILE *f = to_stdout ? stdout : fopen(path, "w");
	if (!f) {
		cli_error("cannot create %s: %s", path, strerror(errno));
		return EXIT_FAILURE_;
	}
	int ok = PEM_write_X509_REQ(f, req);
	ok = (to_stdout ? fflush(f) : fclose(f)) == 0 && ok;
	if (!ok) {
		cli_error("cannot write %s", to_stdout ? "the CSR" : path);
		return EXIT_FAILURE_;
	}
	if (!to_stdout)
		fprintf(stderr, "wrote %s\n", path);
	return EXIT_OK_;
}

int id_csr(int argc, char **argv)
{
	static const struct option options[] = {
		{"dir", required_argument, NULL, 'd'},
		{"out", required_argument, NULL, 'o'},
		{"next", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir_option = NULL, *out = NULL;
	danemsg_credential_slot slot = DANEMSG_SLOT_CURRENT;
	int opt;

	optind = 1;
	while ((opt = cli_getopt(argc, argv, options)) != -1) {
		switch (opt) {
		case 'd': dir_option = optarg; break;
		case 'o': out = optarg; break;
		case 'n': slot = DANEMSG_SLOT_NEXT; break;
		case 'h': fputs(id_csr_usage, stdout); return EXIT_OK_;
		default: return EXIT_USAGE;
		}
	}
	const char *dir, *name = cli_name_operand(argc, argv, dir_option, &dir);
	if (!name)
		return EXIT_USAGE;

	char errbuf[512] = "";
	X509_REQ *req;
	danemsg_err err = danemsg_credential_csr(dir, name, slot, &req, errbuf, sizeof(errbuf));
	if (err) {
		cli_error("cannot make a CSR for %s: %s (%s)", name, danemsg_strerror(err), errbuf);
		cli_identity_hint(err, dir, name);
		return cli_exit_code(err);
	}
	int rc = write_csr(req, out);
	X509_REQ_free(req);
	return rc;
}
