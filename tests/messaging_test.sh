#!/bin/bash
# danemsg send and listen against real servers: the lab's knot and mosquitto
# (docs/messaging.md). One part per run, so that CTest runs them side by side:
#   basic    help and usage; exit 40 for a broker that is unreachable or silent; DNS exit
#            codes; delivery alice -> bob as text; a captured message published again is
#            refused as replayed (also after a restart); a flood of garbage, forged and
#            oversized payloads leaves the listener delivering; --format json; --exec
#            with its environment, retried when the command fails; --compat; MQTT 5 with
#            a session kept while the listener is away; flags > environment > config file
#   durable  100 messages sent while the listener is away all arrive exactly once; the
#            listener killed with SIGKILL mid-stream loses nothing on restart; libmosquitto
#            sends no PUBACK before on_message returns (what the spool relies on)
#   state    text output escaped (one message, one line; open on a terminal too, not to a
#            pipe); a state folder others can write is refused and a planted journal.tmp
#            link not followed; a damaged journal stops the listener; the disk full during
#            delivery (a 256 KiB tmpfs; root only): every message delivered once and, after
#            a restart, every copy refused
#   outage   (a private lab, so that stopping servers disturbs no other test) the broker
#            restarted mid-stream loses nothing and delivers nothing twice; with knot
#            stopped, a message from an uncached sender waits (temporary) without holding
#            up others, and is delivered once knot is back
#   versions MQTT 5 by default: mosquitto never sends the listener a message over its
#            Maximum-Packet-Size (with --mqtt 3.1.1 it does, and the listener refuses it);
#            nats-server (JetStream on, MQTT 3.1.1 only): send and listen with the default
#            settings fall back to 3.1.1 and deliver on a {to_path} topic (NATS refuses
#            dots); send --mqtt 5 does not fall back (40)
#   failover several brokers (--broker repeatable, URL lists, DANEMSG_BROKER, the config
#            file): send takes the next when one is unreachable, exit 40 when all are;
#            listen starts on the second when the first is away, and moves on to the third
#            when its broker is killed (SIGKILL): messages before and after, each once;
#            two listeners sharing $share/GROUP/TOPIC (mosquitto): each message to one
#   poison   20,000 messages from senders whose DNS fails (SERVFAIL, or never answers:
#            tests/dns_fault_proxy.py) ahead of 100 legitimate ones: all 100 delivered in a
#            bound the test states, memory bounded; a 15 s bogus answer is retried and the
#            message delivered; retries are bounded, the retry queue too
#   subzones poison from 40 subzones that never answer (each a new zone) does not hold up a
#            sender seen before, nor, for longer than the hanging lookups, a new one
#   quarantine  bounded retries; the quarantine bounded in bytes; danemsg quarantine
#            list, show (escaped), retry (judged as of the first arrival), purge
#   metrics  --metrics scraped while messages flow: the counters match what was sent; only
#            GET /metrics; listen --status reads the same from the state folder; SIGHUP
#            reloads who is allowed from the config file without a reconnect or a lost
#            message, and a config that does not parse keeps the settings in use
# Every listener is stopped with SIGTERM and must exit 0 (under ASan: without leaks).
# Run by CTest with the lab's environment, DANEMSG_TOOL and DANEMSG_LAB.
set -u
part=${1:?usage: messaging_test.sh basic|durable|outage|versions|failover|state|poison|subzones|quarantine|metrics}
tool=${DANEMSG_TOOL:?the danemsg binary}
lab=${DANEMSG_LAB:?the lab script}
: "${DANEMSG_RESOLVER:?run with the lab environment}" "${DANEMSG_ZONE:?}" "${DANEMSG_BROKER:?}"
: "${DANEMSG_MQTT_PORT:?}" "${DANEMSG_DNS_PORT:?}"
started=$(date +%s)

. "$(dirname "$0")/lib.sh"
private_lab=""
mounted=""
shm=""
at_exit '[ -z "$mounted" ] || umount "$mounted"'
at_exit '[ -z "$shm" ] || rm -rf "$shm"'
export DANEMSG_DIR=$work/ids
unset IDENTITY_NAME CRYPTO_PATH MQTT_HOST MQTT_PORT DANEMSG_MQTT_USERNAME DANEMSG_MQTT_PASSWORD
export HOME=$work   # no ~/.config/danemsg/config but ours
now_ms() { date +%s%3N; }

zone=${DANEMSG_ZONE%.}
tag=msg$$
name() { printf '%s-%s._device.%s' "$tag" "$1" "$zone"; }
new_id() {   # new_id NAME [KEYTYPE]: created and published in the current lab's zone
	"$tool" id new "$1" --key "${2:-p256}" >"$work/id.out" 2>&1 &&
		"$tool" id publish "$1" --ttl 60 --no-confirm >>"$work/id.out" 2>&1 ||
		{ fail "create and publish $1" "$work/id.out"; return 1; }
}
pub() {   # pub TOPIC FILE: publish FILE's bytes as one message, QoS 1
	mosquitto_pub -h 127.0.0.1 -p "$DANEMSG_MQTT_PORT" -q 1 -t "$1" -f "$2"
}

# listen_start OUT ERR ARGS...: a listener in the background; sets $lpid once subscribed
listen_start() {
	local out=$1 err=$2 ready=$work/ready.$RANDOM
	shift 2
	"$tool" listen --ready-file "$ready" "$@" >>"$out" 2>>"$err" &
	lpid=$!
	pids="$pids $lpid"
	local deadline=$(($(date +%s) + 15))
	while [ ! -s "$ready" ]; do
		if ! kill -0 "$lpid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
			fail "listener $* did not subscribe" "$err"
			return 1
		fi
		sleep 0.05
	done
	rm -f "$ready"
}
# listen_stop DESCRIPTION: SIGTERM, and it must exit 0
listen_stop() {
	local rc=0
	kill -TERM "$lpid" 2>/dev/null
	wait "$lpid" || rc=$?
	if [ "$rc" -eq 0 ]; then pass "$1: SIGTERM, exit 0"; else
		fail "$1: exit $rc after SIGTERM"; fi
}
# lines FILE PREFIX N: the messages PREFIX-1..PREFIX-N each printed exactly once?
exactly_once() {
	local file=$1 prefix=$2 n=$3 i missing=0 dups
	for i in $(seq "$n"); do
		grep -qx -- ".* says: $prefix-$i" "$file" || missing=$((missing + 1))
	done
	dups=$(grep -- " says: $prefix-" "$file" | sort | uniq -d | wc -l)
	echo "$missing $dups"
}

