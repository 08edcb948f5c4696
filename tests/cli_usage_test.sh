#!/bin/bash
# Usage errors are one line that names what is wrong and where the help is; a missing
# identity says which file and how to create it. Table-driven.
# cli_usage_test.sh TOOL
set -u
tool=${1:?the danemsg binary}
. "$(dirname "$0")/lib.sh"
empty=$work
export DANEMSG_DIR=$empty/none
unset DANEMSG_RESOLVER DANEMSG_TRUST_ANCHOR CRYPTO_PATH

# case EXIT "STDERR" ARGS...: the tool exits EXIT and prints exactly STDERR (one line)
case_() {
	local want_rc=$1 want=$2 out rc
	shift 2
	out=$("$tool" "$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want" ]; then
		pass "danemsg $*"
	else
		fail "danemsg $*: exit $rc (want $want_rc)"
		say "  got:  $out" "  want: $want"
	fi
}

see() { echo "; see 'danemsg $1 --help'"; }
case_ 2 "danemsg seal: unknown option '--form'$(see seal)" seal --form x --to y
case_ 2 "danemsg seal: missing value for option '--from'$(see seal)" seal --from
case_ 2 "danemsg seal: no value allowed for option '--compat'$(see seal)" seal --compat=yes
case_ 2 "danemsg open: unknown option '-x'$(see open)" open -x
case_ 2 "danemsg send: unknown option '--bogus'$(see send)" send --bogus
case_ 2 "danemsg listen: unknown option '--bogus'$(see listen)" listen --bogus
case_ 2 "danemsg token: unknown option '--bogus'$(see token)" token --bogus
case_ 2 "danemsg quarantine: unknown option '--bogus'$(see quarantine)" quarantine --bogus
case_ 2 "danemsg quarantine: missing list, show, retry or purge$(see quarantine)" quarantine
case_ 2 "danemsg seal: unknown option '--x?y'$(see seal)" seal $'--x\033y'
for c in show new csr import tlsa publish check rollover; do
	case_ 2 "danemsg id $c: unknown option '--bogus'$(see "id $c")" id "$c" --bogus
done
for c in show new csr tlsa publish check rollover; do
	case_ 2 "danemsg id $c: missing NAME$(see "id $c")" id "$c"
	case_ 2 "danemsg id $c: unexpected operand 'extra'$(see "id $c")" id "$c" a.example extra
done
case_ 2 "danemsg id import: missing CERT$(see "id import")" id import a.example
case_ 2 "danemsg id import: missing NAME and CERT$(see "id import")" id import

# A missing identity names the file and the command that creates it.
hint="danemsg: the identity folder $empty/none does not exist: create the identity with"
hint="$hint 'danemsg id new alice.example', or name its folder with --dir or DANEMSG_DIR"
file="$empty/none/alice.example.key.pem: No such file or directory"
case_ 1 "danemsg: alice.example: cannot load its key and certificate: cannot open $file
$hint" seal --from alice.example --to bob.example
case_ 1 "danemsg: alice.example: cannot load its key and certificate: cannot open $file
$hint" token alice.example --audience broker.example
case_ 1 "danemsg: alice.example: cannot load its key and certificate: cannot open $file
$hint" send --from alice.example --to bob.example --broker mqtt://127.0.0.1:1 hello
case_ 1 "danemsg: alice.example: cannot open $file
$hint" open --as alice.example
export DANEMSG_DIR=$empty
case_ 1 "danemsg: alice.example: cannot open $empty/alice.example.key.pem: No such file or directory
danemsg: create the identity with 'danemsg id new alice.example', or name the folder that holds it with --dir or DANEMSG_DIR" open --as alice.example

# Every id subcommand's --help lists each of its options.
for c in show new csr import tlsa publish check rollover; do
	help=$("$tool" id "$c" --help)
	for opt in $("$tool" id "$c" --list-options); do
		if grep -q -- "$opt\b" <<<"$help"; then
			pass "danemsg id $c --help lists $opt"
		else
			fail "danemsg id $c --help does not list $opt"
		fi
	done
done

finish
