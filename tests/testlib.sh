# The shell tests' reporting and waiting helpers: . "$(dirname "$0")/testlib.sh" after
# setting $work (a scratch folder: check writes $work/out and $work/err).
passed=0 failed=0

say() { printf '%s\n' "$*"; }
pass() { passed=$((passed + 1)); say "ok    $1"; }
fail() {   # fail DESCRIPTION [FILE...]: the files' last lines explain
	local what=$1 f
	shift
	failed=$((failed + 1))
	say "FAIL  $what"
	for f in "$@"; do [ -f "$f" ] && tail -8 "$f" | sed 's/^/      /'; done
}
check() {   # check DESCRIPTION EXPECTED_EXIT COMMAND...
	local what=$1 want=$2 got=0
	shift 2
	"$@" >"$work/out" 2>"$work/err" || got=$?
	if [ "$got" -eq "$want" ]; then pass "$what"; else
		fail "$what: exit $got, expected $want" "$work/out" "$work/err"; fi
}
expect() {   # expect DESCRIPTION FILE PATTERN (grep -E)
	if grep -qE -- "$3" "$2" 2>/dev/null; then pass "$1"; else
		fail "$1: no /$3/ in $2" "$2"; fi
}
expect_not() {   # expect_not DESCRIPTION FILE PATTERN
	if ! grep -qE -- "$3" "$2" 2>/dev/null; then pass "$1"; else
		fail "$1: /$3/ in $2" "$2"; fi
}
count() {   # count FILE PATTERN: lines that match (0 without the file)
	local n
	n=$(grep -cE -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}
# wait_for FILE PATTERN N SECONDS: until FILE has N lines matching PATTERN
wait_for() {
	local deadline=$(($(date +%s) + $4))
	while [ "$(count "$1" "$2")" -lt "$3" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