# ---------------------------------------------------------------------------------------
basic() {
	local alice bob carol ghost ra rb state t0 t1 i insecure huge
	alice=$(name alice) bob=$(name bob) carol=$(name carol) ghost=$(name ghost)
	new_id "$alice" && new_id "$bob" && new_id "$carol" || return
	"$tool" id new "$ghost" >/dev/null 2>&1   # never published: unknown in DNS
	state=$DANEMSG_DIR/$bob.listen

	check "send --help" 0 "$tool" send --help
	expect "send --help names --timeout-broker" "$work/out" "--timeout-broker"
	check "listen --help" 0 "$tool" listen --help
	expect "listen --help names --ready-file" "$work/out" "--ready-file"
	check "send without --to: usage" 2 "$tool" send --from "$alice" hello
	check "listen without --as: usage" 2 "$tool" listen
	check "send to an http:// broker: usage" 2 "$tool" send --from "$alice" --to "$bob" \
		--broker http://127.0.0.1 hello
	check "send --mqtt 4: usage" 2 "$tool" send --from "$alice" --to "$bob" --mqtt 4 hello
	check "listen --workers 0: usage" 2 "$tool" listen --as "$bob" --workers 0

	t0=$(now_ms)
	check "broker unreachable: exit 40" 40 "$tool" send --from "$alice" --to "$bob" \
		--broker mqtt://127.0.0.1:1 hello
	t1=$(now_ms)
	if [ $((t1 - t0)) -lt 3000 ]; then pass "exit 40 quickly ($((t1 - t0)) ms)"; else
		fail "exit 40 took $((t1 - t0)) ms"; fi
	expect "says why" "$work/err" "mqtt://127.0.0.1:1: cannot connect: Connection refused"
	# knot's port takes TCP connections and never answers MQTT
	check "broker silent: exit 40 after --timeout-broker" 40 "$tool" send --from "$alice" \
		--to "$bob" --broker "mqtt://127.0.0.1:$DANEMSG_DNS_PORT" --timeout-broker 2 hello
	check "recipient unknown in DNS: exit 12" 12 "$tool" send --from "$alice" \
		--to "nobody$$._device.$zone" hello
	insecure=$tag-ins._device.unsigned.$zone
	if new_id "$insecure"; then
		check "recipient in an unsigned zone: exit 10" 10 "$tool" send --from "$alice" \
			--to "$insecure" hello
	fi

	# ---- delivery, text ----
	# MQTT 3.1.1: the broker then hands over the 2 MB message of the flood below, so that the
	# listener's own limit is tested (with MQTT 5 the broker drops it: part versions)
	listen_start "$work/bob.out" "$work/bob.log" --as "$bob" --mqtt 3.1.1 || return
	check "send alice -> bob" 0 "$tool" send --from "$alice" --to "$bob" hello
	wait_for "$work/bob.out" "says: hello" 1 15
	expect "bob prints '<sender> says: hello'" "$work/bob.out" "^$alice says: hello\$"
	expect "one log line: accepted, dnssec secure" "$work/bob.log" "^20[0-9-]+T[0-9:]+Z \
accepted from $alice \(dnssec secure, native, id [A-Za-z0-9_-]{22}\)"
	printf 'from standard input' | "$tool" send --from "$alice" --to "$bob" - 2>"$work/err" ||
		fail "send - (standard input)" "$work/err"
	wait_for "$work/bob.out" "says: from standard input" 1 15
	expect "message from standard input" "$work/bob.out" "^$alice says: from standard input\$"

	# ---- a captured message, published again by hand ----
	printf 'captured' | "$tool" seal --from "$alice" --to "$bob" --out "$work/captured" ||
		fail "seal the message to capture"
	pub "$bob" "$work/captured"
	wait_for "$work/bob.out" "says: captured" 1 15
	pub "$bob" "$work/captured"
	wait_for "$work/bob.log" "rejected: replayed" 1 15
	expect "the same bytes again: rejected as replayed" "$work/bob.log" "rejected: replayed"
	expect "quarantine/*.reason says replayed" <(cat "$state"/quarantine/*.reason 2>/dev/null) \
		"^reason: replayed"
	[ "$(count "$work/bob.out" "says: captured")" -eq 1 ] && pass "captured delivered once" ||
		fail "captured delivered $(count "$work/bob.out" "says: captured") times"

	# ---- garbage, forgeries, oversize: the listener keeps going ----
	head -c 3000 /dev/urandom >"$work/g1"
	head -c 200000 /dev/urandom >"$work/g2"
	head -c 2000000 /dev/zero >"$work/huge"
	printf '{"a":1}' >"$work/g3"
	printf '{"protected":"eyJhbGciOiJub25lIn0","iv":"AA","ciphertext":"AA","tag":"AA"}' \
		>"$work/g4"
	printf '[%.0s' $(seq 5000) >"$work/g5"
	: >"$work/empty"
	printf 'forged' | "$tool" seal --from "$ghost" --to "$bob" --out "$work/forged" \
		2>/dev/null || fail "seal from an identity not in DNS"
	printf 'for carol' | "$tool" seal --from "$alice" --to "$carol" --out "$work/carols" ||
		fail "seal to carol"
	for f in g1 g2 huge g3 g4 g5 empty forged carols; do pub "$bob" "$work/$f"; done
	head -c 20000 /dev/urandom | base64 -w 150 |
		mosquitto_pub -h 127.0.0.1 -p "$DANEMSG_MQTT_PORT" -q 1 -t "$bob" -l
	check "send after the flood" 0 "$tool" send --from "$alice" --to "$bob" "after the flood"
	if wait_for "$work/bob.out" "says: after the flood" 1 30; then
		pass "delivering after the flood"
	else
		fail "nothing after the flood" "$work/bob.log"
	fi
	kill -0 "$lpid" 2>/dev/null && pass "listener alive after the flood" ||
		fail "listener died in the flood" "$work/bob.log"
	expect "forged sender: unknown-sender" "$work/bob.log" "rejected: unknown-sender: "
	expect "for carol: not-for-me" "$work/bob.log" "rejected: not-for-me: "
	expect "random bytes: malformed" "$work/bob.log" "rejected: malformed: "
	expect "2 MB: too-large, not stored" "$work/bob.log" "rejected: too-large: 2000000 bytes"
	huge=$(sha256sum <"$work/huge" | cut -c1-64)
	[ -e "$(echo "$state"/quarantine/"$huge".*.reason)" ] &&
		[ ! -e "$(echo "$state"/quarantine/"$huge".*.msg)" ] &&
		pass "too-large: a .reason, no payload stored" || fail "too-large in quarantine"
	[ "$(ls "$state"/quarantine/*.reason | wc -l)" -ge 100 ] &&
		pass "every refusal has its .reason" || fail "quarantine: too few .reason files"
	[ -z "$(ls "$state"/spool)" ] && pass "spool empty" || fail "spool not empty"
	listen_stop "listener after the flood"
	expect "log: stopped" "$work/bob.log" "stopped: [0-9]+ delivered"

	# the captured message once more, after a restart: still a replay
	listen_start "$work/bob2.out" "$work/bob2.log" --as "$bob" || return
	pub "$bob" "$work/captured"
	wait_for "$work/bob2.log" "rejected: replayed" 1 15
	expect "after a restart: replayed" "$work/bob2.log" "rejected: replayed"
	expect_not "after a restart: not delivered" "$work/bob2.out" "captured"
	listen_stop "listener after a restart"

	# ---- --format json ----
	listen_start "$work/json.out" "$work/json.log" --as "$bob" --format json || return
	"$tool" send --from "$alice" --to "$bob" --expires 600 "json message" 2>"$work/err" ||
		fail "send for json" "$work/err"
	wait_for "$work/json.out" "json message" 1 15
	if /usr/bin/python3 - "$work/json.out" "$alice." "$bob." <<'EOF'
import json, sys
o = json.loads(open(sys.argv[1]).read().splitlines()[0])
assert o["from"] == sys.argv[2], o
assert o["to"] == [sys.argv[3]], o
assert o["payload"] == "json message", o
assert o["dnssec"] == "secure" and o["format"] == "native", o
assert isinstance(o["iat"], int) and o["exp"] == o["iat"] + 600, o
assert isinstance(o["jti"], str) and len(o["jti"]) == 22, o
EOF
	then pass "--format json: from, to, payload, dnssec, iat, exp, jti"; else
		fail "--format json" "$work/json.out"; fi
	listen_stop "json listener"

	# ---- --exec: the payload on stdin, facts in the environment; retried on failure ----
	cat >"$work/deliver.sh" <<EOF
#!/bin/sh
body=\$(cat)
if [ ! -e "$work/failed-once" ]; then : >"$work/failed-once"; exit 3; fi
printf '%s|%s|%s|%s|%s|%s|%s\n' "\$body" "\$DANEMSG_FROM" "\$DANEMSG_TO" "\$DANEMSG_JTI" \
	"\$DANEMSG_IAT" "\$DANEMSG_DNSSEC" "\$DANEMSG_FORMAT" >>"$work/exec.out"
EOF
	chmod +x "$work/deliver.sh"
	listen_start "$work/exec.stdout" "$work/exec.log" --as "$bob" --exec "$work/deliver.sh" ||
		return
	"$tool" send --from "$alice" --to "$bob" "exec message" 2>"$work/err" ||
		fail "send for exec" "$work/err"
	wait_for "$work/exec.out" "exec message" 1 15
	expect "--exec: payload and DANEMSG_FROM, _TO, _JTI, _IAT, _DNSSEC, _FORMAT" \
		"$work/exec.out" \
		"^exec message\|$alice\|$bob\|[A-Za-z0-9_-]{22}\|[0-9]{10}\|secure\|native\$"
	expect "--exec: exit 3 is retried" "$work/exec.log" \
		"retry in 1 s: not delivered: the command exited with status 3"
	[ "$(wc -l <"$work/exec.out")" -eq 1 ] && pass "--exec: delivered once" ||
		fail "--exec delivered $(wc -l <"$work/exec.out") times"
	listen_stop "exec listener"

	# ---- --compat, for and from the reference system (RSA identities) ----
	ra=$(name ra) rb=$(name rb)
	new_id "$ra" rsa2048 && new_id "$rb" rsa2048 || return
	# strict by default: a listener without --compat refuses the reference format
	listen_start "$work/rb0.out" "$work/rb0.log" --as "$rb" || return
	check "send --compat to a default listener" 0 \
		"$tool" send --compat --from "$ra" --to "$rb" "compat refused"
	wait_for "$work/rb0.log" "rejected: unsupported" 1 15
	expect "without --compat: refused, and the log names the option" "$work/rb0.log" \
		"rejected: unsupported: .*--compat"
	expect_not "without --compat: not delivered" "$work/rb0.out" "compat refused"
	listen_stop "default listener"
	# a sealed message over 4096 bytes: the reference receiver would drop it silently
	big=$(head -c 3000 /dev/zero | tr '\0' x)
	check "send --compat, 3000 bytes" 0 "$tool" send --compat --from "$ra" --to "$rb" "$big"
	expect "send --compat warns over the reference receiver's 4096 bytes" "$work/err" \
		"WARNING: .*4096"
	check "send --compat, 5 bytes" 0 "$tool" send --compat --from "$ra" --to "$rb" "small"
	expect_not "send --compat: no warning under 4096 bytes" "$work/err" "WARNING"
	listen_start "$work/rb.out" "$work/rb.log" --as "$rb" --compat || return
	check "send --compat" 0 "$tool" send --compat --from "$ra" --to "$rb" "compat hello"
	wait_for "$work/rb.out" "says: compat hello" 1 15
	expect "--compat delivered" "$work/rb.out" "^$ra says: compat hello\$"
	expect "--compat logged as compat" "$work/rb.log" \
		"accepted from $ra \(dnssec secure, compat"
	listen_stop "compat listener"
	# the configuration file can accept it; either flag overrides the file
	printf 'compat = yes\n' >"$work/compat.conf"
	listen_start "$work/rb.out" "$work/rb.log" --as "$rb" --config "$work/compat.conf" ||
		return
	"$tool" send --compat --from "$ra" --to "$rb" "compat by config" 2>"$work/err" ||
		fail "send --compat (config)" "$work/err"
	wait_for "$work/rb.out" "says: compat by config" 1 15 ||
		fail "compat = yes in the config file: not delivered" "$work/rb.log"
	listen_stop "compat listener (config file)"
	listen_start "$work/rb.out" "$work/rb1.log" --as "$rb" --config "$work/compat.conf" \
		--no-compat || return
	"$tool" send --compat --from "$ra" --to "$rb" "compat flag wins" 2>"$work/err" ||
		fail "send --compat (flag over config)" "$work/err"
	wait_for "$work/rb1.log" "rejected: unsupported" 1 15
	expect_not "--no-compat beats compat = yes in the file" "$work/rb.out" "compat flag wins"
	listen_stop "--no-compat listener (config file says yes)"

	# ---- MQTT 5: the session (Session-Expiry-Interval) keeps messages while away ----
	listen_start "$work/v5.out" "$work/v5.log" --as "$carol" --mqtt 5 || return
	listen_stop "MQTT 5 listener, first run"
	for i in 1 2 3; do
		"$tool" send --mqtt 5 --from "$alice" --to "$carol" "v5-$i" 2>"$work/err" ||
			fail "send --mqtt 5 v5-$i" "$work/err"
	done
	i=0
	timeout 30 "$tool" listen --as "$carol" --mqtt 5 --count 3 >"$work/v5.out" \
		2>>"$work/v5.log" || i=$?
	[ "$i" -eq 0 ] && pass "MQTT 5 listener --count 3: exit 0" || fail "--count 3: exit $i"
	[ "$(exactly_once "$work/v5.out" v5 3)" = "0 0" ] &&
		pass "MQTT 5: the 3 messages sent while away, once each" ||
		fail "MQTT 5 offline messages" "$work/v5.out" "$work/v5.log"

	# ---- mqtts:// with --cafile, against a mosquitto of our own with a TLS listener ----
	tls
	# ---- configuration: flags, then environment, then the file ----
	printf '# test\nbroker = mqtt://127.0.0.1:1\ntimeout-broker = 2\n' >"$work/config"
	check "config file's broker when no flag or environment" 40 env -u DANEMSG_BROKER \
		"$tool" send --config "$work/config" --from "$alice" --to "$bob" \
		--topic "$tag/void" x
	check "environment beats the config file" 0 "$tool" send --config "$work/config" \
		--from "$alice" --to "$bob" --topic "$tag/void" x
	check "flag beats the environment" 40 "$tool" send --broker mqtt://127.0.0.1:1 \
		--from "$alice" --to "$bob" --topic "$tag/void" x
	check "IDENTITY_NAME, MQTT_HOST, MQTT_PORT (the reference's)" 0 env -u DANEMSG_BROKER \
		IDENTITY_NAME="$alice" MQTT_HOST=127.0.0.1 MQTT_PORT="$DANEMSG_MQTT_PORT" \
		"$tool" send --to "$bob" --topic "$tag/void" x
	mkdir -p "$work/.config/danemsg"
	printf 'brokr = x\n' >"$work/.config/danemsg/config"
	check "unknown setting in ~/.config/danemsg/config: warned, ignored" 0 "$tool" send \
		--from "$alice" --to "$bob" --topic "$tag/void" x
	expect "warning names the setting" "$work/err" "unknown setting 'brokr'"
	printf 'broker\n' >"$work/.config/danemsg/config"
	check "malformed config line: usage" 2 "$tool" send --from "$alice" --to "$bob" x
	rm -f "$work/.config/danemsg/config"
}

tls() {
	local d=$work/tls port mpid i
	mkdir -p "$d"
	local ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
	# shellcheck disable=SC2086
	if ! (cd "$d" &&
		openssl req -x509 $ec -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca &&
		openssl req $ec -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
		printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
		openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-extfile ext -out srv.crt) >"$d/openssl.log" 2>&1; then
		fail "TLS certificates" "$d/openssl.log"
		return
	fi
	port=$(free_port)
	mosquitto_passwd -b -c "$d/passwd" bob-user 'bob secret' >/dev/null 2>&1
	mosquitto_passwd -b "$d/passwd" alice-user 'alice secret' >/dev/null 2>&1
	printf '%s\n' "listener $port 127.0.0.1" "cafile $d/ca.crt" "certfile $d/srv.crt" \
		"keyfile $d/srv.key" "allow_anonymous false" "password_file $d/passwd" \
		"persistence false" "user $(id -un)" >"$d/mosquitto.conf"
	mosquitto -c "$d/mosquitto.conf" >"$d/mosquitto.log" 2>&1 &
	mpid=$!
	pids="$pids $mpid"
	for i in $(seq 50); do grep -q " running" "$d/mosquitto.log" && break; sleep 0.1; done
	DANEMSG_MQTT_USERNAME=bob-user DANEMSG_MQTT_PASSWORD='bob secret' listen_start \
		"$work/tls.out" "$work/tls.log" --as "$bob" --client-id "$tag-tls" \
		--broker "mqtts://127.0.0.1:$port" --cafile "$d/ca.crt" || return
	check "send over mqtts:// with --cafile, --username, --password" 0 "$tool" send \
		--from "$alice" --to "$bob" --broker "mqtts://127.0.0.1:$port" --cafile "$d/ca.crt" \
		--username alice-user --password 'alice secret' "over tls"
	wait_for "$work/tls.out" "says: over tls" 1 15
	expect "received over mqtts:// (credentials from the environment)" "$work/tls.out" \
		"^$alice says: over tls\$"
	check "mqtts:// without the broker's CA: exit 40" 40 "$tool" send --from "$alice" \
		--to "$bob" --broker "mqtts://127.0.0.1:$port" --timeout-broker 3 \
		--username alice-user --password 'alice secret' x
	expect "says TLS" "$work/err" "TLS failed"
	check "wrong password: refused, exit 40" 40 "$tool" send --from "$alice" --to "$bob" \
		--broker "mqtts://127.0.0.1:$port" --cafile "$d/ca.crt" --username alice-user \
		--password wrong x
	expect "says refused" "$work/err" "refused the connection: "
	expect_not "no password in the message" "$work/err" "wrong"
	listen_stop "TLS listener"
	kill -TERM "$mpid"
	wait "$mpid" 2>/dev/null
}

# ---------------------------------------------------------------------------------------
durable() {
	local alice bob rc i sender r
	alice=$(name alice) bob=$(name bob)
	new_id "$alice" && new_id "$bob" || return

	# ---- bob away (its session exists: it ran once) while alice sends 100 ----
	listen_start "$work/first.out" "$work/bob.log" --as "$bob" || return
	listen_stop "listener, first run"
	seq 100 | xargs -P 2 -I{} "$tool" send --from "$alice" --to "$bob" "away-{}" \
		2>"$work/send.err" || fail "send 100 while the listener is away" "$work/send.err"
	rc=0
	timeout 60 "$tool" listen --as "$bob" --count 100 >"$work/away.out" 2>>"$work/bob.log" ||
		rc=$?
	[ "$rc" -eq 0 ] && pass "listener --count 100: exit 0" || fail "--count 100: exit $rc" \
		"$work/bob.log"
	r=$(exactly_once "$work/away.out" away 100)
	[ "$r" = "0 0" ] && pass "100 sent while away: all delivered, exactly once" ||
		fail "sent while away: missing, duplicated: $r" "$work/bob.log"

	# ---- SIGKILL mid-stream ----
	listen_start "$work/kill.out" "$work/kill.log" --as "$bob" || return
	(for i in $(seq 60); do
		"$tool" send --from "$alice" --to "$bob" "kill-$i" 2>>"$work/kill-send.err" ||
			echo "send kill-$i failed" >>"$work/kill-send.err"
	done) &
	sender=$!
	pids="$pids $sender"
	wait_for "$work/kill.out" "says: kill-" 15 30
	kill -KILL "$lpid"
	wait "$lpid" 2>/dev/null
	say "      killed the listener after $(count "$work/kill.out" "says: kill-") messages"
	wait "$sender"
	[ -s "$work/kill-send.err" ] && fail "sends during the kill" "$work/kill-send.err"
	listen_start "$work/kill.out" "$work/kill.log" --as "$bob" || return
	wait_for "$work/kill.out" "says: kill-" 60 30
	r=$(exactly_once "$work/kill.out" kill 60)
	[ "${r% *}" = 0 ] && pass "SIGKILL mid-stream: nothing lost" ||
		fail "SIGKILL mid-stream: $r (missing, duplicated)" "$work/kill.log"
	# the message in hand when killed may have been printed, but not yet journaled
	[ "${r#* }" -le 1 ] && pass "SIGKILL: at most the message in hand again (${r#* })" ||
		fail "SIGKILL: ${r#* } duplicates"
	listen_stop "listener after SIGKILL"
	[ -z "$(ls "$DANEMSG_DIR/$bob.listen/spool")" ] && pass "spool empty" ||
		fail "spool not empty"
	puback_order
}

# What listen's durability rests on (docs/messaging.md): in threaded mode libmosquitto
# sends a QoS 1 message's PUBACK only after on_message has returned. A client killed
# inside on_message must get the message again.
puback_order() {
	local probe=$work/puback-probe topic=$tag/puback ppid
	if ! command -v cc >/dev/null 2>&1; then
		say "skip  PUBACK after on_message: no C compiler"
		return
	fi
	cat >"$probe.c" <<'EOF'
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void on_subscribe(struct mosquitto *m, void *o, int mid, int n, const int *q)
{
	puts("subscribed");
}
static void on_message(struct mosquitto *m, void *o, const struct mosquitto_message *msg)
{
	printf("got %.*s\n", msg->payloadlen, (char *)msg->payload);
	sleep(*(int *)o);   /* killed in here */
}
int main(int argc, char **argv)
{
	int pause = atoi(argv[3]);
	struct mosquitto *m;
	setvbuf(stdout, NULL, _IOLBF, 0);
	mosquitto_lib_init();
	m = mosquitto_new(argv[4], false, &pause);
	mosquitto_threaded_set(m, true);   /* as listen */
	mosquitto_subscribe_callback_set(m, on_subscribe);
	mosquitto_message_callback_set(m, on_message);
	if (mosquitto_connect(m, "127.0.0.1", atoi(argv[1]), 30) ||
	    mosquitto_subscribe(m, NULL, argv[2], 1))
		return 1;
	while (mosquitto_loop(m, 100, 1) == MOSQ_ERR_SUCCESS)
		;
	return 1;
}
EOF
	if ! cc -o "$probe" "$probe.c" -lmosquitto 2>"$work/cc.err"; then
		fail "compile the PUBACK probe" "$work/cc.err"
		return
	fi
	"$probe" "$DANEMSG_MQTT_PORT" "$topic" 30 "$tag-puback" >"$work/probe1.out" 2>&1 &
	ppid=$!
	pids="$pids $ppid"
	wait_for "$work/probe1.out" "^subscribed" 1 10
	printf 'probe' >"$work/probe.msg"
	pub "$topic" "$work/probe.msg"
	wait_for "$work/probe1.out" "^got probe" 1 10
	kill -KILL "$ppid"
	wait "$ppid" 2>/dev/null
	"$probe" "$DANEMSG_MQTT_PORT" "$topic" 0 "$tag-puback" >"$work/probe2.out" 2>&1 &
	ppid=$!
	pids="$pids $ppid"
	if wait_for "$work/probe2.out" "^got probe" 1 10; then
		pass "libmosquitto: no PUBACK before on_message returns (killed inside: sent again)"
	else
		fail "libmosquitto acknowledged a message before on_message returned: listen can \
lose the message in hand at a crash (docs/messaging.md)" "$work/probe1.out" "$work/probe2.out"
	fi
	kill -TERM "$ppid"
	wait "$ppid" 2>/dev/null
}

