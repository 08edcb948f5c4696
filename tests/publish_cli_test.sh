#!/bin/bash
# danemsg id publish / id check against the lab's knot: UPDATE with TSIG, kdig sees the
# signed records, refusals have their exit code, --add keeps what is there.
set -euo pipefail
tool=${DANEMSG_TOOL:?}
: "${DANEMSG_RESOLVER:?}" "${DANEMSG_TSIG:?}" "${DANEMSG_ZONE:?}" "${DANEMSG_DNS_PORT:?}"
. "$(dirname "$0")/lib.sh"
export DANEMSG_DIR=$work/ids

tlsa() {   # tlsa NAME: the TLSA RRset (and RRSIG) as the server has it
	kdig @127.0.0.1 -p "$DANEMSG_DNS_PORT" +tcp +dnssec +nostats +noquestion \
		"$1" TLSA >"$work/dig"
}
dig_count() {   # dig_count PATTERN: lines of the last tlsa answer that match
	count "$work/dig" "$1"
}

name="pub$$._device.${DANEMSG_ZONE%.}"
check "id new" 0 "$tool" id new "$name"

# Publish with the lab's defaults (DANEMSG_RESOLVER, DANEMSG_TSIG); 3 0 0, TTL 300.
check "id publish" 0 "$tool" id publish "$name" --no-confirm
expect "zone found" "$work/out" "zone ${DANEMSG_ZONE}"
tlsa "$name"
expect "kdig sees NOERROR" "$work/dig" "status: NOERROR"
expect "kdig sees the TLSA 3 0 0" "$work/dig" "TLSA[[:space:]]*3 0 0 "
expect "kdig sees its RRSIG" "$work/dig" "RRSIG[[:space:]]*TLSA 13 "
expect "TTL 300" "$work/dig" "[[:space:]]300[[:space:]]*IN[[:space:]]*TLSA"
[ "$(dig_count 'IN[[:space:]]*TLSA')" -eq 1 ] && pass "one TLSA record expected" ||
	fail "one TLSA record expected" "$work/dig"

# The whole certificate in the record: the same octets as 'id tlsa' prints.
"$tool" id tlsa "$name" | awk '{print tolower($NF)}' >"$work/want"
kdig @127.0.0.1 -p "$DANEMSG_DNS_PORT" +tcp +short "$name" TLSA | tr -d ' ' | tr A-F a-f |
	sed -n 's/^300//p' >"$work/got"
if [ -s "$work/got" ] && cmp -s "$work/want" "$work/got"; then pass "published data as id tlsa"
else fail "published data differs" "$work/want" "$work/got"; fi

# A wrong TSIG secret: refused, exit 30, the message names the reason; nothing changes.
bad="hmac-sha256:danemsg-lab:$(head -c 32 /dev/urandom | base64)"
check "wrong TSIG secret" 30 "$tool" id publish "$name" --tsig "$bad" --ttl 60 --no-confirm
expect "names NOTAUTH" "$work/err" "server refused the update: NOTAUTH"
expect "names BADSIG" "$work/err" "BADSIG"
assert "secret not echoed" eval '! grep -qF -- "${bad##*:}" "$work/err"'
tlsa "$name"
expect "records unchanged after refusal" "$work/dig" "[[:space:]]300[[:space:]]*IN[[:space:]]*TLSA"
check "unknown TSIG key" 30 "$tool" id publish "$name" --tsig "nokey$$:${DANEMSG_TSIG##*:}" \
	--no-confirm
expect "names BADKEY" "$work/err" "BADKEY"

