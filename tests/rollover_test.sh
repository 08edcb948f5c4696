#!/bin/bash
# Key rollover, as docs/identities.md describes it, against the lab: not one message is
# refused while a recipient (Ed25519 + X25519) and a sender (P-256) roll their keys.
set -euo pipefail
tool=${DANEMSG_TOOL:?}
shim=${1:?usage: rollover_test.sh PATH-TO-fault_inject.so}
. "$(dirname "$0")/lib.sh"
export DANEMSG_DIR=$work/ids

alice=ra$$._device.${DANEMSG_ZONE%.}
bob=rb$$._device.${DANEMSG_ZONE%.}
seal() {   # seal FROM TO -> file name of the sealed message (runs in a subshell)
	local file
	file=$(mktemp -p "$work" msg.XXXXXX)
	echo "message from $1" | "$tool" seal --from "$1" --to "$2" >"$file"
	echo "$file"
}
opens() {   # opens WHAT AS FILE: must be accepted
	local out rc=0
	out=$("$tool" open --as "$2" --in "$3" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then pass; else fail "$1: exit $rc: $out"; fi
}
records() { "$tool" id show "$1" --json | /usr/bin/python3 -c \
	'import json,sys; print(sum(r["usable"] for r in json.load(sys.stdin)["records"]))'; }

"$tool" id new "$alice" >/dev/null
"$tool" id new "$bob" --key ed25519 >/dev/null
"$tool" id publish "$alice" --ttl 60 >/dev/null
"$tool" id publish "$bob" --ttl 60 >/dev/null
before=$(seal "$alice" "$bob")                      # in flight across the whole rollover
opens "before any rollover" "$bob" "$(seal "$alice" "$bob")"

# Recipient rollover.
"$tool" id new "$bob" --next --key ed25519 >/dev/null
"$tool" id publish "$bob" --ttl 60 >/dev/null       # current and next, side by side
[ "$(records "$bob")" -eq 4 ] && pass || fail "bob should publish 4 records during rollover"
during=$(seal "$alice" "$bob")                      # senders pick the newest key
opens "sealed to the next key, before bob's switch" "$bob" "$during"
"$tool" id rollover "$bob" >/dev/null
opens "in flight, sealed to the old key, after the switch" "$bob" "$before"
opens "sealed during the overlap, after the switch" "$bob" "$(seal "$alice" "$bob")"
"$tool" id publish "$bob" --ttl 60 >/dev/null       # the old record goes
[ "$(records "$bob")" -eq 2 ] && pass || fail "bob should publish 2 records after rollover"
opens "after the old record is gone" "$bob" "$(seal "$alice" "$bob")"
"$tool" id check "$bob" >/dev/null && pass || fail "id check after recipient rollover"

# Sender rollover.
signed_old=$(seal "$alice" "$bob")
"$tool" id new "$alice" --next >/dev/null
"$tool" id publish "$alice" --ttl 60 >/dev/null
"$tool" id rollover "$alice" >/dev/null
signed_new=$(seal "$alice" "$bob")
opens "signed with the old key while both are published" "$bob" "$signed_old"
opens "signed with the new key while both are published" "$bob" "$signed_new"
"$tool" id publish "$alice" --ttl 60 >/dev/null
opens "signed with the new key after the old record is gone" "$bob" "$(seal "$alice" "$bob")"
# Past the overlap, the retired key authenticates no one.
rc=0; "$tool" open --as "$bob" --in "$signed_old" --no-replay-cache >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 22 ] && pass || fail "a message signed with the retired key: exit $rc, expected 22"

