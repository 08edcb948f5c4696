#!/bin/bash
# seal --with-chain, open --offline and listen --offline against the lab: a receiver with
# no DNS at all (DANEMSG_RESOLVER unset and pointed at a closed port) verifies the sender
# from the chain the message carries, with the lab's trust anchor alone.
# Run by CTest with the lab's environment and DANEMSG_TOOL.
set -u
tool=${DANEMSG_TOOL:?the danemsg binary}
: "${DANEMSG_RESOLVER:?run with the lab environment}" "${DANEMSG_ZONE:?}"
: "${DANEMSG_TRUST_ANCHOR:?}" "${DANEMSG_MQTT_PORT:?}"
. "$(dirname "$0")/lib.sh"
export DANEMSG_DIR=$work/ids HOME=$work
unset IDENTITY_NAME CRYPTO_PATH
# offline COMMAND...: with no DNS server to ask (a closed port, if anything tried)
offline() { DANEMSG_RESOLVER=127.0.0.1@1 "$@"; }

zone=${DANEMSG_ZONE%.}
alice=alice._device.chain$$.$zone bob=bob._device.chain$$.$zone
for n in "$alice" "$bob"; do
	{ "$tool" id new "$n" --key p256 && "$tool" id publish "$n" --ttl 60 --no-confirm; } \
		>"$work/err" 2>&1 || { fail "create and publish $n" "$work/err"; exit 1; }
done
printf 'no dns here' | "$tool" seal --from "$alice" --to "$bob" --with-chain \
	--out "$work/chained" 2>"$work/err" && pass "seal --with-chain" ||
	fail "seal --with-chain" "$work/err"
printf 'plain' | "$tool" seal --from "$alice" --to "$bob" --out "$work/plain" 2>"$work/err" ||
	fail "seal" "$work/err"
# the digest's last digit changed: another key's DS for the same zone
sed 's/[0-9A-Fa-f]$/&X/; s/0X$/1/; s/[1-9A-Fa-f]X$/0/' "$DANEMSG_TRUST_ANCHOR" >"$work/wrong-anchor"
: >"$work/empty-anchor"

open_chained() { "$tool" open --as "$bob" --no-replay-cache --in "$work/chained" "$@"; }
check "open --offline: sender verified from the carried chain" 0 offline open_chained --offline
grep -qx 'no dns here' "$work/out" && pass "payload" || fail "payload" "$work/err"
check "open --offline --at iat" 0 offline open_chained --offline --at iat
check "online open of a chained message" 0 open_chained
check "open --offline of a message without a chain" 22 offline \
	"$tool" open --as "$bob" --no-replay-cache --in "$work/plain" --offline
check "open --offline with another zone's anchor" 11 offline open_chained --offline \
	--trust-anchor "$work/wrong-anchor"
grep -q 'no-anchor' "$work/err" && pass "reason no-anchor" ||
	fail "reason no-anchor" "$work/err"
check "online open checks the carried chain first" 11 open_chained \
	--trust-anchor "$work/wrong-anchor" --root-anchor ''
grep -q 'DNSSEC chain no-anchor' "$work/err" && pass "reason: the chain" ||
	fail "reason: the chain" "$work/err"
check "open --offline without a trust anchor" 15 env -u DANEMSG_TRUST_ANCHOR \
	"$tool" open --as "$bob" --in "$work/chained" --offline
check "open --offline with an anchor file that holds none" 15 offline open_chained \
	--offline --trust-anchor "$work/empty-anchor"
check "--at takes now or iat" 2 open_chained --offline --at yesterday
check "open --help" 0 "$tool" open --help
grep -q -- '--offline' "$work/out" && grep -q -- '--at now|iat' "$work/out" &&
	pass "open --help names --offline and --at" || fail "open --help" "$work/err"
check "seal --help" 0 "$tool" seal --help
grep -q -- '--with-chain' "$work/out" && pass "seal --help names --with-chain" ||
	fail "seal --help" "$work/err"

# listen --offline: the chained message delivered, the plain one refused.
ready=$work/ready
offline "$tool" listen --as "$bob" --offline --once --ready-file "$ready" \
	--state "$work/state" >"$work/listen.out" 2>"$work/listen.err" &
lpid=$!
pids="$pids $lpid"
for _ in $(seq 150); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] && pass "listen --offline subscribed" ||
	fail "listen --offline subscribed" "$work/err"
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
	pass "listen --offline delivered the chained message" ||
	fail "listen --offline delivered the chained message (exit $rc)" "$work/err"
grep -q "carries no DNSSEC chain" "$work/listen.err" &&
	pass "listen --offline refused the message without a chain" ||
	fail "listen --offline refused the message without a chain" "$work/err"

finish