# The key from a file, BIND form; explicit --server and --zone.
alg=${DANEMSG_TSIG%%:*} rest=${DANEMSG_TSIG#*:}
printf 'key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n' "${rest%%:*}" "$alg" "${rest#*:}" \
	>"$work/tsig.conf"
check "--tsig-file, --server, --zone, 3 1 1, --ttl" 0 env -u DANEMSG_TSIG "$tool" id publish \
	"$name" --tsig-file "$work/tsig.conf" --server "$DANEMSG_RESOLVER" \
	--zone "$DANEMSG_ZONE" --usage 3 --selector 1 --matching 1 --ttl 120 --no-confirm
tlsa "$name"
expect "replaced by 3 1 1" "$work/dig" "TLSA[[:space:]]*3 1 1 "
expect_not "old 3 0 0 gone" "$work/dig" "TLSA[[:space:]]*3 0 0 "

# --add keeps both.
check "publish --add" 0 "$tool" id publish "$name" --add --ttl 120 --no-confirm
tlsa "$name"
expect "--add: 3 1 1 still there" "$work/dig" "TLSA[[:space:]]*3 1 1 "
expect "--add: 3 0 0 added" "$work/dig" "TLSA[[:space:]]*3 0 0 "

# Failures that are not refusals.
start=$(date +%s)
check "nothing listening: temporary" 13 "$tool" id publish "$name" --server 127.0.0.1@9 \
	--no-confirm
[ $(($(date +%s) - start)) -lt 5 ] && pass "slow failure" ||
	fail "slow failure"
check "no TSIG key" 2 env -u DANEMSG_TSIG -u DANEMSG_TSIG_FILE "$tool" id publish "$name"
check "bad TSIG spec" 2 "$tool" id publish "$name" --tsig "hmac-sha999:k:AAAA"
expect "bad spec named" "$work/err" "is not supported"
check "no server" 2 env -u DANEMSG_RESOLVER "$tool" id publish "$name"
check "server is a host name" 2 "$tool" id publish "$name" --server ns1.example.net
check "no such identity" 1 "$tool" id publish "nobody$$.${DANEMSG_ZONE%.}"
check "missing NAME" 2 "$tool" id publish
check "bad --ttl" 2 "$tool" id publish "$name" --ttl -1
check "publish --help" 0 "$tool" id publish --help
expect "publish help: exit codes" "$work/out" "Exit status"
check "check --help" 0 "$tool" id check --help
expect "check help: exit codes" "$work/out" "Exit status"

# --- Confirmation and id check: need the DNSSEC-validating resolver (src/dns/resolver.c). ---
check "publish with confirmation" 0 "$tool" id publish "$name"
expect "confirmed secure" "$work/out" "confirmed: the records are live and DNSSEC-secure"
check "id show sees it" 0 "$tool" id show "$name"
check "id check: published and secure" 0 "$tool" id check "$name"
expect "check says so" "$work/out" "DNS securely publishes the local certificate"
check "id check --warn-days 400 warns" 0 "$tool" id check "$name" --warn-days 400
expect "expiry warning" "$work/out" "WARNING: the current signing certificate expires in"
check "id new --force (a new key, not published)" 0 "$tool" id new "$name" --force
check "id check: records do not match" 16 "$tool" id check "$name"
expect "mismatch named" "$work/err" "do not match the local certificate"
other="none$$._device.${DANEMSG_ZONE%.}"
check "id new (never published)" 0 "$tool" id new "$other"
check "id check: not found" 12 "$tool" id check "$other"
check "publish ed25519 (two certificates), confirmed" 0 sh -c \
	"'$tool' id new '$other' --key ed25519 --force >/dev/null && '$tool' id publish '$other'"
expect "two records live" "$work/out" "2 of 2 published records live"
check "id check ed25519" 0 "$tool" id check "$other"
expect "X25519 certificate checked" "$work/out" "X25519 certificate: *published"
uname="u$$.unsigned.${DANEMSG_ZONE%.}"
check "id new in the unsigned zone" 0 "$tool" id new "$uname"
check "publish into an unsigned zone: update ok, lookup insecure" 10 "$tool" id publish \
	"$uname" --confirm-wait 0
expect "unsigned zone found" "$work/out" "zone unsigned.${DANEMSG_ZONE}"
check "id check: insecure" 10 "$tool" id check "$uname"

# id publish --remove (revocation): the retired key's records by default, or --record;
# never the last usable record without --force; confirmed gone in DNS.
rname="rm$$._device.${DANEMSG_ZONE%.}"
check "remove: id new" 0 "$tool" id new "$rname"
check "remove: publish" 0 "$tool" id publish "$rname" --ttl 60
check "remove: no retired key yet" 1 "$tool" id publish "$rname" --remove
expect "remove: says there is none" "$work/err" "no retired key"
check "remove: id new --next" 0 "$tool" id new "$rname" --next
check "remove: publish both" 0 "$tool" id publish "$rname" --ttl 60
"$tool" id tlsa "$rname" --ttl 60 | sed -n 1p | awk '{print $NF}' >"$work/old.hex"
check "remove: rollover" 0 "$tool" id rollover "$rname"
check "remove: the retired key's record" 0 "$tool" id publish "$rname" --remove
expect "remove: confirmed gone" "$work/out" "confirmed: the records are gone"
tlsa "$rname"
[ "$(dig_count 'IN[[:space:]]*TLSA')" -eq 1 ] && pass "remove: one record should remain" ||
	fail "remove: one record should remain" "$work/dig"
tr -d ' \n' <"$work/dig" | tr A-F a-f | grep -q "$(cat "$work/old.hex")" &&
	fail "remove: the old record is still there" || pass "remove: the old record is gone"
check "remove: the new key still authenticates" 0 "$tool" id check "$rname"
check "remove: again: nothing to remove" 0 "$tool" id publish "$rname" --remove
expect "remove: says so" "$work/out" "nothing to remove"
current=$("$tool" id tlsa "$rname" | sed -n 1p | cut -d' ' -f5-)
check "remove: the last usable record refused" 14 "$tool" id publish "$rname" --remove \
	--record "$current"
expect "remove: refusal says why" "$work/err" "would leave no usable TLSA record"
tlsa "$rname"
[ "$(dig_count 'IN[[:space:]]*TLSA')" -eq 1 ] && pass "remove: a refusal changed it" ||
	fail "remove: a refusal changed it" "$work/dig"
check "remove: the last one with --force" 0 "$tool" id publish "$rname" --remove --force \
	--record "$current"
tlsa "$rname"
[ "$(dig_count 'IN[[:space:]]*TLSA')" -eq 0 ] && pass "remove --force: records remain" ||
	fail "remove --force: records remain" "$work/dig"
check "remove: --record not a record" 2 "$tool" id publish "$rname" --remove --record "3 1 1 xyz"
check "remove: --record bad number" 2 "$tool" id publish "$rname" --remove --record "256 1 1 ab"
check "remove: --record odd hex" 2 "$tool" id publish "$rname" --remove --record "3 1 1 abc"
check "remove: --add with --remove" 2 "$tool" id publish "$rname" --remove --add
check "remove: --force without --remove" 2 "$tool" id publish "$rname" --force

# Names of any valid length: 72 octets (a UUID under a long organisation domain) and 253
# (the most DNS allows) publish, confirm and carry a message both ways.
zone=${DANEMSG_ZONE%.}
uuid=0f8c2a34-5b6d-4e7f-8a9b-$(printf '%012d' $$)
mid=$(printf '%0*d' $((72 - 46 - ${#zone})) 0 | tr 0 s)
l63=$(printf '%063d' 0 | tr 0 l)
long="$l63.$l63.$l63.$(printf '%0*d' $((253 - 3 * 64 - 9 - ${#zone})) $$)._device.$zone"
n72=$uuid.$mid._device.$zone
for n in "$n72" "$long"; do
	check "${#n}-octet name: id new" 0 "$tool" id new "$n" --key ed25519
	check "${#n}-octet name: publish, confirmed" 0 "$tool" id publish "$n"
	expect "${#n}-octet name: both records live" "$work/out" "2 of 2 published records live"
	check "${#n}-octet name: id check" 0 "$tool" id check "$n"
	check "${#n}-octet name: seal" 0 sh -c "echo hello | '$tool' seal --from '$n' --to '$n' \
		--out '$work/long.msg'"
	check "${#n}-octet name: open" 0 "$tool" open --as "$n" --in "$work/long.msg"
	expect "${#n}-octet name: the message" "$work/out" "hello"
	timeout 30 "$tool" listen --as "$n" --once --ready-file "$work/ready" \
		>"$work/listen.out" 2>"$work/listen.err" &
	lpid=$!
	pids="$pids $lpid"
	for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
	check "${#n}-octet name: send" 0 "$tool" send --from "$n" --to "$n" "over MQTT"
	check "${#n}-octet name: listen (default state folder)" 0 wait "$lpid"
	expect "${#n}-octet name: delivered" "$work/listen.out" "over MQTT"
	rm -f "$work/ready"
done
# Their state sits where their keys do: beside them, or in the long name's own folder.
[ -f "$DANEMSG_DIR/$n72.replay" ] && [ -d "$DANEMSG_DIR/$n72.listen/spool" ] &&
	[ -f "$DANEMSG_DIR/$long/replay" ] && [ -d "$DANEMSG_DIR/$long/listen/spool" ] &&
	pass "state beside the keys" || fail "state beside the keys"
[ "${#long}" -eq 253 ] && [ "${#n72}" -eq 72 ] && pass "names of ${#n72} and ${#long} octets, not 72, 253" ||
	fail "names of ${#n72} and ${#long} octets, not 72, 253"

finish
