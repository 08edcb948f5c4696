/* danemsg seal: sign a message as one identity and encrypt it to others. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dns_opts.h"
#include "message_io.h"

#define MAX_MESSAGE (512u * 1024u)

static const char seal_usage[] =
	"usage: danemsg seal --from NAME --to NAME[,NAME...] [options] [DNS options]\n"
	"\n"
	"Signs the message (standard input, or --in) with NAME's key and encrypts it to\n"
	"each recipient's key, found in DNS and validated with DNSSEC. Writes the sealed\n"
	"message (JSON) to standard output or --out.\n"
	"\n"
	"  --from NAME         the sender: an identity in the identity folder\n"
	"  --to NAMES          recipients, separated by commas (at most 16)\n"
	"  --compat            the reference system's format (RSA identities, one recipient)\n"
	"  --expires S         the message expires S seconds after sealing\n"
	"  --carry-cert        always carry the sender's certificate chain (x5c)\n"
	"  --with-chain        carry the DNSSEC chain of the sender's TLSA records, up to\n"
	"                      the resolver's trust anchor, so that receivers with no DNS\n"
	"                      (open --offline) can verify the sender\n"
	"  --in FILE, --out FILE\n"
	"  --dir DIR           identity folder (env DANEMSG_DIR, CRYPTO_PATH; ~/.danemsg)\n"
	"  -h, --help\n"
	"\n%s"
	"\n"
	"Exit status: 0 sealed; 2 usage; 10-15 a recipient's DNS answer (see id show), or\n"
	"with --with-chain the sender's own chain;\n"
	"14 a recipient publishes no key to encrypt to; 28 algorithm; 1 other errors.\n";

int cmd_seal(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"compat", no_argument, NULL, 'c'},
		{"expires", required_argument, NULL, 'e'},
		{"carry-cert", no_argument, NULL, 'x'},
		{"with-chain", no_argument, NULL, 'W'},
		{"in", required_argument, NULL, 'i'},
		{"out", required_argument, NULL, 'o'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		CLI_DNS_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct cli_dns_opts dns = {0};
	danemsg_seal_options opts;
	const char *from = NULL, *in = NULL, *out = NULL, *dir_opt = NULL, *dir;
	const char *names[17];
	char *to = NULL, errbuf[512] = "", *sealed = NULL;
	size_t n_names = 0, sealed_len = 0, msg_len = 0;
	uint8_t *msg = NULL;
	danemsg_credential *cred = NULL;
	danemsg_resolver *r = NULL;
	unsigned long expires = 0;
	int opt, rc;
	danemsg_err err;

	danemsg_seal_options_init(&opts);
	optind = 1;
	while ((opt = cli_next_option(argc, argv, longopts, &dns)) != -1) {
		switch (opt) {
		case CLI_OPT_BAD_VALUE: return EXIT_USAGE;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'c': opts.compat = 1; break;
		case 'e':
			if (cli_parse_uint(optarg, "--expires", 1, 366u * 86400u, &expires))
				return EXIT_USAGE;
			opts.expires_in = (uint32_t)expires;
			break;
		case 'x': opts.carry_chain = 1; break;
		case 'W': opts.with_dnssec_chain = 1; break;
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case 'd': dir_opt = optarg; break;
		case 'h': printf(seal_usage, cli_dns_help); return EXIT_OK_;
		default: return EXIT_USAGE;
		}
	}
	if (!from || !to || optind != argc) {
		cli_error("seal needs --from and --to (see 'danemsg seal --help')");
		return EXIT_USAGE;
	}
	n_names = cli_split_names(to, names, 16);
	if (n_names == 0 || n_names > 16) {
		cli_error("--to takes 1 to 16 names separated by commas");
		return EXIT_USAGE;
	}
	if (!(dir = cli_identity_dir(dir_opt)))
		return EXIT_USAGE;
	if ((err = cli_credential_load(dir, from, &cred)))
		return cli_exit_code(err);
	rc = cli_read_input(in, MAX_MESSAGE, &msg, &msg_len);
	if (rc == EXIT_OK_ && cli_resolver_new(&dns, &r))
		rc = EXIT_DNS_CONFIG;
	if (rc == EXIT_OK_) {
		err = danemsg_seal(r, cred, names, n_names, msg, msg_len, &opts, &sealed,
				   &sealed_len, errbuf, sizeof(errbuf));
		if (err) {
			cli_error("seal: %s", errbuf[0] ? errbuf : danemsg_strerror(err));
			rc = cli_exit_code(err);
		} else {
			sealed[sealed_len] = '\n';   /* the NUL becomes a final newline */
			rc = cli_write_output(out, sealed, sealed_len + 1);
		}
	}
	free(sealed);
	free(msg);
	danemsg_resolver_free(r);
	danemsg_credential_free(cred);
	return rc;
}
