/* danemsg id tlsa: the zone-file TLSA lines that publish an identity's certificates. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char id_tlsa_usage[] =
	"usage: danemsg id tlsa NAME [--usage U --selector S --matching M] [--ttl N] [--dir DIR]\n"
	"Prints one zone-file TLSA line per certificate NAME publishes (current, next,\n"
	"X25519).\n"
	"  --usage U       certificate usage 0-3 (default 3, DANE-EE)\n"
	"  --selector S    0 the whole certificate (default: messages carry none), 1 the key\n"
	"  --matching M    0 exact (default), 1 SHA-256, 2 SHA-512\n"
	"  --ttl N         the TTL in the line (default 300)\n"
	CLI_DIR_HELP;

/* Prints the TLSA line of one certificate. */
static danemsg_err print_line(X509 *cert, const char *name, uint8_t usage, uint8_t selector,
			      uint8_t matching, uint32_t ttl)
{
	size_t rdata_len = 0, line_size;
	danemsg_err err = danemsg_tlsa_rdata(cert, usage, selector, matching, NULL, 0, &rdata_len);
	if (err != DANEMSG_ERR_BUFFER_TOO_SMALL)
		return err;
	uint8_t *rdata = malloc(rdata_len);
	char *line = malloc(line_size = 2 * rdata_len + DANEMSG_CREDENTIAL_NAME_MAX + 64);
	err = rdata && line ? DANEMSG_OK : DANEMSG_ERR_NOMEM;
	if (!err)
		err = danemsg_tlsa_rdata(cert, usage, selector, matching, rdata, rdata_len,
					 &rdata_len);
	if (!err)
		err = danemsg_tlsa_format_line(name, ttl, rdata, rdata_len, line, line_size, NULL);
	if (!err)
		printf("%s\n", line);
	free(rdata);
	free(line);
	return err;
}

int cli_print_tlsa(const char *dir, const char *name, uint8_t usage, uint8_t selector,
		   uint8_t matching, uint32_t ttl)
{
	char errbuf[512] = "";
	STACK_OF(X509) *certs;
	danemsg_err err = danemsg_credential_published(dir, name, &certs, errbuf, sizeof(errbuf));
	if (err) {
		cli_error("%s: %s (%s)", name, danemsg_strerror(err), errbuf);
		return cli_exit_code(err);
	}
	for (int i = 0; i < sk_X509_num(certs) && !err; i++)
		err = print_line(sk_X509_value(certs, i), name, usage, selector, matching, ttl);
	sk_X509_pop_free(certs, X509_free);
	if (err) {
		cli_error("%s: cannot make its TLSA record: %s", name, danemsg_strerror(err));
		return cli_exit_code(err);
	}
	return fflush(stdout) == 0 ? EXIT_OK_ : EXIT_FAILURE_;
}

int id_tlsa(int argc, char **argv)
{
	static const struct option options[] = {
		{"usage", required_argument, NULL, 'u'},
		{"selector", required_argument, NULL, 's'},
		{"matching", required_argument, NULL, 'm'},
		{"ttl", required_argument, NULL, 't'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long usage = DANEMSG_TLSA_DANE_EE, selector = DANEMSG_TLSA_SEL_CERT;
	unsigned long matching = DANEMSG_TLSA_MATCH_FULL, ttl = 300;
	const char *dir_option = NULL;
	int opt;

	optind = 1;
	while ((opt = cli_getopt(argc, argv, options)) != -1) {
		int bad = 0;
		switch (opt) {
		case 'u': bad = cli_parse_uint(optarg, "--usage", 0, 3, &usage); break;
		case 's': bad = cli_parse_uint(optarg, "--selector", 0, 1, &selector); break;
		case 'm': bad = cli_parse_uint(optarg, "--matching", 0, 2, &matching); break;
		case 't': bad = cli_parse_uint(optarg, "--ttl", 0, 2147483647, &ttl); break;
		case 'd': dir_option = optarg; break;
		case 'h': fputs(id_tlsa_usage, stdout); return EXIT_OK_;
		default: bad = 1; break;
		}
		if (bad)
			return EXIT_USAGE;
	}
	const char *dir, *name = cli_name_operand(argc, argv, dir_option, &dir);
	if (!name)
		return EXIT_USAGE;
	return cli_print_tlsa(dir, name, (uint8_t)usage, (uint8_t)selector,
			      (uint8_t)matching, (uint32_t)ttl);
}
