# Shared helpers of the shell tests. Source it after setting work (a scratch folder):
#   work=$(mktemp -d); . "$(dirname "$0")/lib.sh"
# then count results with pass, fail, skip, check and expect_output, and end with finish.
# shellcheck shell=bash
passed=0 failed=0 skipped=0

say() { printf '%s\n' "$*"; }
pass() { passed=$((passed + 1)); say "ok    $1"; }
skip() { skipped=$((skipped + 1)); say "skip  $1: $2"; }

# fail DESCRIPTION [FILE...]: counts a failure and shows the end of each FILE given
fail() {
	local f
	failed=$((failed + 1))
	say "FAIL  $1"
	shift
	for f in "$@"; do
		[ -s "$f" ] && sed 's/^/      /' "$f" | tail -n 20
	done
	return 0
}

# check DESCRIPTION EXIT COMMAND...: COMMAND, with empty standard input, exits with EXIT;
# its output is left in $work/out and $work/err for what follows
check() {
	local what=$1 want=$2 got=0
	shift 2
	"$@" >"$work/out" 2>"$work/err" </dev/null || got=$?
	if [ "$got" -eq "$want" ]; then
		pass "$what"
	else
		fail "$what: exit $got, expected $want" "$work/out" "$work/err"
	fi
}

# expect_output DESCRIPTION PATTERN: the last check's standard output has PATTERN (grep)
expect_output() {
	if grep -q -- "$2" "$work/out"; then
		pass "$1"
	else
		fail "$1: no '$2' in the output" "$work/out"
	fi
}

# expect DESCRIPTION FILE PATTERN (grep -E): FILE has a line matching PATTERN
expect() {
	if grep -qE -- "$3" "$2" 2>/dev/null; then pass "$1"; else
		fail "$1: no /$3/ in $2" "$2"; fi
}

# expect_not DESCRIPTION FILE PATTERN: no line of FILE matches PATTERN
expect_not() {
	if ! grep -qE -- "$3" "$2" 2>/dev/null; then pass "$1"; else
		fail "$1: /$3/ in $2" "$2"; fi
}

# count FILE PATTERN: how many lines match (0 without the file)
count() {
	local n
	n=$(grep -cE -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}

# wait_for FILE PATTERN N SECONDS: until FILE has N lines matching PATTERN (1 on time-out)
wait_for() {
	local deadline=$(($(date +%s) + $4))
	while [ "$(count "$1" "$2")" -lt "$3" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# lab_update "add NAME TTL IN TLSA ..." [ZONE]: one DNS UPDATE to the lab's knot, signed
# with the lab's TSIG key
lab_update() {
	local alg=${DANEMSG_TSIG%%:*} rest=${DANEMSG_TSIG#*:}
	printf 'server 127.0.0.1 %s\nkey %s:%s %s\nzone %s\nupdate %s\nsend\nquit\n' \
		"$DANEMSG_DNS_PORT" "$alg" "${rest%%:*}" "${rest#*:}" "${2:-$DANEMSG_ZONE}" "$1" |
		knsupdate
}

# finish: prints the counts; its status is the test's (0 when nothing failed)
finish() {
	say "$(basename "$0" .sh): $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}
