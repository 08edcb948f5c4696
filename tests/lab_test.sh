#!/usr/bin/env bash
# lab_test.sh LAB: checks the lab script LAB (lab/danemsg-lab) against the real knotd and
# mosquitto it starts: two labs at once, DNSSEC, TSIG updates, the insecure child zone,
# the broker and its persistence, the HTTPS server and the PKIX-CD identity, restarts,
# clean shutdown and port conflicts.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

[[ $# -eq 1 && -x $1 ]] || {
	echo "usage: $0 PATH_TO_DANEMSG_LAB" >&2
	exit 2
}
LAB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ZONE=example.net.

for tool in kdig knsupdate keymgr mosquitto_pub mosquitto_sub; do
	command -v "$tool" >/dev/null || {
		echo "lab_test: $tool not found (apt-get install knot knot-dnsutils mosquitto-clients)" >&2
		exit 1
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/danemsg-lab-test.XXXXXX")
work=$(cd "$work" && pwd -P)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
TMP=$work
DANEMSG_LAB=$LAB   # what lib.sh brings down at exit: every lab in labs
START=$SECONDS

# fails COMMAND...: COMMAND fails.
fails()
{
	! "$@"
}

# labvar DIR NAME: NAME's value in DIR/env.
labvar()
{
	(
		# shellcheck disable=SC1091
		. "$1/env"
		printf '%s' "${!2}"
	)
}

dns()
{
	local port=$1
	shift
	kdig @127.0.0.1 -p "$port" +timeout=2 +retry=1 "$@"
}

# True if PID no longer runs (a zombie counts as gone: PID 1 may not reap orphans).
gone()
{
	[[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# update PORT KEYFILE ZONE COMMAND...: an RFC 2136 update, output on stdout.
update()
{
	local port=$1 key=$2 zone=$3
	shift 3
	{
		echo "server 127.0.0.1 $port"
		echo "zone $zone"
		printf '%s\n' "$@"
		echo send
	} | knsupdate -t 5 -k "$key"
}

TLSA_DATA="3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

# ---------------------------------------------------------------------------------------
# 1. Two labs at once

A=$TMP/lab-a
B=$TMP/lab-b
labs="$labs $A $B"
"$LAB" up "$A" >"$TMP/up-a" 2>&1 &
up_a=$!
"$LAB" up "$B" >"$TMP/up-b" 2>&1 &
up_b=$!
rc_a=0 rc_b=0
wait "$up_a" || rc_a=$?
wait "$up_b" || rc_b=$?
cp "$TMP/up-a" "$TMP/out"
if ((rc_a == 0)); then pass "lab A comes up"; else fail "lab A comes up (exit $rc_a)" "$TMP/out"; fi
cp "$TMP/up-b" "$TMP/out"
if ((rc_b == 0)); then pass "lab B comes up at the same time"; else fail "lab B comes up (exit $rc_b)" "$TMP/out"; fi
((rc_a == 0 && rc_b == 0)) || {
	say "the labs did not start; nothing else to test"
	finish
	exit 1
}
check "status of lab A: both servers run" 0 "$LAB" status "$A"
check "status of lab B: both servers run" 0 "$LAB" status "$B"

A_DNS=$(labvar "$A" DANEMSG_DNS_PORT)
A_MQTT=$(labvar "$A" DANEMSG_MQTT_PORT)
B_DNS=$(labvar "$B" DANEMSG_DNS_PORT)
B_MQTT=$(labvar "$B" DANEMSG_MQTT_PORT)
A_KNOT_PID=$(cat "$A/knot.pid")
A_MQTT_PID=$(cat "$A/mosquitto.pid")
A_HTTPS=$(labvar "$A" DANEMSG_HTTPS_PORT)
B_HTTPS=$(labvar "$B" DANEMSG_HTTPS_PORT)
A_HTTPS_PID=$(cat "$A/https.pid")

six_ports_differ()
{
	echo "A: dns $A_DNS mqtt $A_MQTT https $A_HTTPS; B: dns $B_DNS mqtt $B_MQTT https $B_HTTPS"
	[[ $(printf '%s\n' "$A_DNS" "$A_MQTT" "$A_HTTPS" "$B_DNS" "$B_MQTT" "$B_HTTPS" |
		sort -u | wc -l) -eq 6 ]]
}
check "the two labs use six different ports" 0 six_ports_differ

env_is_complete()
{
	local dir=$1 tsig
	cat "$dir/env"
	[[ $(labvar "$dir" DANEMSG_LAB_DIR) == "$dir" ]] &&
		[[ $(labvar "$dir" DANEMSG_RESOLVER) == "127.0.0.1@$(labvar "$dir" DANEMSG_DNS_PORT)" ]] &&
		[[ $(labvar "$dir" DANEMSG_BROKER) == "mqtt://127.0.0.1:$(labvar "$dir" DANEMSG_MQTT_PORT)" ]] &&
		[[ $(labvar "$dir" DANEMSG_ZONE) == "$ZONE" ]] &&
		[[ $(labvar "$dir" DANEMSG_TRUST_ANCHOR) == "$dir/trust-anchor" ]] &&
		[[ $(labvar "$dir" DANEMSG_PKIX_CD_CONNECT) == "127.0.0.1:$(labvar "$dir" DANEMSG_HTTPS_PORT)" ]] &&
		[[ $(labvar "$dir" DANEMSG_PKIX_CD_NAME) == "pkixcd._device.${ZONE%.}" ]] &&
		[[ $(labvar "$dir" DANEMSG_WEB_CA) == "$dir/web-ca.pem" ]] &&
		[[ $(labvar "$dir" DANEMSG_DEVICE_CA) == "$dir/device-ca.pem" ]] &&
		[[ $(labvar "$dir" DANEMSG_HTTPS_ROOT) == "$dir/www" ]] &&
		[[ -d $(labvar "$dir" DANEMSG_PKIX_CD_DIR) ]] || return 1
	tsig=$(labvar "$dir" DANEMSG_TSIG)
	[[ $tsig =~ ^hmac-sha256:[A-Za-z0-9._-]+:[A-Za-z0-9+/]+=*$ ]] &&
		[[ $tsig == "$(cat "$dir/tsig.key")" ]] &&
		[[ $(stat -c %a "$dir/tsig.key") == 600 ]]
}
check "env of lab A has every variable; tsig.key matches and is 0600" 0 env_is_complete "$A"

# The PKIX-CD identity: a signed 4 0 0 record whose certificate the device CA issued, and
# that CA served over HTTPS at device.ZONE under its key id, behind the lab's Web CA.
PKIX_NAME=$(labvar "$A" DANEMSG_PKIX_CD_NAME)
PKIX_CERT=$(labvar "$A" DANEMSG_PKIX_CD_DIR)/$PKIX_NAME.crt.pem
pkix_cd_record_signed()
{
	local out der
	out=$(dns "$A_DNS" +dnssec +multiline TLSA "$PKIX_NAME.") || return 1
	echo "$out"
	grep -Eq "RRSIG[[:space:]]+TLSA" <<<"$out" || return 1
	der=$(openssl x509 -in "$PKIX_CERT" -outform DER | od -An -v -tx1 | tr -d ' \n')
	dns "$A_DNS" +short TLSA "$PKIX_NAME." | tr -d ' ' | tr A-F a-f | grep -qx "400$der"
}
check "the PKIX-CD identity's 4 0 0 record is served, signed, with its certificate" 0 \
	pkix_cd_record_signed
pkix_cd_key_and_issuer()
{
	local key=${PKIX_CERT%.crt.pem}.key.pem
	[[ $(stat -c %a "$key") == 600 ]] &&
		openssl verify -CAfile "$A/device-ca.pem" "$PKIX_CERT" &&
		openssl x509 -in "$PKIX_CERT" -noout -ext subjectAltName | grep -q "DNS:$PKIX_NAME" &&
		cmp <(openssl pkey -in "$key" -pubout) <(openssl x509 -in "$PKIX_CERT" -noout -pubkey) &&
		openssl pkey -in "$key" -noout -text | grep -q "Private-Key: (2048 bit"
}
check "its RSA-2048 key (0600) and certificate, issued by the device CA, naming it" 0 \
	pkix_cd_key_and_issuer
# fetch_ca DIR [CURL OPTIONS]: the device CA from the authority, as the reference names it
fetch_ca()
{
	local dir=$1 aki
	shift
	aki=$(openssl x509 -in "$dir/device-ca.pem" -noout -ext subjectKeyIdentifier | tail -n 1 |
		tr -d ' ' | tr 'A-F:' 'a-f-')
	curl -sSf --max-time 5 --connect-to "device.${ZONE%.}:443:$(labvar "$dir" DANEMSG_PKIX_CD_CONNECT)" \
		"$@" "https://device.${ZONE%.}/.well-known/ca/$aki.pem"
}
served_ca_is_device_ca()
{
	cmp <(fetch_ca "$A" --cacert "$A/web-ca.pem") "$A/device-ca.pem"
}
check "https://device.ZONE/.well-known/ca/AKI.pem serves the device CA" 0 served_ca_is_device_ca
check "... behind the lab's Web CA only (the system's store refuses it)" 0 \
	fails fetch_ca "$A" --capath /etc/ssl/certs
check "... and not lab B's Web CA" 0 fails fetch_ca "$A" --cacert "$B/web-ca.pem"

up_again_refused()
{
	local out
	! out=$("$LAB" up "$A" 2>&1) || return 1
	echo "$out"
	grep -q "already running" <<<"$out" && "$LAB" status "$A" &&
		[[ $(labvar "$A" DANEMSG_DNS_PORT) == "$A_DNS" && $(cat "$A/knot.pid") == "$A_KNOT_PID" ]]
}
check "up on a running lab is refused, saying so, and the lab runs on" 0 up_again_refused

# ---------------------------------------------------------------------------------------
# 2. DNSSEC: DNSKEY with RRSIG; the trust anchor is the DS of the served KSK

# dnskey_signed PORT [ZONE]
dnskey_signed()
{
	local out zone=${2:-$ZONE}
	out=$(dns "$1" +dnssec DNSKEY "$zone")
	echo "$out"
	grep -Eq "^${zone}[[:space:]].*[[:space:]]DNSKEY[[:space:]]+257 3 13 " <<<"$out" &&
		grep -Eq "^${zone}[[:space:]].*[[:space:]]RRSIG[[:space:]]+DNSKEY 13 " <<<"$out"
}
check "lab A serves DNSKEY (ECDSA P-256) with RRSIG" 0 dnskey_signed "$A_DNS"
check "lab B serves DNSKEY (ECDSA P-256) with RRSIG" 0 dnskey_signed "$B_DNS"

trust_anchor_matches()
{
	local dir=$1 port=$2 ta tags tag
	ta=$(cat "$dir/trust-anchor")
	echo "$ta"
	grep -Eqx "$ZONE DS [0-9]+ 13 2 [0-9a-fA-F]{64}" <<<"$ta" || return 1
	! grep -Evq "^$ZONE DS [0-9]+ 13 [0-9]+ [0-9a-fA-F]+$" <<<"$ta" || return 1
	# every DS names a KSK that the server publishes
	tags=$(dns "$port" +multiline DNSKEY "$ZONE" | sed -n 's/.*KSK.* id = \([0-9]*\).*/\1/p')
	echo "served KSK key ids: $tags"
	while read -r _ _ tag _; do
		grep -qx "$tag" <<<"$tags" || return 1
	done <<<"$ta"
	# and its SHA-256 digest is that KSK's, computed independently by ldns
	if command -v ldns-key2ds >/dev/null; then
		dns "$port" +noall +answer DNSKEY "$ZONE" | grep -E '[[:space:]]257 3 13 ' >"$TMP/ksk"
		ldns-key2ds -n -2 "$TMP/ksk" | awk '{ print $5, $6, $7, toupper($8) }' >"$TMP/ds.ldns"
		awk '$5 == 2 { print $3, $4, $5, toupper($6) }' <<<"$ta" >"$TMP/ds.lab"
		echo "ldns: $(cat "$TMP/ds.ldns")"
		diff "$TMP/ds.ldns" "$TMP/ds.lab"
	fi
}
check "trust anchor of lab A: DS lines for the served KSK" 0 trust_anchor_matches "$A" "$A_DNS"
different_keys()
{
	cat "$A/trust-anchor" "$B/trust-anchor"
	! cmp -s "$A/trust-anchor" "$B/trust-anchor"
}
check "the two labs have different keys" 0 different_keys

# ---------------------------------------------------------------------------------------
# 3. A TLSA record added with the lab's TSIG key is served signed

check "knsupdate with lab A's TSIG key adds a TLSA record" 0 \
	update "$A_DNS" "$A/tsig.key" "$ZONE" \
	"update add alice._device.$ZONE 60 IN TLSA $TLSA_DATA"

tlsa_signed()
{
	local out
	out=$(dns "$1" +dnssec TLSA "$2")
	echo "$out"
	grep -Eq "^$2[[:space:]].*TLSA[[:space:]]+3 1 1 0123456789ABCDEF" <<<"$out" &&
		grep -Eq "^$2[[:space:]].*RRSIG[[:space:]]+TLSA 13 " <<<"$out"
}
check "the TLSA record is served with an RRSIG" 0 tlsa_signed "$A_DNS" "alice._device.$ZONE"

no_tlsa()
{
	local out
	out=$(dns "$1" TLSA "$2")
	echo "$out"
	grep -q "status: NXDOMAIN\|ANSWER: 0;" <<<"$out" && ! grep -Eq "TLSA[[:space:]]+3 1 1" <<<"$out"
}
check "lab B does not have lab A's record" 0 no_tlsa "$B_DNS" "alice._device.$ZONE"

# ---------------------------------------------------------------------------------------
# 4. An update with a wrong TSIG secret is refused

keymgr -t "$(cut -d: -f2 <"$A/tsig.key")" hmac-sha256 |
	sed -n 's/^# *//p' >"$TMP/wrong.key"
wrong_key_refused()
{
	local out rc=0
	cat "$TMP/wrong.key"
	out=$(update "$A_DNS" "$TMP/wrong.key" "$ZONE" \
		"update add bob._device.$ZONE 60 IN TLSA $TLSA_DATA" 2>&1) || rc=$?
	echo "$out"
	echo "knsupdate exit $rc"
	((rc != 0)) && grep -Eq "BADSIG|NOTAUTH" <<<"$out"
}
check "an update with a wrong secret (same key name) is refused: BADSIG/NOTAUTH" 0 wrong_key_refused
check "the refused record is not in the zone" 0 no_tlsa "$A_DNS" "bob._device.$ZONE"

no_key_refused()
{
	local out rc=0
	out=$({
		echo "server 127.0.0.1 $A_DNS"
		echo "zone $ZONE"
		echo "update add eve._device.$ZONE 60 IN TLSA $TLSA_DATA"
		echo send
	} | knsupdate -t 5 2>&1) || rc=$?
	echo "$out"
	((rc != 0)) && grep -Eq "REFUSED|NOTAUTH" <<<"$out"
}
check "an update without TSIG is refused" 0 no_key_refused
check "the unsigned update's record is not in the zone" 0 no_tlsa "$A_DNS" "eve._device.$ZONE"

# ---------------------------------------------------------------------------------------
# 5. The unsigned child zone: TLSA without RRSIG, and no DS at the parent (NSEC proof)

check "knsupdate adds a TLSA record in unsigned.$ZONE" 0 \
	update "$A_DNS" "$A/tsig.key" "unsigned.$ZONE" \
	"update add carol._device.unsigned.$ZONE 60 IN TLSA $TLSA_DATA"

tlsa_unsigned()
{
	local out name=carol._device.unsigned.$ZONE
	out=$(dns "$A_DNS" +dnssec TLSA "$name")
	echo "$out"
	grep -Eq "^${name}[[:space:]].*TLSA[[:space:]]+3 1 1 0123456789ABCDEF" <<<"$out" &&
		! grep -q "RRSIG" <<<"$out"
}
check "the record under unsigned.$ZONE is served without RRSIG" 0 tlsa_unsigned

no_ds_with_nsec_proof()
{
	local out nsec
	out=$(dns "$A_DNS" +dnssec DS "unsigned.$ZONE")
	echo "$out"
	grep -q "status: NOERROR" <<<"$out" && grep -q "ANSWER: 0;" <<<"$out" || return 1
	nsec=$(grep -E "^unsigned\.${ZONE}[[:space:]].*IN[[:space:]]+NSEC[[:space:]]" <<<"$out") ||
		return 1
	# the NSEC at the delegation lists NS but not DS, and is signed by the parent
	grep -Eq "[[:space:]]NS([[:space:]]|$)" <<<"$nsec" && ! grep -Eq "[[:space:]]DS([[:space:]]|$)" <<<"$nsec" &&
		grep -Eq "^unsigned\.${ZONE}[[:space:]].*RRSIG[[:space:]]+NSEC 13 .* $ZONE " <<<"$out"
}
check "DS unsigned.$ZONE: no DS, a signed NSEC proves it" 0 no_ds_with_nsec_proof

delegated()
{
	local out
	out=$(dns "$A_DNS" +norec NS "unsigned.$ZONE")
	echo "$out"
	grep -Eq "NS[[:space:]]+ns\.unsigned\.$ZONE" <<<"$out"
}
check "unsigned.$ZONE is delegated with NS records" 0 delegated

# ---------------------------------------------------------------------------------------
# 6. The broker delivers a message

mqtt_roundtrip()
{
	local port=$1 topic="danemsg/lab-test/$RANDOM" msg="hello $RANDOM" sub i
	mosquitto_sub -h 127.0.0.1 -p "$port" -t "$topic" -C 1 -W 5 >"$TMP/sub" 2>&1 &
	sub=$!
	# publish until the subscriber, which may not have subscribed yet, has it
	for ((i = 0; i < 40; i++)); do
		mosquitto_pub -h 127.0.0.1 -p "$port" -t "$topic" -m "$msg" || true
		gone "$sub" && break
		sleep 0.1
	done
	wait "$sub" || true
	cat "$TMP/sub"
	[[ $(head -n 1 "$TMP/sub") == "$msg" ]]
}
check "lab A's broker delivers a published message to a subscriber" 0 mqtt_roundtrip "$A_MQTT"
check "lab B's broker delivers a published message to a subscriber" 0 mqtt_roundtrip "$B_MQTT"

# ---------------------------------------------------------------------------------------
# 7. Restarting one server keeps its port and data

RETAINED="retained $RANDOM$RANDOM"
check "publish a retained message" 0 \
	mosquitto_pub -h 127.0.0.1 -p "$A_MQTT" -q 1 -r -t danemsg/lab-test/retained -m "$RETAINED"
# a persistent session (clean session off) with a QoS 1 message queued while offline
check "a persistent subscriber subscribes and leaves" 0 \
	mosquitto_sub -h 127.0.0.1 -p "$A_MQTT" -c -i lab-test-offline -q 1 -t danemsg/lab-test/queued -E
QUEUED="queued $RANDOM$RANDOM"
check "publish a QoS 1 message for the offline subscriber" 0 \
	mosquitto_pub -h 127.0.0.1 -p "$A_MQTT" -q 1 -t danemsg/lab-test/queued -m "$QUEUED"

mosquitto_stopped()
{
	"$LAB" stop "$A" mosquitto || return 1
	! "$LAB" status "$A" || return 1
	gone "$A_MQTT_PID" || return 1
	! mosquitto_pub -h 127.0.0.1 -p "$A_MQTT" -t x -m x
}
check "stop mosquitto: it exits, status says so, the port refuses" 0 mosquitto_stopped

mosquitto_restarted()
{
	"$LAB" start "$A" mosquitto && "$LAB" status "$A" &&
		[[ $(labvar "$A" DANEMSG_MQTT_PORT) == "$A_MQTT" ]]
}
check "start mosquitto: it runs again on the same port" 0 mosquitto_restarted

got_after_restart()
{
	local out
	out=$(mosquitto_sub -h 127.0.0.1 -p "$A_MQTT" "$@" -C 1 -W 5 2>&1) || true
	echo "$out"
	[[ $out == "$WANT" ]]
}
WANT=$RETAINED check "the retained message survived the restart" 0 \
	got_after_restart -t danemsg/lab-test/retained
WANT=$QUEUED check "the queued QoS 1 message survived the restart" 0 \
	got_after_restart -c -i lab-test-offline -q 1 -t danemsg/lab-test/queued

knot_stopped()
{
	local out
	"$LAB" stop "$A" knot || return 1
	gone "$A_KNOT_PID" || return 1
	! "$LAB" status "$A" || return 1
	out=$(kdig @127.0.0.1 -p "$A_DNS" +timeout=1 +retry=0 SOA "$ZONE" 2>&1) || true
	echo "$out"
	! grep -q "status: NOERROR" <<<"$out"
}
check "stop knot: it exits, status says so, nothing answers" 0 knot_stopped

knot_restarted()
{
	cp "$A/trust-anchor" "$TMP/ta-before"
	"$LAB" start "$A" knot && "$LAB" status "$A" &&
		[[ $(labvar "$A" DANEMSG_DNS_PORT) == "$A_DNS" ]] &&
		cmp "$TMP/ta-before" "$A/trust-anchor"
}
check "start knot: it runs again on the same port" 0 knot_restarted

https_restarted()
{
	"$LAB" stop "$A" https || return 1
	gone "$A_HTTPS_PID" && ! "$LAB" status "$A" && ! fetch_ca "$A" --cacert "$A/web-ca.pem" ||
		return 1
	"$LAB" start "$A" https && "$LAB" status "$A" &&
		[[ $(labvar "$A" DANEMSG_HTTPS_PORT) == "$A_HTTPS" ]] && served_ca_is_device_ca
}
check "stop and start https: it exits, then serves the CA on the same port" 0 https_restarted
check "after the restart the updated TLSA record is still served signed" 0 \
	tlsa_signed "$A_DNS" "alice._device.$ZONE"
check "after the restart the trust anchor still names the served KSK" 0 \
	trust_anchor_matches "$A" "$A_DNS"

# ---------------------------------------------------------------------------------------
# 8. down stops everything; a second down is fine

A_KNOT_PID=$(cat "$A/knot.pid")
A_MQTT_PID=$(cat "$A/mosquitto.pid")
A_HTTPS_PID=$(cat "$A/https.pid")
B_KNOT_PID=$(cat "$B/knot.pid")
B_MQTT_PID=$(cat "$B/mosquitto.pid")
B_HTTPS_PID=$(cat "$B/https.pid")

down_leaves_nothing()
{
	local pid
	"$LAB" down "$1" || return 1
	for pid in "${@:2}"; do
		gone "$pid" || {
			echo "pid $pid still runs: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
			return 1
		}
	done
	! "$LAB" status "$1"
}
check "down lab A: its knotd, mosquitto and lighttpd are gone" 0 \
	down_leaves_nothing "$A" "$A_KNOT_PID" "$A_MQTT_PID" "$A_HTTPS_PID"
check "lab B still runs after lab A went down" 0 "$LAB" status "$B"
check "a second down of lab A exits 0" 0 "$LAB" down "$A"
check "down lab B: its knotd, mosquitto and lighttpd are gone" 0 \
	down_leaves_nothing "$B" "$B_KNOT_PID" "$B_MQTT_PID" "$B_HTTPS_PID"

# ---------------------------------------------------------------------------------------
# 9. Port conflicts and argument errors

if command -v python3 >/dev/null; then
	# holds TCP+UDP on P and TCP on P+1, the ports DANEMSG_LAB_PORT_HINT=P tries first
	python3 -c '
import socket, sys, time
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen()
    p = t.getsockname()[1]
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
        t2 = socket.socket(); t2.bind(("127.0.0.1", p + 1)); t2.listen()
        break
    except OSError:
        t.close()
with open(sys.argv[1] + ".tmp", "w") as f: f.write(str(p))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
' "$TMP/held-port" &
	HOLDER_PID=$!
	pids="$pids $HOLDER_PID"
	for ((i = 0; i < 50; i++)); do
		[[ -s $TMP/held-port ]] && break
		sleep 0.1
	done
	HELD=$(cat "$TMP/held-port" 2>/dev/null || echo 0)
	C=$TMP/lab-c
	labs="$labs $C"
	conflict_avoided()
	{
		echo "held ports: $HELD (TCP+UDP), $((HELD + 1)) (TCP)"
		DANEMSG_LAB_PORT_HINT=$HELD "$LAB" up "$C" --zone Lab-C.Example.ORG 2>&1 || return 1
		local dns mqtt
		dns=$(labvar "$C" DANEMSG_DNS_PORT)
		mqtt=$(labvar "$C" DANEMSG_MQTT_PORT)
		echo "lab C: dns $dns mqtt $mqtt"
		((HELD != 0 && dns != HELD && dns != HELD + 1 && mqtt != HELD && mqtt != HELD + 1)) &&
			"$LAB" status "$C" && mqtt_roundtrip "$mqtt"
	}
	check "up retries other ports when the hinted ports are taken" 0 conflict_avoided
	both_retried()
	{
		grep "cannot bind" "$C/knot.log" && grep "Address already in use" "$C/mosquitto.log"
	}
	check "both servers met the taken port first (their logs say so)" 0 both_retried
	check "lab C serves its --zone, lower-cased, signed" 0 \
		dnskey_signed "$(labvar "$C" DANEMSG_DNS_PORT)" lab-c.example.org.
	check "lab C's env names its zone" 0 \
		test "$(labvar "$C" DANEMSG_ZONE)" = lab-c.example.org.
	check "down lab C" 0 "$LAB" down "$C"
	kill "$HOLDER_PID" 2>/dev/null || true
	wait "$HOLDER_PID" 2>/dev/null || true
	HOLDER_PID=
else
	skip "port conflict" "python3 not found"
fi

refused_zone()
{
	local out
	! out=$("$LAB" up "$TMP/lab-bad" --zone "$1" 2>&1) || return 1
	echo "$out"
	grep -q "special-use" <<<"$out" && [[ ! -e $TMP/lab-bad/lab.state ]]
}
labs="$labs $TMP/lab-bad $TMP/lab-nopath"
for z in lab.test. foo.invalid localhost x.onion. y.home.arpa.; do
	check "up --zone $z is refused with a reason" 0 refused_zone "$z"
done

missing_program()
{
	local out
	mkdir -p "$TMP/empty-bin"
	# with only /usr/sbin:/sbin (which the lab adds) on PATH, kdig is missing
	! out=$(PATH=$TMP/empty-bin "$BASH" "$LAB" up "$TMP/lab-nopath" 2>&1) || return 1
	echo "$out"
	grep -q "knot-dnsutils" <<<"$out" && [[ ! -e $TMP/lab-nopath ]]
}
check "a missing program names its Debian package" 0 missing_program
check "status of a directory without a lab fails" 0 fails "$LAB" status "$TMP"
check "an unknown server name is refused" 0 fails "$LAB" stop "$A" bind9
check "an unknown command is refused" 0 fails "$LAB" restart "$A"
check "up without DIR is refused" 0 fails "$LAB" up
usage_text()
{
	"$LAB" --help | grep "^Usage: danemsg-lab up DIR"
}
check "--help prints the usage" 0 usage_text

say "in $((SECONDS - START)) s"
finish
