#!/bin/bash
# Key rollover, as docs/identities.md describes it, against the lab: not one message is
# refused while a recipient (Ed25519 + X25519) and a sender (P-256) roll their keys.
set -euo pipefail
tool=${DANEMSG_TOOL:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DANEMSG_DIR=$work/ids
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

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
	if [ "$rc" -eq 0 ]; then ok; else bad "$1: exit $rc: $out"; fi
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
[ "$(records "$bob")" -eq 4 ] && ok || bad "bob should publish 4 records during rollover"
during=$(seal "$alice" "$bob")                      # senders pick the newest key
opens "sealed to the next key, before bob's switch" "$bob" "$during"
"$tool" id rollover "$bob" >/dev/null
opens "in flight, sealed to the old key, after the switch" "$bob" "$before"
opens "sealed during the overlap, after the switch" "$bob" "$(seal "$alice" "$bob")"
"$tool" id publish "$bob" --ttl 60 >/dev/null       # the old record goes
[ "$(records "$bob")" -eq 2 ] && ok || bad "bob should publish 2 records after rollover"
opens "after the old record is gone" "$bob" "$(seal "$alice" "$bob")"
"$tool" id check "$bob" >/dev/null && ok || bad "id check after recipient rollover"

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
[ "$rc" -eq 22 ] && ok || bad "a message signed with the retired key: exit $rc, expected 22"

echo "rollover: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