# ---------------------------------------------------------------------------------------
outage() {
	local alice bob carol sender i r
	private_lab=$work/lab
	labs="$labs $private_lab"
	if ! "$lab" up "$private_lab" >"$work/lab.out" 2>&1; then
		fail "a private lab" "$work/lab.out"
		return
	fi
	. "$private_lab/env"
	alice=$(name alice) bob=$(name bob) carol=$(name carol)
	new_id "$alice" && new_id "$bob" && new_id "$carol" || return

	# ---- the broker restarted mid-stream; the sender retries (the same sealed bytes) ----
	listen_start "$work/brk.out" "$work/brk.log" --as "$bob" --timeout 1000 || return
	(for i in $(seq 40); do
		"$tool" send --retry 30 --timeout-broker 3 --from "$alice" --to "$bob" "brk-$i" \
			2>>"$work/brk-send.err" || echo "send brk-$i failed" >>"$work/brk-send.fail"
	done) &
	sender=$!
	pids="$pids $sender"
	wait_for "$work/brk.out" "says: brk-" 10 30
	"$lab" stop "$private_lab" mosquitto >>"$work/lab.out" 2>&1 || fail "lab stop mosquitto"
	sleep 1
	"$lab" start "$private_lab" mosquitto >>"$work/lab.out" 2>&1 || fail "lab start mosquitto"
	wait "$sender"
	[ -s "$work/brk-send.fail" ] && fail "sends failed despite --retry" "$work/brk-send.fail"
	wait_for "$work/brk.out" "says: brk-" 40 60
	r=$(exactly_once "$work/brk.out" brk 40)
	[ "$r" = "0 0" ] && pass "broker restarted mid-stream: 40 delivered, exactly once" ||
		fail "broker restart: $r (missing, duplicated)" "$work/brk.log"
	expect "the listener saw the broker go" "$work/brk.log" "lost the connection to"
	expect "and reconnected" "$work/brk.log" "connected to .*session resumed"

	# ---- knot stopped: a fresh sender waits, a known one does not ----
	printf 'while dns is down' | "$tool" seal --from "$carol" --to "$bob" --out "$work/carol" ||
		fail "seal from carol"
	printf 'alice during the outage' | "$tool" seal --from "$alice" --to "$bob" \
		--out "$work/alice" || fail "seal from alice"
	"$lab" stop "$private_lab" knot >>"$work/lab.out" 2>&1 || fail "lab stop knot"
	pub "$bob" "$work/carol"
	pub "$bob" "$work/alice"
	wait_for "$work/brk.out" "says: alice during the outage" 1 20
	expect "a cached sender is delivered during the outage" "$work/brk.out" \
		"says: alice during the outage"
	wait_for "$work/brk.log" "retry in [0-9]+ s: dns-temporary: " 1 20
	expect "the uncached sender waits: retry, dns-temporary" "$work/brk.log" \
		"retry in [0-9]+ s: dns-temporary: .*$carol"
	expect_not "not delivered while knot is down" "$work/brk.out" "while dns is down"
	"$lab" start "$private_lab" knot >>"$work/lab.out" 2>&1 || fail "lab start knot"
	if wait_for "$work/brk.out" "says: while dns is down" 1 40; then
		pass "delivered once knot is back"; else fail "not delivered after knot came back" \
		"$work/brk.log"; fi
	expect_not "nothing quarantined" <(ls "$DANEMSG_DIR/$bob.listen/quarantine") "reason"
	listen_stop "listener after the outages"
}

