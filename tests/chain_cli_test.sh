#!/bin/bash
# seal --with-chain, open --offline and listen --offline against the lab: a receiver with
# no DNS at all (DANEMSG_RESOLVER unset and pointed at a closed port) verifies the sender
# from the chain the message carries, with the lab's trust anchor alone.
# Run by CTest with the lab's environment and DANEMSG_TOOL.
set -u
tool=${DANEMSG_TOOL:?the danemsg binary}
: "${DANEMSG_RESOLVER:?run with the lab environment}" "${DANEMSG_ZONE:?}"
: "${DANEMSG_TRUST_ANCHOR:?}" "${DANEMSG_MQTT_PORT:?}"
work=$(mktemp -d)
lpid=""
cleanup() {
	[ -z "$lpid" ] || kill -KILL "$lpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export DANEMSG_DIR=$work/ids HOME=$work
unset IDENTITY_NAME CRYPTO_PATH
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok    $1"; }
bad() {
	failed=$((failed + 1))
	echo "FAIL  $1"
	sed 's/^/      /' "$work/err" 2>/dev/null | tail -5
}
# expect EXIT DESCRIPTION COMMAND...: the command's exit status must be EXIT
expect() {
	local want=$1 what=$2 got=0
	shift 2
	"$@" >"$work/out" 2>"$work/err" </dev/null || got=$?
	[ "$got" -eq "$want" ] && ok "$what (exit $got)" || bad "$what: exit $got, not $want"
}
# offline COMMAND...: with no DNS server to ask (a closed port, if anything tried)
offline() { DANEMSG_RESOLVER=127.0.0.1@1 "$@"; }

zone=${DANEMSG_ZONE%.}
alice=alice._device.chain$$.$zone bob=bob._device.chain$$.$zone
for n in "$alice" "$bob"; do
	{ "$tool" id new "$n" --key p256 && "$tool" id publish "$n" --ttl 60 --no-confirm; } \
		>"$work/err" 2>&1 || { bad "create and publish $n"; exit 1; }
done
printf 'no dns here' | "$tool" seal --from "$alice" --to "$bob" --with-chain \
	--out "$work/chained" 2>"$work/err" && ok "seal --with-chain" || bad "seal --with-chain"
printf 'plain' | "$tool" seal --from "$alice" --to "$bob" --out "$work/plain" 2>"$work/err" ||
	bad "seal"
# the digest's last digit changed: another key's DS for the same zone
sed 's/[0-9A-Fa-f]$/&X/; s/0X$/1/; s/[1-9A-Fa-f]X$/0/' "$DANEMSG_TRUST_ANCHOR" >"$work/wrong-anchor"
: >"$work/empty-anchor"

open_chained() { "$tool" open --as "$bob" --no-replay-cache --in "$work/chained" "$@"; }
expect 0 "open --offline: sender verified from the carried chain" offline open_chained --offline
grep -qx 'no dns here' "$work/out" && ok "payload" || bad "payload"
expect 0 "open --offline --at iat" offline open_chained --offline --at iat
expect 0 "online open of a chained message" open_chained
expect 22 "open --offline of a message without a chain" offline \
	"$tool" open --as "$bob" --no-replay-cache --in "$work/plain" --offline
expect 11 "open --offline with another zone's anchor" offline open_chained --offline \
	--trust-anchor "$work/wrong-anchor"
grep -q 'no-anchor' "$work/err" && ok "reason no-anchor" || bad "reason no-anchor"
expect 11 "online open checks the carried chain first" open_chained \
	--trust-anchor "$work/wrong-anchor" --root-anchor ''
grep -q 'DNSSEC chain no-anchor' "$work/err" && ok "reason: the chain" || bad "reason: the chain"
expect 15 "open --offline without a trust anchor" env -u DANEMSG_TRUST_ANCHOR \
	"$tool" open --as "$bob" --in "$work/chained" --offline
expect 15 "open --offline with an anchor file that holds none" offline open_chained \
	--offline --trust-anchor "$work/empty-anchor"
expect 2 "--at takes now or iat" open_chained --offline --at yesterday
expect 0 "open --help" "$tool" open --help
grep -q -- '--offline' "$work/out" && grep -q -- '--at now|iat' "$work/out" &&
	ok "open --help names --offline and --at" || bad "open --help"
expect 0 "seal --help" "$tool" seal --help
grep -q -- '--with-chain' "$work/out" && ok "seal --help names --with-chain" || bad "seal --help"

# listen --offline: the chained message delivered, the plain one refused.
ready=$work/ready
offline "$tool" listen --as "$bob" --offline --once --ready-file "$ready" \
	--state "$work/state" >"$work/listen.out" 2>"$work/listen.err" &
lpid=$!
for _ in $(seq 150); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] && ok "listen --offline subscribed" || bad "listen --offline subscribed"
for f in plain chained; do
	mosquitto_pub -h 127.0.0.1 -p "$DANEMSG_MQTT_PORT" -q 1 -t "$bob" -f "$work/$f"
done
# --once: it exits after the first delivery (generous bound for a loaded machine)
for _ in $(seq 300); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
stuck=0
kill -TERM "$lpid" 2>/dev/null && stuck=1   # still running after 30 s
rc=0
wait "$lpid" || rc=$?
[ "$stuck" -eq 0 ] || rc=124
lpid=""
cp "$work/listen.err" "$work/err"
[ "$rc" -eq 0 ] && grep -q "says: no dns here" "$work/listen.out" &&
	ok "listen --offline delivered the chained message" ||
	bad "listen --offline delivered the chained message (exit $rc)"
grep -q "carries no DNSSEC chain" "$work/listen.err" &&
	ok "listen --offline refused the message without a chain" ||
	bad "listen --offline refused the message without a chain"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
