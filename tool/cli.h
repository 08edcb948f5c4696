/* Shared pieces of the danemsg command-line tool. */
#ifndef DANEMSG_TOOL_CLI_H
#define DANEMSG_TOOL_CLI_H

#include <jansson.h>

#include <danemsg.h>

/*
 * Exit codes of the tool (documented in danemsg(1)). Stable.
 * 0 success; 1 generic failure; 2 usage error; the rest name what went wrong
 * so that scripts can tell "reject" from "retry later".
 */
enum cli_exit {
	EXIT_OK_ = 0,
	EXIT_FAILURE_ = 1,
	EXIT_USAGE = 2,
	EXIT_NOT_RUNNING = 3,     /* listen --status: no listener runs with that state */
	EXIT_DNS_INSECURE = 10,
	EXIT_DNS_BOGUS = 11,
	EXIT_DNS_NOT_FOUND = 12,
	EXIT_DNS_TEMPORARY = 13,
	EXIT_NO_USABLE_RECORD = 14,
	EXIT_DNS_CONFIG = 15,
	EXIT_NO_MATCH = 16,       /* DNS publishes records, none for the local certificate */
	EXIT_REJECTED = 20,       /* message malformed (does not parse) */
	EXIT_NOT_FOR_ME = 21,
	EXIT_UNKNOWN_SENDER = 22,
	EXIT_BAD_SIGNATURE = 23,
	EXIT_EXPIRED = 24,
	EXIT_REPLAYED = 25,
	EXIT_SENDER_NOT_ALLOWED = 26,
	EXIT_TOO_LARGE = 27,
	EXIT_ALGORITHM = 28,
	EXIT_DECRYPT = 29,
	EXIT_UPDATE_REFUSED = 30,
	EXIT_EXISTS = 31,
	EXIT_KEY_PERMISSIONS = 32, /* a private key file that others may access */
	EXIT_BROKER = 40,
};

/* One subcommand: argv[0] is the subcommand's own name. */
typedef int (*cli_command_fn)(int argc, char **argv);

struct cli_command {
	const char *name;
	cli_command_fn run;
	const char *summary;
};

/* Finds and runs the subcommand named argv[0] in a NULL-terminated table. */
int cli_dispatch(const char *prog, const struct cli_command *table, int argc, char **argv);

/* Prints "danemsg: MESSAGE" to stderr, printf-style. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Maps a library error to the tool's exit code. */
int cli_exit_code(danemsg_err err);

/* The value of the first set environment variable among names, or NULL. */
const char *cli_env(const char *const *names);

/*
 * The folder of the local identities: dir_option (--dir) if not NULL, else env
 * DANEMSG_DIR, else the reference system's CRYPTO_PATH, else $HOME/.danemsg.
 * NULL (with a message) when none is set. The folder may not exist yet.
 */
const char *cli_identity_dir(const char *dir_option);

/*
 * The path of NAME's own state file or folder `what` in the identity folder dir, laid out
 * as its keys are (danemsg_credential_path): "DIR/NAME.WHAT", or "DIR/NAME/WHAT" for the
 * long names whose keys live in a folder of their own. 0, or -1 (not a name, too long).
 */
int cli_identity_state_path(const char *dir, const char *name, const char *what, char *out,
			    size_t len);

/* Parses option what's value as a decimal number in min..max: 0, or -1 (reported). */
int cli_parse_uint(const char *arg, const char *what, unsigned long min, unsigned long max,
		   unsigned long *out);

/*
 * Prints one zone-file TLSA line ("NAME. TTL IN TLSA U S M HEX") per certificate
 * identity name publishes (current, next, X25519) from dir; prints why on failure.
 * Returns an exit code. (tool/id_tlsa.c)
 */
int cli_print_tlsa(const char *dir, const char *name, uint8_t usage, uint8_t selector,
		   uint8_t matching, uint32_t ttl);

/* After the options: the one NAME operand, with the identity folder in *dir. NULL (with
 * a one-line message) when the operands are wrong or no folder is known. */
const char *cli_name_operand(int argc, char **argv, const char *dir_option, const char **dir);

/* After the options: 0 if min..max operands follow, else -1 with one line that says
 * what is missing (what: "NAME") or which operand is one too many. */
int cli_operands(int argc, char **argv, const char *what, int min, int max);

/* Returned by cli_getopt() (and cli_next_option()) for a wrong option or a bad value,
 * already reported in one line. */
#define CLI_OPT_BAD_VALUE (-2)

struct option;

/*
 * getopt_long with short option "h" only. A wrong option gets one line ("danemsg seal:
 * unknown option '--form'; see 'danemsg seal --help'") and CLI_OPT_BAD_VALUE. The
 * hidden first argument --list-options prints the long options and exits 0 (the man
 * page test compares them with the page).
 */
int cli_getopt(int argc, char **argv, const struct option *longopts);

/* Splits "a,b,c" in place into at most max names; max + 1 when there are more. */
size_t cli_split_names(char *list, const char **names, size_t max);

/* After a failed load of identity name from dir: for DANEMSG_ERR_NOT_FOUND, one more line
 * that says how to create the identity (and that dir is missing, if it is). */
void cli_identity_hint(danemsg_err err, const char *dir, const char *name);

/* Loads name's current key and certificate from dir; on failure prints which file and why,
 * with cli_identity_hint(). */
danemsg_err cli_credential_load(const char *dir, const char *name, danemsg_credential **out);

/* The --help lines of the options that every identity command has. */
#define CLI_DIR_HELP \
	"  --dir DIR       the identity folder (env DANEMSG_DIR or CRYPTO_PATH;\n" \
	"                  default ~/.danemsg)\n" \
	"  -h, --help      this text\n"

/* Shared by id fetch, verify and update (tool/id_fetch.c). */
struct cli_dns_opts;
#define CLI_SHA256_HEX 65
/* The certificate's SHA-256 fingerprint (of its DER) in lower-case hex. */
void cli_cert_sha256(X509 *cert, char fp[CLI_SHA256_HEX]);
/* A resolver from the options and name's identity, whose answer must be secure (or an
 * allowed insecure one); an answer whose records are all unusable passes. Prints why and
 * returns the exit code otherwise (*res and *id, possibly set, are the caller's). */
int cli_lookup_secure(struct cli_dns_opts *dns, const char *name, danemsg_resolver **res,
		      danemsg_identity **id);
/* The certificate a "U 0 0" record carries, whatever its usage (X509_free it); else NULL. */
X509 *cli_record_cert(const danemsg_tlsa *rec);
/* Prints o (may be NULL) as indented JSON with a new line, and releases it. */
void cli_print_json(json_t *o);

/* Subcommands. */
int cmd_id(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_quarantine(int argc, char **argv);
int id_show(int argc, char **argv);
int id_new(int argc, char **argv);
int id_csr(int argc, char **argv);
int id_import(int argc, char **argv);
int id_tlsa(int argc, char **argv);
int id_publish(int argc, char **argv);
int id_check(int argc, char **argv);
int id_rollover(int argc, char **argv);
int id_fetch(int argc, char **argv);
int id_verify(int argc, char **argv);
int id_update(int argc, char **argv);

#endif