# ---------------------------------------------------------------------------------------
# The MQTT version: 5 by default, 3.1.1 with a broker that refuses 5 (docs/messaging.md).
versions() {
	local alice bob big v log nats_port mqtt_port npid broker topic opts
	alice=$(name alice) bob=$(name bob)
	new_id "$alice" && new_id "$bob" || return

	# ---- mosquitto speaks 5: the broker bounds what it sends the listener ----
	big=$work/big
	head -c 200000 /dev/zero | tr '\0' x >"$big"
	for v in default 3.1.1; do
		log=$work/mosq-$v.log opts=()
		[ "$v" = default ] || opts=(--mqtt "$v")
		listen_start "$work/mosq-$v.out" "$log" --as "$bob" --max-size 4096 \
			--client-id "$tag-$v" "${opts[@]}" || continue
		pub "$bob" "$big"
		"$tool" send --from "$alice" --to "$bob" "after the big one" 2>"$work/err" ||
			fail "send ($v)" "$work/err"
		wait_for "$work/mosq-$v.out" "says: after the big one" 1 20 ||
			fail "($v) the message after the big one did not arrive" "$log"
		if [ "$v" = default ]; then
			expect_not "MQTT 5 (default): the broker never sends a message over the \
announced Maximum-Packet-Size" "$log" "too-large"
			expect_not "MQTT 5 (default): no fallback with mosquitto" "$log" "MQTT 5"
		else
			expect "--mqtt 3.1.1: the 200 kB message reaches the listener, which refuses it" \
				"$log" "rejected: too-large: 200000 bytes"
		fi
		listen_stop "listener ($v MQTT version) on mosquitto"
	done

	# ---- nats-server speaks only 3.1.1: the default falls back, --mqtt 5 does not ----
	command -v nats-server >/dev/null 2>&1 ||
		{ fail "nats-server is not installed (scripts/deps installs it)"; return; }
	nats_port=$(free_port) mqtt_port=$(free_port)
	printf '%s\n' "server_name: danemsg-test" "listen: 127.0.0.1:$nats_port" \
		"jetstream { store_dir: \"$work/jetstream\", max_memory_store: 64MB, \
max_file_store: 256MB }" "mqtt { listen: 127.0.0.1:$mqtt_port }" >"$work/nats.conf"
	nats-server -c "$work/nats.conf" >"$work/nats.log" 2>&1 &
	npid=$!
	pids="$pids $npid"
	wait_for "$work/nats.log" "Server is ready" 1 20 ||
		{ fail "nats-server did not start" "$work/nats.log"; return; }
	broker=mqtt://127.0.0.1:$mqtt_port
	topic="$tag/{to_path}"   # NATS refuses '.' in topics: the name as a path
	if listen_start "$work/nats.out" "$work/nats-listen.log" --as "$bob" --broker "$broker" \
		--topic "$topic" --client-id "$tag-nats"; then
		expect "listen (default) with NATS: falls back to MQTT 3.1.1, and says so" \
			"$work/nats-listen.log" "does not speak MQTT 5: using 3.1.1"
		check "send (default) with NATS: falls back to 3.1.1, acknowledged" 0 \
			"$tool" send --from "$alice" --to "$bob" --broker "$broker" --topic "$topic" \
			"over nats"
		wait_for "$work/nats.out" "says: over nats" 1 20
		expect "received through NATS with MQTT 3.1.1, topic $topic" "$work/nats.out" \
			"^$alice says: over nats\$"
		expect "... on the name's path" "$work/nats-listen.log" \
			"listening as $bob on $tag/$(tr . '\n' <<<"$bob" | tac | paste -sd/) at"
		listen_stop "listener on NATS"
	fi
	check "send --mqtt 5 with NATS: no fallback, exit 40" 40 "$tool" send --mqtt 5 \
		--from "$alice" --to "$bob" --broker "$broker" --topic "$topic" x
	expect "send --mqtt 5: says why" "$work/err" \
		"refused the connection: [Uu]nsupported [Pp]rotocol [Vv]ersion"
	kill -TERM "$npid"
	wait "$npid" 2>/dev/null
}

