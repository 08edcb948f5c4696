#!/bin/bash
# The man page documents what the tool has: every long option of every subcommand (from
# the tool's own getopt tables, printed by the hidden --list-options) in that
# subcommand's section or a shared one, and exactly the exit codes of tool/cli.h.
# manpage_test.sh TOOL MAN_PAGE CLI_H
set -u
tool=${1:?the danemsg binary} page=${2:?man/danemsg.1} cli_h=${3:?tool/cli.h}
. "$(dirname "$0")/lib.sh"

# section TITLE...: the text of the page's sections with these .SH titles
section() {
	awk -v want="|$(IFS='|'; echo "$*")|" '
		/^\.SH / { title = substr($0, 5); gsub(/"/, "", title); on = index(want, "|" title "|") > 0; next }
		on' "$page"
}

# The sections where a subcommand's options may be documented: its own and the shared ones.
shared=("DESCRIPTION" "BROKER OPTIONS" "CHAIN OPTIONS" "DNS OPTIONS" "COMMON OPTIONS")
own_section() {
	case $1 in
	id\ *) echo "IDENTITY COMMANDS" ;;
	seal | open) echo "MESSAGE COMMANDS" ;;
	send) echo "SEND" ;;
	listen) echo "LISTEN" ;;
	token) echo "TOKEN" ;;
	quarantine) echo "QUARANTINE" ;;
	*) return 1 ;;
	esac
}

# commands TOOL_ARGS...: the subcommands a --help lists ("  name  summary" lines)
commands() {
	"$tool" "$@" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'
}

subcommands=()
for c in $(commands); do
	case $c in
	id) for s in $(commands id); do subcommands+=("id $s"); done ;;
	version) ;;
	*) subcommands+=("$c") ;;
	esac
done
[ ${#subcommands[@]} -ge 14 ] || fail "only ${#subcommands[@]} subcommands found: ${subcommands[*]}"

for sub in "${subcommands[@]}"; do
	# shellcheck disable=SC2086
	options=$("$tool" $sub --list-options) || { fail "$sub --list-options"; continue; }
	[ -n "$options" ] || { fail "$sub: no options listed"; continue; }
	if ! own=$(own_section "$sub"); then
		fail "$sub: no section of the man page is known for it (add it to this test)"
		continue
	fi
	text=$(section "$own" "${shared[@]}")
	for opt in $options; do
		# in roff, "--name" is written "\-\-name"; "\-\-zone\-file" is not "--zone"
		escaped=${opt//-/\\\\-}
		if grep -Eq -- "${escaped}([^a-z\\]|\\[^-]|\$)" <<<"$text"; then
			pass "danemsg $sub $opt"
		else
			fail "danemsg $sub $opt is not in the man page's $own section (nor a shared one)"
		fi
	done
done

# Exit codes: the enum of tool/cli.h against the rows of EXIT STATUS.
tool_codes=$(sed -n 's/^[[:space:]]*EXIT_[A-Z_]* = \([0-9]*\),.*/\1/p' "$cli_h" | sort -n | uniq)
page_codes=$(section "EXIT STATUS" | sed -n 's/^\([0-9][0-9]*\)\t.*/\1/p' | sort -n | uniq)
[ "$(wc -w <<<"$tool_codes")" -ge 20 ] || fail "only $(wc -w <<<"$tool_codes") exit codes in $cli_h"
if [ "$tool_codes" = "$page_codes" ]; then
	pass "exit codes"
else
	fail "exit codes differ (< tool/cli.h, > man page):"
	diff <(echo "$tool_codes") <(echo "$page_codes")
fi

# The hidden option is no option of a real run: an unknown option is one line.
out=$("$tool" seal --form x 2>&1 </dev/null)
want="danemsg seal: unknown option '--form'; see 'danemsg seal --help'"
if [ "$out" = "$want" ]; then pass "one-line usage error"; else fail "seal --form: '$out'"; fi
finish