# --- An interrupted rollover (docs/identities.md): stopped at each change it makes to the
# folder in turn, by an I/O error (eio) or as in a crash (exit), then run again. After the
# interruption: a current key loads (carol signs), the previous and the next keys are kept
# and both decrypt (messages in flight to either open), the folder loads; the second run
# completes the rollover and keeps the previous key as NAME.old.*.
carol=rx$$._device.${DANEMSG_ZONE%.}
pristine=$work/carol
"$tool" id new "$carol" --key ed25519 --dir "$pristine" >/dev/null
"$tool" id new "$carol" --next --key p256 --dir "$pristine" >/dev/null
sum() { [ -e "$1" ] && sha256sum <"$1" | cut -d' ' -f1; }
prev_key=$(sum "$pristine/$carol.key.pem") prev_x=$(sum "$pristine/$carol.x25519.key.pem")
next_key=$(sum "$pristine/$carol.next.key.pem")
# A message in flight to each key: publish one at a time to make the sender pick it.
mkdir "$work/prev" "$work/next"
cp -a "$pristine/$carol".{key,crt,x25519.key,x25519.crt}.pem "$work/prev/"
for f in key crt; do cp -a "$pristine/$carol.next.$f.pem" "$work/next/$carol.$f.pem"; done
"$tool" id publish "$carol" --ttl 60 --dir "$work/prev" >/dev/null
to_prev=$(seal "$alice" "$carol")
"$tool" id publish "$carol" --ttl 60 --dir "$work/next" >/dev/null
to_next=$(seal "$alice" "$carol")
"$tool" id publish "$carol" --ttl 60 --dir "$pristine" >/dev/null
ids=$work/carol-run
in_either() {   # in_either HASH FILE...: one of the files holds the content with HASH
	local want=$1 f
	shift
	for f in "$@"; do [ "$(sum "$f")" = "$want" ] && return 0; done
	return 1
}
opens_carol() {   # opens_carol WHAT FILE
	local out rc=0
	out=$("$tool" open --as "$carol" --dir "$ids" --in "$2" --no-replay-cache 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then pass; else fail "$1: exit $rc: $out"; fi
}
interrupted() {   # interrupted WHERE: the checks after a stopped rollover
	local msg rc=0
	msg=$(mktemp -p "$work" msg.XXXXXX)
	echo "from carol" | "$tool" seal --from "$carol" --to "$alice" --dir "$ids" >"$msg" ||
		rc=$?
	[ "$rc" -eq 0 ] && pass || fail "$1: carol cannot sign (exit $rc)"
	opens "$1: carol's signature verifies" "$alice" "$msg"
	opens_carol "$1: in flight to the previous key" "$to_prev"
	opens_carol "$1: in flight to the next key" "$to_next"
	in_either "$prev_key" "$ids/$carol.key.pem" "$ids/$carol.old.key.pem" && pass ||
		fail "$1: the previous key is lost"
	in_either "$prev_x" "$ids/$carol.x25519.key.pem" "$ids/$carol.old.x25519.key.pem" && pass ||
		fail "$1: the previous X25519 key is lost"
	in_either "$next_key" "$ids/$carol.key.pem" "$ids/$carol.next.key.pem" && pass ||
		fail "$1: the next key is lost"
	"$tool" id tlsa "$carol" --dir "$ids" >/dev/null 2>&1 && pass || fail "$1: id tlsa fails"
}
completed() {   # completed WHERE: the checks after the run that finishes it
	[ "$(sum "$ids/$carol.key.pem")" = "$next_key" ] && pass || fail "$1: next is not current"
	[ "$(sum "$ids/$carol.old.key.pem")" = "$prev_key" ] && pass || fail "$1: old key not kept"
	[ "$(sum "$ids/$carol.old.x25519.key.pem")" = "$prev_x" ] && pass ||
		fail "$1: old X25519 key not kept"
	local left
	# Not the file whose removal was made to fail: that one cannot be helped.
	left=$(cd "$ids" && ls -A | grep -v -e '\.old\.' -e '\.\(key\|crt\|csr\)\.pem$' \
		-e "^$(basename "$2")\$" || true)
	[ -z "$left" ] && pass || fail "$1: files left over: $left"
	[ ! -e "$ids/$carol.next.key.pem" ] && [ ! -e "$ids/$carol.x25519.key.pem" ] && pass ||
		fail "$1: next or stale X25519 files remain"
	opens_carol "$1: the previous key still decrypts" "$to_prev"
	rc=0; "$tool" id rollover "$carol" --dir "$ids" >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ] && [ "$(sum "$ids/$carol.old.key.pem")" = "$prev_key" ] && pass ||
		fail "$1: a third run (exit $rc) must change nothing"
}
shimmed() {   # shimmed VAR=VALUE...: id rollover carol under the fault-injection shim
	# ASan wants to come first among the libraries; the shim does not use it.
	local asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	env LD_PRELOAD="$shim" ASAN_OPTIONS="$asan" "$@" "$tool" id rollover "$carol" --dir "$ids"
}
points=0
for mode in eio exit; do
	for ((at = 1; ; at++)); do
		rm -rf "$ids" "$work/fault"
		cp -a "$pristine" "$ids"
		rc=0
		shimmed DANEMSG_FAULT_AT=$at DANEMSG_FAULT_MODE=$mode \
			DANEMSG_FAULT_REPORT="$work/fault" >/dev/null 2>&1 || rc=$?
		[ -e "$work/fault" ] || break       # past the last change: nothing left to stop
		read -r call path <"$work/fault"
		where="$mode at change $at ($call $(basename "$path"))"
		points=$((points + 1))
		interrupted "$where"
		# A run that ignored the fault (a temporary file it could not remove) is complete.
		[ "$rc" -eq 0 ] || "$tool" id rollover "$carol" --dir "$ids" >"$work/out" 2>&1 ||
			{ rc=$?; fail "$where: the second run: exit $rc: $(cat "$work/out")"; }
		completed "$where" "$(cut -d' ' -f2 "$work/fault")"
	done
	[ "$rc" -eq 0 ] && pass || fail "$mode: an unstopped rollover failed (exit $rc)"
done
[ "$points" -ge 20 ] && pass || fail "only $points points of interruption (the shim is not active?)"

# Where the file system has no hard links, the same steps copy the files instead.
rm -rf "$ids"
cp -a "$pristine" "$ids"
shimmed DANEMSG_FAULT_NO_LINKS=1 >"$work/out" 2>&1 && pass ||
	fail "rollover without hard links: $(cat "$work/out")"
[ "$(stat -c %a "$ids/$carol.key.pem")" = 600 ] &&
	[ "$(stat -c %a "$ids/$carol.old.key.pem")" = 600 ] && pass ||
	fail "without hard links: the copied keys are not 0600"
completed "without hard links" "-"
echo "rollover: interrupted at $points points"

# --delete-old is the one command that deletes the retired key; a rollover refuses while
# it is there.
"$tool" id new "$carol" --next --dir "$ids" >/dev/null
rc=0; "$tool" id rollover "$carol" --dir "$ids" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 31 ] && [ -e "$ids/$carol.next.key.pem" ] && pass ||
	fail "a rollover over a retired key: exit $rc, expected 31 and no change"
"$tool" id rollover "$carol" --delete-old --dir "$ids" >/dev/null && pass || fail "--delete-old"
[ ! -e "$ids/$carol.old.key.pem" ] && [ -e "$ids/$carol.key.pem" ] && pass ||
	fail "--delete-old deletes the old key only"
"$tool" id rollover "$carol" --dir "$ids" >/dev/null && pass || fail "rollover after --delete-old"

finish