# ---------------------------------------------------------------------------------------
# Several brokers (--broker repeatable, lists, the config file): send and listen fail over.
failover() {
	local alice bob lab_broker dead dead2 m2 mpid d=$work/m2 r
	alice=$(name alice) bob=$(name bob)
	new_id "$alice" && new_id "$bob" || return
	lab_broker=mqtt://127.0.0.1:$DANEMSG_MQTT_PORT
	dead=mqtt://127.0.0.1:$(free_port) dead2=mqtt://127.0.0.1:$(free_port)

	# ---- usage ----
	check "brokers with and without TLS mixed: usage" 2 "$tool" send --from "$alice" \
		--to "$bob" --broker "$lab_broker,mqtts://127.0.0.1:1" x
	check "an empty URL in a list: usage" 2 "$tool" send --from "$alice" --to "$bob" \
		--broker "$lab_broker,,$dead" x
	r=$(printf -- "--broker $dead %.0s" $(seq 17))
	# shellcheck disable=SC2086
	check "17 brokers: usage" 2 "$tool" send --from "$alice" --to "$bob" $r x
	expect "... says the bound" "$work/err" "at most 16"

	# ---- send: the next broker when one fails; 40 when every one does ----
	check "send --broker DEAD --broker LIVE: exit 0" 0 "$tool" send --from "$alice" \
		--to "$bob" --broker "$dead" --broker "$lab_broker" --topic "$tag/fo" "one"
	expect "... it says it tries the next" "$work/err" "trying $lab_broker"
	check "send --broker DEAD,DEAD: exit 40" 40 "$tool" send --from "$alice" --to "$bob" \
		--broker "$dead,$dead2" --topic "$tag/fo" x
	expect "... both were tried" "$work/err" "broker $dead2: "
	mkdir -p "$work/.config/danemsg"
	printf 'broker = %s\nbroker = %s\n' "$dead" "$lab_broker" >"$work/.config/danemsg/config"
	check "two broker lines in the config file: the second when the first fails" 0 \
		env -u DANEMSG_BROKER "$tool" send --from "$alice" --to "$bob" --topic "$tag/fo" "two"
	rm -f "$work/.config/danemsg/config"
	DANEMSG_BROKER="$dead,$lab_broker" check "DANEMSG_BROKER=DEAD,LIVE: exit 0" 0 \
		"$tool" send --from "$alice" --to "$bob" --topic "$tag/fo" "three"

	# ---- listen: its broker killed, it goes on with the next ----
	mkdir -p "$d"
	m2=$(free_port)
	printf '%s\n' "listener $m2 127.0.0.1" "allow_anonymous true" "persistence false" \
		"user $(id -un)" >"$d/mosquitto.conf"
	mosquitto -c "$d/mosquitto.conf" >"$d/mosquitto.log" 2>&1 &
	mpid=$!
	pids="$pids $mpid"
	wait_for "$d/mosquitto.log" " running" 1 10 || { fail "a second mosquitto" "$d/mosquitto.log"; return; }
	listen_start "$work/fo.out" "$work/fo.log" --as "$bob" --client-id "$tag-fo" \
		--broker "$dead" --broker "mqtt://127.0.0.1:$m2,$lab_broker" --topic "$tag/in/{to_path}" ||
		return
	expect "listen: the first broker unreachable, the second one next" "$work/fo.log" \
		"cannot connect to $dead: .*; trying mqtt://127.0.0.1:$m2 in 1 s"
	check "send to the listener's broker" 0 "$tool" send --from "$alice" --to "$bob" \
		--broker "mqtt://127.0.0.1:$m2" --topic "$tag/in/{to_path}" "fo-1"
	wait_for "$work/fo.out" "says: fo-1" 1 15
	kill -KILL "$mpid"
	wait "$mpid" 2>/dev/null
	wait_for "$work/fo.log" "connected to $lab_broker" 1 20 ||
		fail "listen did not move to the next broker" "$work/fo.log"
	expect "... it said where it goes" "$work/fo.log" \
		"lost the connection to mqtt://127.0.0.1:$m2: .*; trying $lab_broker in 1 s"
	check "send to the next broker" 0 "$tool" send --from "$alice" --to "$bob" \
		--broker "mqtt://127.0.0.1:$m2" --broker "$lab_broker" --topic "$tag/in/{to_path}" "fo-2"
	wait_for "$work/fo.out" "says: fo-2" 1 15
	[ "$(exactly_once "$work/fo.out" fo 2)" = "0 0" ] &&
		pass "both messages delivered once, before and after the failover" ||
		fail "messages before and after the failover" "$work/fo.out" "$work/fo.log"
	listen_stop "listener after the failover"

	# ---- receivers that scale out on mosquitto: two listeners share $share/GROUP/TOPIC ----
	local l1 l2 n1 n2 total=40
	listen_start "$work/s1.out" "$work/s1.log" --as "$bob" --client-id "$tag-s1" \
		--state "$work/s1" --topic "\$share/$tag/$tag/sh/{to_path}" || return
	l1=$lpid
	listen_start "$work/s2.out" "$work/s2.log" --as "$bob" --client-id "$tag-s2" \
		--state "$work/s2" --topic "\$share/$tag/$tag/sh/{to_path}" || return
	l2=$lpid
	for i in $(seq "$total"); do
		"$tool" send --from "$alice" --to "$bob" --topic "$tag/sh/{to_path}" "sh-$i" \
			2>>"$work/sh.err" || fail "send sh-$i" "$work/sh.err"
	done
	cat "$work/s1.out" "$work/s2.out" >"$work/sh.out"
	for _ in $(seq 200); do
		[ "$(count "$work/sh.out" "says: sh-")" -ge "$total" ] && break
		sleep 0.1
		cat "$work/s1.out" "$work/s2.out" >"$work/sh.out"
	done
	n1=$(count "$work/s1.out" "says: sh-") n2=$(count "$work/s2.out" "says: sh-")
	[ "$(exactly_once "$work/sh.out" sh "$total")" = "0 0" ] &&
		pass "\$share: $total messages delivered once between two listeners ($n1 + $n2)" ||
		fail "\$share: $n1 + $n2 of $total" "$work/s1.log" "$work/s2.log"
	[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && pass "\$share: both listeners took a part" ||
		fail "\$share: one listener took none ($n1 + $n2)"
	lpid=$l1
	listen_stop "first shared listener"
	lpid=$l2
	listen_stop "second shared listener"
}

# ---------------------------------------------------------------------------------------
state() {
	local alice bob st small i r fill
	alice=$(name alice) bob=$(name bob)
	new_id "$alice" && new_id "$bob" || return

	# ---- text output: one message, one line; nothing in it passes for another sender ----
	listen_start "$work/txt.out" "$work/txt.log" --as "$bob" || return
	"$tool" send --from "$alice" --to "$bob" \
		$'hi\nbank._device.example.net says: pay\e[2J \\ \xc2\x85\xff.' 2>"$work/err" ||
		fail "send a payload with controls" "$work/err"
	wait_for "$work/txt.out" "says: " 1 15
	printf '%s says: %s\n' "$alice" 'hi\nbank._device.example.net says: pay\x1b[2J \\ \u0085\xff.' \
		>"$work/txt.expected"
	if cmp -s "$work/txt.out" "$work/txt.expected"; then
		pass "--format text: controls, C1 and bytes that are not UTF-8 escaped, one line"
	else fail "--format text escaping" "$work/txt.out"; fi
	listen_stop "text listener"
	# open: the payload's bytes to a pipe, escaped on a terminal (script gives it a pty)
	printf 'a\033[2Jb\n' | "$tool" seal --from "$alice" --to "$bob" --out "$work/ctl" ||
		fail "seal a payload with controls"
	"$tool" open --as "$bob" --no-replay-cache --in "$work/ctl" >"$work/ctl.out" 2>"$work/err"
	[ "$(od -An -tx1 "$work/ctl.out" | tr -d ' \n')" = 611b5b324a620a ] &&
		pass "open to a pipe: the payload's bytes" || fail "open to a pipe" "$work/ctl.out"
	script -qec "$tool open --as $bob --no-replay-cache --in $work/ctl" /dev/null \
		>"$work/tty.out" 2>&1
	expect "open to a terminal: escaped, one line" "$work/tty.out" '^a\\x1b\[2Jb\\n.?$'

	# ---- the state folder: nobody else may write it, nothing is written through a link ----
	printf 'precious\n' >"$work/victim"
	st=$work/open-state
	mkdir -m 0777 "$st" && ln -s "$work/victim" "$st/journal.tmp"
	# (timeout: a listener that accepted the folder would wait for a message)
	check "listen refuses a state folder that others can write: exit 1" 1 \
		timeout 30 "$tool" listen --as "$bob" --state "$st" --once
	expect "  and says why" "$work/err" "state folder .*open-state is writable by others"
	mkdir -m 0777 "$work/public" && mkdir -m 0700 "$work/public/state"
	check "listen refuses a state folder inside one that others can write: exit 1" 1 \
		timeout 30 "$tool" listen --as "$bob" --state "$work/public/state" --once
	expect "  and names that folder" "$work/err" "in .*/public, which others can write"
	chmod 0700 "$st"
	listen_start "$work/st.out" "$work/st.log" --as "$bob" --state "$st" || return
	pass "a folder of ours (0700, in a sticky folder's tree) is accepted"
	"$tool" send --from "$alice" --to "$bob" "through the state folder" 2>"$work/err" ||
		fail "send" "$work/err"
	wait_for "$work/st.out" "says: through the state folder" 1 15
	listen_stop "listener on a state folder with a planted link"
	[ "$(cat "$work/victim")" = precious ] && pass "the planted journal.tmp link not followed" ||
		fail "journal.tmp link followed: the target was overwritten"
	[ "$(stat -c %a "$st/journal")" = 600 ] && pass "journal is 0600" ||
		fail "journal mode $(stat -c %a "$st/journal")"
	printf 'damaged\n' >>"$st/journal"
	check "a damaged journal stops the listener: exit 1" 1 \
		timeout 30 "$tool" listen --as "$bob" --state "$st" --once
	expect "  naming the file and the line" "$work/err" "journal.*line 2 is damaged"

	# ---- the disk full during delivery: every message delivered once, and remembered ----
	if [ "$(id -u)" -ne 0 ]; then
		say "skip  disk full during delivery: mounting a small tmpfs needs root"
		return
	fi
	small=$work/small
	mkdir -p "$small" && mount -t tmpfs -o size=256k,mode=0700 tmpfs "$small" ||
		{ fail "mount a 256 KiB tmpfs"; return; }
	mounted=$small
	for i in $(seq 40); do
		printf 'full-%s' "$i" | "$tool" seal --from "$alice" --to "$bob" \
			--out "$work/full-$i" 2>"$work/err" || fail "seal full-$i" "$work/err"
	done
	listen_start "$work/full.out" "$work/full.log" --as "$bob" --state "$small/state" || return
	pub "$bob" "$work/full-1"   # the journal has a page of its own before the disk fills
	wait_for "$work/full.out" "says: full-" 1 15
	dd if=/dev/zero of="$small/fill" bs=4096 2>/dev/null
	fill=$(stat -c %s "$small/fill")
	truncate -s $((fill - 4096)) "$small/fill"   # a page free: room for one spool file
	for i in $(seq 2 36); do   # about 150 bytes a record: the journal's page fills up
		pub "$bob" "$work/full-$i"
		wait_for "$work/full.out" "says: full-" "$i" 15 || break
	done
	expect "the journal could not be written while the disk was full" "$work/full.log" \
		"journal cannot record it"
	rm -f "$small/fill"
	say "      $(count "$work/full.log" "journal cannot record it") records waited for room"
	for i in $(seq 37 40); do
		pub "$bob" "$work/full-$i"
		wait_for "$work/full.out" "says: full-" "$i" 15 || break
	done
	listen_stop "listener after the disk was full"
	# a restart, and every message published again: all are known, none delivered twice
	listen_start "$work/full.out" "$work/full2.log" --as "$bob" --state "$small/state" || return
	expect_not "the journal loads whole (no damage, nothing torn)" "$work/full2.log" \
		"damaged|torn"
	for i in $(seq 40); do pub "$bob" "$work/full-$i"; done
	wait_for "$work/full2.log" "rejected: replayed" 40 60
	r=$(exactly_once "$work/full.out" full 40)
	[ "$r" = "0 0" ] && pass "disk full during delivery: 40 delivered, exactly once" ||
		fail "disk full: $r (missing, duplicated)" "$work/full2.log"
	[ "$(count "$work/full2.log" "rejected: replayed")" -eq 40 ] &&
		pass "after the restart all 40 copies refused as replayed" ||
		fail "replayed after the restart: $(count "$work/full2.log" "rejected: replayed") of 40" \
			"$work/full2.log"
	listen_stop "listener after the restart"
}

# ---------------------------------------------------------------------------------------
# dns_proxy: the lab's knot behind tests/dns_fault_proxy.py, as $proxy (ADDR@PORT). Names
# with the label $tag-hang never get an answer; answers for $tag-flaky are corrupted
# (bogus) while $work/corrupt exists.
dns_proxy() {
	local deadline=$(($(date +%s) + 10))
	/usr/bin/python3 "$(dirname "$0")/dns_fault_proxy.py" "$work/proxy.port" \
		"$DANEMSG_DNS_PORT" "$tag-hang" "$tag-flaky" "$work/corrupt" &
	pids="$pids $!"
	while [ ! -s "$work/proxy.port" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
	proxy=127.0.0.1@$(cat "$work/proxy.port")
}

# Bounds this test states (a loaded 2-core machine, ASan): the 100 legitimate messages
# are all delivered within POISON_DELIVER_S of their publication, and the listener's peak
# memory (VmHWM, with ASan's quarantine of freed memory cut to 16 MB) stays under
# POISON_HWM_MB. The state folder is on tmpfs: on a disk, storing each message durably
# (two fsyncs) bounds how fast any listener takes 20,000 messages in, whatever they are.
POISON_COPIES=200          # 100 poison messages x 200 copies = 20,000
POISON_DELIVER_S=60
POISON_HWM_MB=200
poison() {
	local alice bob flaky p i t0 t1=0 tc hwm dir=$work/poison
	alice=$(name alice) bob=$(name bob) flaky=$tag-flaky._device.$zone
	new_id "$alice" && new_id "$bob" && new_id "$flaky" || return
	shm=$(mktemp -d -p /dev/shm) || { fail "a folder on /dev/shm"; return; }
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=16"
	dns_proxy
	mkdir -p "$dir"
	# 50 senders under a zone the server refuses (SERVFAIL), 50 under one that never
	# answers (timeouts); none needs a key in DNS: nothing can be checked before the lookup
	for i in $(seq 50); do
		for p in "p$i._device.$tag-refused.example.org" "p$i._device.$tag-hang.$zone"; do
			"$tool" id new "$p" >/dev/null 2>&1 &&
				printf 'poison' | "$tool" seal --from "$p" --to "$bob" \
					>>"$dir/one-each" 2>/dev/null || fail "seal from $p"
		done
	done
	for i in $(seq 100); do
		printf 'legit-%d' "$i" | "$tool" seal --from "$alice" --to "$bob" >>"$dir/legit" ||
			fail "seal legit-$i"
	done
	printf 'flaky' | "$tool" seal --from "$flaky" --to "$bob" >"$dir/flaky" ||
		fail "seal from $flaky"
	for i in $(seq "$POISON_COPIES"); do cat "$dir/one-each"; done >"$dir/poison"
	[ "$(wc -l <"$dir/poison")" -eq 20000 ] && pass "20,000 poison messages" ||
		fail "$(wc -l <"$dir/poison") poison messages, not 20,000"

	# the path corrupts flaky's answers for 15 s: bogus, retried, then delivered
	: >"$work/corrupt"
	tc=$(date +%s)
	listen_start "$work/p.out" "$work/p.log" --as "$bob" --resolver "$proxy" \
		--state "$shm/state" --retry-max 3 --quarantine-max 30000 \
		--quarantine-max-bytes 200000000 || return
	pub "$bob" "$dir/flaky"
	mosquitto_pub -h 127.0.0.1 -p "$DANEMSG_MQTT_PORT" -q 1 -t "$bob" -l <"$dir/poison" ||
		fail "publish the poison"
	t0=$(date +%s)
	mosquitto_pub -h 127.0.0.1 -p "$DANEMSG_MQTT_PORT" -q 1 -t "$bob" -l <"$dir/legit" ||
		fail "publish the legitimate messages"
	if wait_for "$work/p.out" "says: legit-" 100 "$POISON_DELIVER_S"; then
		t1=$(date +%s)
		pass "behind 20,000 poison messages, 100 legitimate delivered in $((t1 - t0)) s \
(bound $POISON_DELIVER_S s)"
	else
		fail "behind the poison, $(count "$work/p.out" "says: legit-") of 100 delivered \
in $POISON_DELIVER_S s" "$work/p.log"
	fi
	[ "$(exactly_once "$work/p.out" legit 100)" = "0 0" ] && pass "each exactly once" ||
		fail "legit: $(exactly_once "$work/p.out" legit 100) (missing, duplicated)"
	hwm=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$lpid/status")
	[ "${hwm:-999999}" -lt "$POISON_HWM_MB" ] &&
		pass "listener's peak memory ${hwm} MB (bound $POISON_HWM_MB MB)" ||
		fail "listener's peak memory ${hwm} MB over $POISON_HWM_MB MB"
	while [ "$(date +%s)" -lt $((tc + 15)) ]; do sleep 0.5; done
	rm -f "$work/corrupt"
	expect "the corrupted answer is retried" "$work/p.log" "retry in [0-9]+ s: dns-bogus: .*$flaky"
	if wait_for "$work/p.out" "says: flaky" 1 40; then
		pass "bogus for 15 s, then delivered"; else
		fail "not delivered after a transient bogus answer" "$work/p.log"; fi
	expect "the retry queue is bounded: beyond, quarantined" "$work/p.log" \
		"rejected: dns-temporary: the retry queue is full \(16384\)"
	expect "the hanging zone is not asked while it fails" "$work/p.log" \
		"dns-temporary: .*$tag-hang.*not asked again yet"
	[ "$t1" -eq 0 ] || say "figures: 100 delivered $((t1 - t0)) s after publication; peak \
memory $hwm MB; $(count "$work/p.log" "rejected: dns-temporary") poison quarantined so far"
	listen_stop "listener behind the poison"
}

# ---------------------------------------------------------------------------------------
# Poison from many subzones, each a new "zone" (x._device.hN.$tag-hang.$zone, which never
# answers), with the default --workers 1. Bounds this part states (a loaded 2-core
# machine, ASan): a sender seen before is delivered within SUBZONES_KNOWN_S of publication
# while the poison's lookups hang and are retried; a sender never seen before within
# SUBZONES_NEW_S, as it may wait until the lookups that hang have failed.
SUBZONES_N=40
SUBZONES_KNOWN_S=20
SUBZONES_NEW_S=90
subzones() {
	local alice bob carol p i t0 t1 dir=$work/subzones
	alice=$(name alice) bob=$(name bob) carol=$(name carol)
	new_id "$alice" && new_id "$bob" && new_id "$carol" || return
	dns_proxy
	mkdir -p "$dir"
	for i in $(seq "$SUBZONES_N"); do
		p=x._device.h$i.$tag-hang.$zone
		"$tool" id new "$p" >/dev/null 2>&1 &&
			printf 'poison' | "$tool" seal --from "$p" --to "$bob" \
				>>"$dir/poison" 2>/dev/null || fail "seal from $p"
	done
	for i in 0 1 2 3; do
		printf 'alice-%d' "$i" | "$tool" seal --from "$alice" --to "$bob" >"$dir/alice-$i" ||
			fail "seal alice-$i"
	done
	printf 'carol-1' | "$tool" seal --from "$carol" --to "$bob" >"$dir/carol" ||
		fail "seal from $carol"
	listen_start "$work/z.out" "$work/z.log" --as "$bob" --resolver "$proxy" \
		--state "$dir/state" || return
	pub "$bob" "$dir/alice-0"
	wait_for "$work/z.out" "says: alice-0" 1 15 && pass "alice delivered before the flood" ||
		fail "alice's first message not delivered" "$work/z.log"
	mosquitto_pub -h 127.0.0.1 -p "$DANEMSG_MQTT_PORT" -q 1 -t "$bob" -l <"$dir/poison" ||
		fail "publish the poison"
	wait_for "$work/z.log" "dns-temporary: .*$tag-hang" 1 15   # the flood's lookups hang
	t0=$(date +%s)
	for i in 1 2 3; do pub "$bob" "$dir/alice-$i"; done
	if wait_for "$work/z.out" "says: alice-[1-3]$" 3 "$SUBZONES_KNOWN_S"; then
		t1=$(date +%s)
		pass "poison from $SUBZONES_N subzones: alice (seen before) delivered in \
$((t1 - t0)) s (bound $SUBZONES_KNOWN_S s)"
	else
		fail "poison from $SUBZONES_N subzones: $(count "$work/z.out" "says: alice-[1-3]$") \
of 3 from alice delivered in $SUBZONES_KNOWN_S s" "$work/z.log"
	fi
	t0=$(date +%s)
	pub "$bob" "$dir/carol"
	if wait_for "$work/z.out" "says: carol-1$" 1 "$SUBZONES_NEW_S"; then
		pass "carol (never seen) delivered in $(($(date +%s) - t0)) s (bound $SUBZONES_NEW_S s)"
	else
		fail "carol (never seen) not delivered in $SUBZONES_NEW_S s" "$work/z.log"
	fi
	expect "the subzones share their parent's budget" "$work/z.log" \
		"dns-temporary: .*$tag-hang.*other subzones of a parent zone.*not asked again yet"
	listen_stop "listener behind poison from subzones"
}

# ---------------------------------------------------------------------------------------
quarantine() {
	local alice bob p entry n q=("$tool" quarantine) state
	alice=$(name alice) bob=$(name bob) p=p1._device.$tag-refused.example.org
	new_id "$alice" && new_id "$bob" || return
	"$tool" id new "$p" >/dev/null 2>&1 || fail "id new $p"
	state=$DANEMSG_DIR/$bob.listen
	dns_proxy

	check "quarantine without an action: usage" 2 "${q[@]}" --as "$bob"
	check "quarantine --help" 0 "${q[@]}" --help
	expect "--help names retry" "$work/out" "quarantine retry ENTRY"
	# ---- bounded retries; the quarantine bounded in bytes; refused senders ----
	printf 'from a zone that fails' | "$tool" seal --from "$p" --to "$bob" >"$work/q-dns" ||
		fail "seal from $p"
	printf 'held back' | "$tool" seal --from "$alice" --to "$bob" >"$work/q-held" ||
		fail "seal from alice"
	{ printf '\033]0;owned\007\033[2J'; head -c 3000 /dev/zero; } >"$work/q-esc"
	head -c 3000 /dev/urandom >"$work/q-big"
	listen_start "$work/q.out" "$work/q.log" --as "$bob" --resolver "$proxy" \
		--retry-max 1 --allow "$p" --quarantine-max-bytes 6000 || return
	pub "$bob" "$work/q-dns"
	pub "$bob" "$work/q-held"
	pub "$bob" "$work/q-esc"
	wait_for "$work/q.log" "rejected: " 2 15
	pub "$bob" "$work/q-big"
	wait_for "$work/q.log" "rejected: dns-temporary: gave up after 2 attempts" 1 20
	expect "a temporary DNS failure: retried, then quarantined (--retry-max 1)" \
		"$work/q.log" "rejected: dns-temporary: gave up after 2 attempts over [0-9]+ s: "
	expect "over --quarantine-max-bytes: the payload dropped, logged" "$work/q.log" \
		"quarantine is full \(--quarantine-max-bytes 6000\): the payload of [0-9a-f]{12}"
	entry=$(sha256sum <"$work/q-big" | cut -c1-64)
	expect "its reason and first bytes are kept" <(cat "$state"/quarantine/"$entry".*.reason) \
		"^head: .+"
	[ ! -e "$(echo "$state"/quarantine/"$entry".*.msg)" ] &&
		pass "and not its payload" || fail "payload kept over --quarantine-max-bytes"

	check "quarantine list" 0 "${q[@]}" list --as "$bob"
	expect "list: entry, reason, size, time, payload" "$work/out" \
		"^[0-9a-f]{64}\.[0-9]+  dns-temporary  [0-9]+  20[0-9-]+T[0-9:]+Z  (kept|dropped)$"
	expect "list: dropped payloads say so" "$work/out" "  dropped$"
	check "quarantine list --json" 0 "${q[@]}" list --json --state "$state"
	if /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 4, rows
assert {r["reason"] for r in rows} >= {"dns-temporary", "sender-not-allowed"}, rows
assert all(set(r) >= {"entry", "reason", "detail", "size", "received", "payload_kept"}
           for r in rows), rows' "$work/out"; then pass "list --json: one object per entry"
	else fail "list --json" "$work/out"; fi
	entry=$(sha256sum <"$work/q-esc" | cut -c1-12)
	check "quarantine show --payload" 0 "${q[@]}" show --payload --as "$bob" "$entry"
	expect "show: the payload, escaped" "$work/out" '^payload: \\x1b\]0;owned\\x07'
	if ! grep -q $'\033' "$work/out"; then pass "show prints no raw control byte"; else
		fail "show printed a raw escape"; fi
	check "show an unknown entry: 1" 1 "${q[@]}" show --as "$bob" 0123456789ab
	check "retry without ENTRY, --all or --reason: usage" 2 "${q[@]}" retry --as "$bob"
	listen_stop "listener that quarantines"

	# ---- retry: back to the listener, judged as of when it first arrived ----
	sleep 3
	listen_start "$work/q2.out" "$work/q2.log" --as "$bob" --max-age 2 || return
	check "quarantine retry --reason sender-not-allowed, with the listener running" 0 \
		"${q[@]}" retry --as "$bob" --reason sender-not-allowed
	if wait_for "$work/q2.out" "says: held back" 1 20; then
		pass "retried: delivered, its age taken from its first arrival (--max-age 2)"
	else fail "retried message not delivered" "$work/q2.log"; fi
	n=$("${q[@]}" list --as "$bob" | wc -l)
	[ "$n" -eq 3 ] && pass "it left the quarantine" || fail "$n entries left, not 3"
	check "purge --reason dns-temporary" 0 "${q[@]}" purge --as "$bob" --reason dns-temporary
	check "purge --all" 0 "${q[@]}" purge --all --as "$bob"
	[ -z "$(ls "$state/quarantine")" ] && pass "the quarantine is empty" ||
		fail "files left in quarantine: $(ls "$state/quarantine")"
	listen_stop "listener after retry"
}

# ---------------------------------------------------------------------------------------
# metric NAME FILE: the value of one sample (NAME with its labels, as printed), or "none"
metric() {
	awk -v n="$1" '$1 == n { print $2; found = 1 } END { if (!found) print "none" }' "$2"
}
# expect_metric FILE NAME WANT: the sample has exactly that value
expect_metric() {
	local got
	got=$(metric "$2" "$1")
	if [ "$got" = "$3" ]; then pass "$2 = $3"; else fail "$2 = $got, expected $3" "$1"; fi
}

metrics() {
	local alice bob carol port url conf state i code got
	alice=$(name malice) bob=$(name mbob) carol=$(name mcarol)
	new_id "$alice" && new_id "$bob" && new_id "$carol" || return
	state=$DANEMSG_DIR/$bob.listen
	port=$(free_port)
	url=http://127.0.0.1:$port/metrics
	conf=$work/metrics.conf

	check "--metrics on an address that is not loopback: usage" 2 "$tool" listen --as "$bob" \
		--metrics 192.0.2.1:9464
	expect "says why" "$work/err" "not a loopback address"
	check "--metrics without a port: usage" 2 "$tool" listen --as "$bob" --metrics 127.0.0.1
	check "--metrics port 0: usage" 2 "$tool" listen --as "$bob" --metrics 127.0.0.1:0
	check "--status before any listener ran: exit 3" 3 "$tool" listen --as "$bob" --status

	printf 'allow = %s\n' "$alice" >"$conf"
	listen_start "$work/m.out" "$work/m.log" --as "$bob" --config "$conf" \
		--metrics "127.0.0.1:$port" || return
	for i in 1 2 3; do
		"$tool" send --from "$alice" --to "$bob" "m-$i" 2>>"$work/err" || fail "send m-$i"
	done
	"$tool" send --from "$carol" --to "$bob" "not allowed" 2>>"$work/err" || fail "send carol"
	printf 'not a message' >"$work/garbage"
	pub "$bob" "$work/garbage"
	wait_for "$work/m.out" "says: m-" 3 20
	wait_for "$work/m.log" "^[^ ]+ rejected: " 2 20
	curl -sS -D "$work/headers" "$url" >"$work/metrics.txt" 2>"$work/err" ||
		fail "scrape $url" "$work/err"
	expect "Content-Type: the Prometheus text format 0.0.4" "$work/headers" \
		"^Content-Type: text/plain; version=0.0.4"
	expect_metric "$work/metrics.txt" danemsg_listen_received_total 5
	expect_metric "$work/metrics.txt" danemsg_listen_delivered_total 3
	expect_metric "$work/metrics.txt" \
		'danemsg_listen_refused_total{reason="sender-not-allowed"}' 1
	expect_metric "$work/metrics.txt" 'danemsg_listen_refused_total{reason="malformed"}' 1
	expect_metric "$work/metrics.txt" danemsg_listen_quarantined_total 2
	got=$(metric danemsg_listen_quarantined_bytes_total "$work/metrics.txt")
	# the garbage (13 bytes) and carol's sealed message (some hundred bytes)
	[ "$got" != none ] && [ "$got" -gt 13 ] && pass "quarantined bytes counted ($got)" ||
		fail "quarantined bytes: $got" "$work/metrics.txt"
	expect_metric "$work/metrics.txt" danemsg_listen_delivery_latency_seconds_count 3
	expect_metric "$work/metrics.txt" \
		'danemsg_listen_delivery_latency_seconds_bucket{le="+Inf"}' 3
	expect_metric "$work/metrics.txt" danemsg_listen_spool_depth 0
	expect_metric "$work/metrics.txt" danemsg_listen_broker_reconnects_total 0
	expect_metric "$work/metrics.txt" danemsg_listen_broker_connected 1
	expect_metric "$work/metrics.txt" danemsg_listen_pid "$lpid"
	# alice's three: one lookup in DNS, then her identity from the cache (TTL 60 s)
	got=$(metric danemsg_listen_dns_cache_hits_total "$work/metrics.txt")
	[ "$got" != none ] && [ "$got" -ge 2 ] && pass "DNS cache hits counted ($got)" ||
		fail "DNS cache hits: $got" "$work/metrics.txt"
	got=$(metric danemsg_listen_dns_lookups_total "$work/metrics.txt")
	[ "$got" != none ] && [ "$got" -ge 3 ] && pass "DNS lookups counted ($got)" ||
		fail "DNS lookups: $got" "$work/metrics.txt"
	if grep -vE '^# (HELP|TYPE) danemsg_listen_[a-z_]+ |^danemsg_listen_[a-z_]+(\{[a-z]+="[^"\\]*"\})? [0-9.e+-]+$' \
		"$work/metrics.txt" >"$work/badlines"; then
		fail "lines outside the text format" "$work/badlines"
	else pass "every line a HELP, TYPE or sample line"; fi
	check "--metrics on a port in use: exit 1" 1 timeout 60 "$tool" listen --as "$alice" \
		--metrics "127.0.0.1:$port"
	expect "says why" "$work/err" "cannot listen there"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
	[ "$code" = 404 ] && pass "GET / is 404" || fail "GET / is $code"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")
	[ "$code" = 405 ] && pass "POST /metrics is 405" || fail "POST /metrics is $code"

	# ---- listen --status: the same numbers from the state folder ----
	sleep 3   # the status file is rewritten every 2 s
	check "--status while it runs: exit 0" 0 "$tool" listen --as "$bob" --status
	expect "--status: running, its pid" "$work/out" "^running: pid $lpid, "
	expect_metric "$work/out" danemsg_listen_delivered_total 3
	expect_metric "$work/out" 'danemsg_listen_refused_total{reason="sender-not-allowed"}' 1
	got=$(stat -c %a "$state/status")
	[ "$got" = 600 ] && pass "the status file is 0600" || fail "the status file is $got"

	# ---- SIGHUP: carol instead of alice, the session kept ----
	printf 'allow = %s\n' "$carol" >"$conf"
	kill -HUP "$lpid"
	wait_for "$work/m.log" "reloaded \(SIGHUP\): 1 --allow pattern," 1 10 ||
		fail "no reload in the log" "$work/m.log"
	"$tool" send --from "$carol" --to "$bob" "carol allowed" 2>>"$work/err" || fail "send carol"
	"$tool" send --from "$alice" --to "$bob" "alice refused" 2>>"$work/err" || fail "send alice"
	wait_for "$work/m.out" "says: carol allowed" 1 20
	wait_for "$work/m.log" "^[^ ]+ rejected: sender-not-allowed" 2 20
	expect "after SIGHUP carol is allowed" "$work/m.out" "^$carol says: carol allowed\$"
	expect_not "after SIGHUP alice is not" "$work/m.out" "alice refused"
	# messages that arrive while the settings change: none lost, none twice
	printf 'allow = %s\nallow = %s\n' "$alice" "$carol" >"$conf"
	kill -HUP "$lpid"
	wait_for "$work/m.log" "reloaded \(SIGHUP\): 2 --allow patterns," 1 10 ||
		fail "no second reload in the log" "$work/m.log"
	for i in $(seq 10); do
		"$tool" send --from "$alice" --to "$bob" "hup-$i" 2>>"$work/err" || fail "send hup-$i"
		[ $((i % 3)) -ne 0 ] || kill -HUP "$lpid"
	done
	wait_for "$work/m.out" "says: hup-" 10 30
	read -r got i <<<"$(exactly_once "$work/m.out" hup 10)"
	[ "$got" = 0 ] && [ "$i" = 0 ] && pass "10 messages across 3 reloads: each delivered once" ||
		fail "across reloads: $got missing, $i twice" "$work/m.log"
	# a SIGHUP or SIGTERM taken by a thread other than the main one (which waits for them)
	# would kill the process: every other thread (workers, broker, HTTP) blocks them
	got=""
	for i in /proc/"$lpid"/task/*; do
		[ "${i##*/}" = "$lpid" ] && continue
		code=$(awk '$1 == "SigBlk:" { print $2 }' "$i/status" 2>/dev/null) || continue
		[ -z "$code" ] || [ $((0x$code & 0x4003)) -eq $((0x4003)) ] || got="$got ${i##*/}"
	done
	[ -z "$got" ] && pass "SIGHUP, SIGINT and SIGTERM blocked in every thread but the main one" ||
		fail "threads that take SIGHUP, SIGINT or SIGTERM:$got"
	for i in $(seq 200); do kill -HUP "$lpid"; done
	sleep 1
	kill -0 "$lpid" 2>/dev/null && pass "200 SIGHUPs in a row: still running" ||
		fail "200 SIGHUPs in a row stopped the listener" "$work/m.log"
	printf 'max-size = lots\n' >"$conf"
	kill -HUP "$lpid"
	wait_for "$work/m.log" "cannot reload the settings" 1 10 ||
		fail "a config that does not parse: no complaint" "$work/m.log"
	"$tool" send --from "$carol" --to "$bob" "kept" 2>>"$work/err" || fail "send kept"
	wait_for "$work/m.out" "says: kept" 1 20 ||
		fail "after a bad reload, the settings in use stay" "$work/m.log"
	[ "$(count "$work/m.log" "connected to ")" -eq 1 ] &&
		pass "one connection to the broker across the reloads" ||
		fail "reconnected during the reloads" "$work/m.log"
	curl -sS "$url" >"$work/metrics.txt" 2>"$work/err" || fail "scrape again" "$work/err"
	expect_metric "$work/metrics.txt" danemsg_listen_broker_reconnects_total 0
	expect_metric "$work/metrics.txt" danemsg_listen_delivered_total 15
	# another client with our client id takes the session over: the broker drops us, we
	# connect again and count it
	mosquitto_pub -h 127.0.0.1 -p "$DANEMSG_MQTT_PORT" -i "danemsg-$bob" -t "$tag/x" -m x
	wait_for "$work/m.log" "connected to " 2 30 || fail "no reconnection" "$work/m.log"
	"$tool" send --from "$carol" --to "$bob" "after reconnect" 2>>"$work/err" ||
		fail "send after reconnect"
	wait_for "$work/m.out" "says: after reconnect" 1 20 ||
		fail "not delivered after the reconnection" "$work/m.log"
	curl -sS "$url" >"$work/metrics.txt" 2>"$work/err" || fail "scrape again" "$work/err"
	expect_metric "$work/metrics.txt" danemsg_listen_broker_reconnects_total 1
	expect_metric "$work/metrics.txt" danemsg_listen_delivered_total 16
	listen_stop "listener with --metrics"
	check "--status after it stopped: exit 3" 3 "$tool" listen --as "$bob" --status
	expect "--status: not running" "$work/out" "^not running: pid "
}

case $part in
basic | durable | outage | versions | failover | state | poison | subzones | quarantine | metrics) "$part" ;;
*) say "unknown part '$part'"; exit 2 ;;
esac
say "messaging $part: $passed passed, $failed failed ($(($(date +%s) - started)) s)"
[ "$failed" -eq 0 ]
