# The one harness of the shell tests: a scratch folder, cleanup, results, ports, labs.
#   . "$(dirname "$0")/lib.sh"       (set work first to choose the scratch folder)
# then count results with pass, fail, skip, check, expect and expect_output, and end with
# finish. Processes the test starts go into pids (pids="$pids $!"): at exit they are
# killed, whatever else at_exit was given runs, the labs of lab_start go down and work
# is removed.
# shellcheck shell=bash
passed=0 failed=0 skipped=0
work=${work:-$(mktemp -d)}
pids="" labs="" exit_hooks=()

# at_exit 'COMMAND': runs COMMAND (evaluated then, with the variables' values then) at exit,
# after the processes in pids are killed and before the labs go down
at_exit() { exit_hooks+=("$1"); }

# SIGTERM first, so that a `timeout` among them stops its child too, then SIGKILL for what
# is still there after 2 s. Only the processes in pids are waited for: a bare wait would
# hang on any other child, such as the feeder of a background pipeline. (Nothing here
# may fail: under set -e a failure would change the test's exit status.)
lib_cleanup() {
	local p hook dir i
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do
		for ((i = 0; i < 20; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	# shellcheck disable=SC2086
	wait $pids 2>/dev/null || true
	for hook in "${exit_hooks[@]}"; do eval "$hook" || true; done
	for dir in $labs; do "$DANEMSG_LAB" down "$dir" >/dev/null 2>&1 || true; done
	rm -rf "$work" || true
}
trap lib_cleanup EXIT
trap 'exit 1' INT TERM

# lab_start DIR [OPTION...]: a private lab in DIR (danemsg-lab up DIR OPTION...) with its
# environment loaded, brought down at exit; prints the lab's output and exits 1 when it
# does not start
lab_start() {
	local dir=$1
	shift
	labs="$labs $dir"
	if ! "${DANEMSG_LAB:?the lab script}" up "$dir" "$@" >"$dir.out" 2>&1; then
		cat "$dir.out"
		exit 1
	fi
	# shellcheck disable=SC1091
	. "$dir/env"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

say() { printf '%s\n' "$*"; }
pass() { passed=$((passed + 1)); say "ok    ${1-}"; }
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
# its output is left in $work/out and $work/err for what follows (COMMAND itself may read
# the previous command's)
check() {
	local what=$1 want=$2 got=0
	shift 2
	"$@" >"$work/out.new" 2>"$work/err.new" </dev/null || got=$?
	mv "$work/out.new" "$work/out"
	mv "$work/err.new" "$work/err"
	if [ "$got" -eq "$want" ]; then
		pass "$what"
	else
		fail "$what: exit $got, expected $want" "$work/out" "$work/err"
	fi
}

# assert DESCRIPTION COMMAND...: COMMAND succeeds (its output is not kept; for a shell
# expression: assert DESCRIPTION eval 'EXPRESSION')
assert() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
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

# hex_der CERT_FILE: the certificate's DER in lower-case hex (a TLSA 3 0 0 record's data)
hex_der() { openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
