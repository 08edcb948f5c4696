#!/bin/bash
# Broker authentication (docs/broker-auth.md) against real servers: a private lab started
# with --broker-auth (knot, and mosquitto with the danemsg plugin). One part per run:
#   login  tokens from danemsg token with mosquitto_pub/mosquitto_sub, MQTT 3.1.1 and 5
#          (user name + token, and enhanced authentication): a valid token logs in; each
#          refusal of the issue (expired, future iat, wrong aud, sub not the user name,
#          another identity's key, reused, insecure zone, bogus DNS, no token, anonymous,
#          garbage, another typ, a lifetime over 5 minutes) is refused, for its own reason
#          (the plugin's log line); the ACL: another's topic, '#', '$SYS/#' refused, own
#          topic allowed, publishing to a non-identity topic refused; client ids of another
#          identity refused (they would take its session over); danemsg send and
#          listen with --auth dane deliver a message; the allow-list refuses other names
#   tls    a TLS client certificate issued by a CA that the TLSA records at the name in
#          its SAN publish (DANE-TA, 2 0 0, or by digest: 2 0 1, 2 1 2) logs in; one whose
#          name's records publish another CA does not
#   flood  an authenticated client keeps receiving messages while 1,000 logins with names
#          that do not resolve arrive, first with knot answering (NXDOMAIN), then with
#          knot frozen (SIGSTOP: every lookup times out); the worst gap it sees stays under a
#          generous bound (STALL_BOUND_MS), and every ghost login is refused
#   ttl0   records with a TTL of 0 from a server that answers each question once: a login
#          is checked against its own lookup's answer, and junk logins do not stall
# Run by CTest with DANEMSG_TOOL, DANEMSG_LAB and DANEMSG_MOSQUITTO_PLUGIN.
set -u
part=${1:?usage: broker_auth_test.sh login|tls|flood|ttl0}
tool=${DANEMSG_TOOL:?the danemsg binary}
lab=${DANEMSG_LAB:?the lab script}
: "${DANEMSG_MOSQUITTO_PLUGIN:?the plugin}"
here=$(cd "$(dirname "$0")" && pwd)
logins="/usr/bin/python3 $here/mqtt_logins.py"
# A stall the flood may cause, at most: the plugin's budget is 200 ms of waiting per
# second; the rest is room for a loaded 2-core machine.
STALL_BOUND_MS=1500

. "$(dirname "$0")/lib.sh"
extra_broker=""
unset IDENTITY_NAME CRYPTO_PATH MQTT_HOST MQTT_PORT DANEMSG_MQTT_USERNAME DANEMSG_MQTT_PASSWORD
export HOME=$work DANEMSG_DIR=$work/ids

lab_start "$work/lab" --broker-auth
log=$work/lab/mosquitto.log
port=$DANEMSG_MQTT_PORT
zone=${DANEMSG_ZONE%.}
alice=alice._device.$zone bob=bob._device.$zone mallory=mallory._device.$zone
for n in "$alice" "$bob" "$mallory"; do "$tool" id new "$n" >/dev/null || exit 1; done
for n in "$alice" "$bob"; do "$tool" id publish "$n" >/dev/null || exit 1; done
key() { echo "$DANEMSG_DIR/$1.key.pem"; }

# pub USER TOKEN [mosquitto_pub options...]: publishes to USER's own topic by default
pub() {
	local user=$1 token=$2
	shift 2
	timeout 20 mosquitto_pub -h 127.0.0.1 -p "$port" -u "$user" -P "$token" -q 1 -m hello \
		-t "${TOPIC:-$user}" "$@"
}
# refused DESCRIPTION LOG_PATTERN USER TOKEN: the login fails, and the plugin's log says why
refused() {
	local what=$1 pattern=$2 before
	before=$(wc -l <"$log")
	if pub "$3" "$4" >"$work/out" 2>&1; then
		fail "$what: logged in" "$work/out"
		return
	fi
	tail -n +$((before + 1)) "$log" >"$work/log.new"
	expect "$what" "$work/log.new" "refused .*$pattern"
}

login_part() {
	local now t
	now=$(date +%s)
	t=$("$tool" token "$alice")
	check "a valid token logs in (mosquitto_pub, MQTT 3.1.1)" 0 pub "$alice" "$t"
	check "the same token again is refused (replay)" 5 pub "$alice" "$t"
	expect "... because its jti was used" "$log" "token .* of $alice was used before"
	check "a valid token logs in with MQTT 5" 0 pub "$alice" "$("$tool" token "$alice")" -V 5
	check "MQTT 5 enhanced authentication (danemsg-jws), no user name" 0 \
		timeout 20 mosquitto_pub -h 127.0.0.1 -p "$port" -V 5 -q 1 -m hi -t "$alice" \
		-D connect authentication-method danemsg-jws \
		-D connect authentication-data "$("$tool" token "$alice")"
	check "enhanced authentication with another method: refused (bad method)" 140 \
		timeout 20 mosquitto_pub -h 127.0.0.1 -p "$port" -V 5 -q 1 -m hi -t "$alice" \
		-D connect authentication-method other -D connect authentication-data x

	# description@user@token@log pattern: each refusal for its own reason
	local -a cases=(
		"expired token@$alice@$("$tool" token "$alice" --issued-at $((now - 400)) --lifetime 60)@expired"
		"iat in the future@$alice@$("$tool" token "$alice" --issued-at $((now + 600)))@in the future"
		"wrong audience@$alice@$("$tool" token "$alice" --audience other.example)@audience other.example"
		"sub is not the user name@$alice@$("$tool" token "$bob")@is for $bob"
		"an unpublished identity@$mallory@$("$tool" token "$mallory")@$mallory: no TLSA records"
		"signed by another identity's key@$alice@$($logins --token --port 0 --key "$(key "$mallory")" --name "$alice")@signature does not verify"
		"no token (user name only)@$alice@@no user name and token"
		"garbage@$alice@garbage@not a login token"
		"three dots of garbage@$alice@a.b.c@not a login token"
		"another typ (a message signature)@$alice@$($logins --token --port 0 --key "$(key "$alice")" --name "$alice" --typ danemsg+jws)@not a login token \\(typ\\)"
		"a lifetime over 5 minutes@$alice@$($logins --token --port 0 --key "$(key "$alice")" --name "$alice" --lifetime 301)@lives 301 s"
	)
	local c what user token pattern
	for c in "${cases[@]}"; do
		IFS='@' read -r what user token pattern <<<"$c"
		if [ -z "$token" ]; then   # no password at all
			local before
			before=$(wc -l <"$log")
			if timeout 20 mosquitto_pub -h 127.0.0.1 -p "$port" -u "$user" -m x -t "$user" \
				>/dev/null 2>&1; then fail "$what: logged in"; continue; fi
			tail -n +$((before + 1)) "$log" >"$work/log.new"
			expect "refused: $what" "$work/log.new" "refused .*$pattern"
			continue
		fi
		refused "refused: $what" "$pattern" "$user" "$token"
	done
	# client ids bind sessions: an identity gets its own only
	# exactly NAME or danemsg-NAME, or either and '/' and anything; never NAME and '-' or '.',
	# which could be another identity's name (alice._device.ZONE-ops.example.org)
	local cid want
	for c in "0 $alice" "0 $alice/phone" "0 danemsg-$alice" "0 danemsg-$alice/2" \
		"0 ${alice^^}" "5 $alice-7" "5 $alice-ops.example.org" "5 $alice.x" \
		"5 danemsg-$alice-ops.example.org" "5 danemsg-$alice.x" "5 $alice#x" \
		"5 ${alice%.*}" "5 danemsg-"; do
		want=${c%% *} cid=${c#* }
		check "client id $cid: $([ "$want" = 0 ] && echo allowed || echo refused)" "$want" \
			pub "$alice" "$("$tool" token "$alice")" -i "$cid"
	done
	check "another identity's client id (danemsg-bob...): refused" 5 pub "$alice" \
		"$("$tool" token "$alice")" -i "danemsg-$bob"
	expect "... because of the client id" "$log" "refused login of $alice: client id danemsg-$bob"
	check "a chosen id with a persistent session: refused" 5 pub "$alice" \
		"$("$tool" token "$alice")" -i "mosq-chosen" -c
	check "anonymous: refused" 5 timeout 20 mosquitto_pub -h 127.0.0.1 -p "$port" -m x -t x
	expect "... as anonymous" "$log" "refused login of \(none\): no user name and token"

	# an identity in the unsigned child zone (insecure), and DNS that is bogus
	local carol=carol._device.unsigned.$zone
	"$tool" id new "$carol" >/dev/null
	"$tool" id publish "$carol" >/dev/null 2>&1   # exit 10: published, but insecure
	refused "refused: an identity in an insecure zone" "insecure" "$carol" "$("$tool" token "$carol")"
	bogus_part

	# ACL, MQTT 5 so that refusals come back in SUBACK and PUBACK
	acl() {   # acl DESCRIPTION WANT(allowed|denied) sub|pub TOPIC
		local what=$1 want=$2 out
		if [ "$3" = sub ]; then
			out=$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$port" -V 5 -u "$alice" \
				-P "$("$tool" token "$alice")" -t "$4" -W 1 2>&1)
		else
			out=$(TOPIC=$4 pub "$alice" "$("$tool" token "$alice")" -V 5 2>&1)
		fi
		if grep -qiE "denied|not authori[sz]ed" <<<"$out"; then out=denied; else out=allowed; fi
		if [ "$out" = "$want" ]; then pass "$what"; else fail "$what: $out"; fi
	}
	acl "ACL: subscribing to its own topic is allowed" allowed sub "$alice"
	acl "ACL: subscribing to another identity's topic is refused" denied sub "$bob"
	acl "ACL: subscribing to # is refused" denied sub "#"
	acl "ACL: subscribing to \$SYS/# is refused" denied sub '$SYS/#'
	acl "ACL: subscribing to + (every identity's topic) is refused" denied sub "+"
	acl "ACL: publishing to another identity's topic is allowed" allowed pub "$bob"
	acl "ACL: publishing to a non-identity topic is refused" denied pub "news/today"
	acl "ACL: publishing to a name that publishes no key is refused" denied pub "nobody._device.$zone"
	acl "ACL: publishing to \$SYS is refused" denied pub '$SYS/broker/x'

	# danemsg send and listen with --auth dane (the audience from the lab's environment)
	local ready=$work/ready
	"$tool" listen --as "$bob" --auth dane --ready-file "$ready" --state "$work/bob-state" \
		>"$work/listen.out" 2>"$work/listen.err" &
	pids="$pids $!"
	for _ in $(seq 100); do [ -f "$ready" ] && break; sleep 0.1; done
	check "danemsg send --auth dane" 0 "$tool" send --from "$alice" --to "$bob" --auth dane \
		"hello bob, via an authenticated broker"
	for _ in $(seq 100); do grep -q "authenticated broker" "$work/listen.out" && break; sleep 0.1; done
	expect "danemsg listen --auth dane receives it" "$work/listen.out" "authenticated broker"
	# Another connection with the listener's client id takes its session over: the broker
	# drops the listener, which must log in again with a new token (the old one is spent).
	timeout 5 mosquitto_sub -h 127.0.0.1 -p "$port" -u "$bob" -P "$("$tool" token "$bob")" \
		-i "danemsg-$bob" -t "$bob" -W 1 >/dev/null 2>&1
	for _ in $(seq 150); do
		[ "$(grep -c "connected to" "$work/listen.err")" -ge 2 ] && break
		sleep 0.1
	done
	check "danemsg send --auth dane, after the listener lost its connection" 0 "$tool" send \
		--from "$alice" --to "$bob" --auth dane "hello again"
	for _ in $(seq 150); do grep -q "hello again" "$work/listen.out" && break; sleep 0.1; done
	expect "the listener logged in again with a fresh token and receives it" \
		"$work/listen.out" "hello again"
	printf 'auth = dane\n' >"$work/config"
	check "danemsg send with auth = dane in the config file" 0 "$tool" send --config \
		"$work/config" --from "$alice" --to "$bob" "configured"
	check "danemsg send without --auth dane is refused by the broker" 40 "$tool" send \
		--from "$alice" --to "$bob" --timeout-broker 5 "not logged in"
	check "send --auth dane with --username: usage" 1 "$tool" send --from "$alice" --to "$bob" \
		--auth dane --username x "x"
	expect "... and says why" "$work/err" "no --username or --password"
	check "send --auth with a bad value: usage" 2 "$tool" send --from "$alice" --to "$bob" \
		--auth magic "x"
	check "danemsg token without an audience: usage" 2 env -u DANEMSG_BROKER_AUDIENCE \
		"$tool" token "$alice"
	check "danemsg token --lifetime 301: usage" 2 "$tool" token "$alice" --lifetime 301
	check "danemsg token of an identity that is not here" 1 "$tool" token nobody._device.$zone
}

# A second broker with the plugin, an allow-list, and DNSSEC anchored where the zone is
# not (the root's anchor: the lab's answers are then bogus).
extra_broker_conf() {   # extra_broker_conf PORT OPTION_LINES
	{
		echo "listener $1 127.0.0.1"
		echo "allow_anonymous false"
		echo "plugin $DANEMSG_MOSQUITTO_PLUGIN"
		echo "plugin_opt_audience $zone"
		echo "plugin_opt_resolver 127.0.0.1@$DANEMSG_DNS_PORT"
		printf '%s\n' "$2"
		echo "log_dest stderr"
		echo "log_type all"
		echo "user $(id -un)"   # as root, mosquitto would become user mosquitto
	} >"$work/extra.conf"
}
start_extra_broker() {   # start_extra_broker OPTION_LINES
	local p
	[ -z "$extra_broker" ] || { kill -TERM "$extra_broker"; wait "$extra_broker" 2>/dev/null; }
	p=$(free_port)
	extra_broker_conf "$p" "$1"
	: >"$work/extra.log"
	mosquitto -c "$work/extra.conf" >"$work/extra.log" 2>&1 &
	extra_broker=$!
	pids="$pids $!"
	for _ in $(seq 50); do grep -q "running" "$work/extra.log" && break; sleep 0.1; done
	extra_port=$p
}
bogus_part() {
	local save_port=$port save_log=$log
	start_extra_broker "plugin_opt_trust_anchor /usr/share/dns/root.key"
	port=$extra_port log=$work/extra.log
	refused "refused: DNS answers that do not validate (bogus)" "bogus|DNSSEC" "$alice" \
		"$("$tool" token "$alice")"
	start_extra_broker "plugin_opt_trust_anchor $DANEMSG_TRUST_ANCHOR
plugin_opt_allow bob._device.$zone, *.fleet.$zone"
	port=$extra_port log=$work/extra.log
	refused "refused: a name not on the allow-list (before DNS)" "not on the allow-list" \
		"$alice" "$("$tool" token "$alice")"
	check "a name on the allow-list logs in" 0 pub "$bob" "$("$tool" token "$bob")"
	# one identity cannot fill the login replay cache: 1,100 logins of alice (over the cache's
	# size), issued max_skew (30 s) ahead; the quota (100 by default) refuses 1,000 of them,
	# and bob's fresh token still logs in (not refused as "used before")
	start_extra_broker "plugin_opt_trust_anchor $DANEMSG_TRUST_ANCHOR
plugin_opt_replay_max 1000"
	port=$extra_port log=$work/extra.log
	local res
	res=$($logins --port "$port" --audience "$zone" -n 1100 --parallel 8 \
		--key "$(key "$alice")" --name "$alice" --iat $(($(date +%s) + 30)))
	if grep -q '"0": 100,' <<<"$res" && grep -q '"5": 1000' <<<"$res"; then
		pass "1,100 logins of one identity: 100 in, 1,000 over its quota ($res)"
	else
		fail "1,100 logins of one identity: $res"
	fi
	expect "... refused for the quota" "$log" "refused login of $alice: .*most logins"
	check "... and another identity's fresh token logs in" 0 pub "$bob" \
		"$("$tool" token "$bob")"
	port=$save_port log=$save_log
}

# ms timestamps of the messages a subscriber received: the largest gap between two
max_gap_ms() {
	awk 'NR > 1 { g = ($1 - last) * 1000; if (g > max) max = g } { last = $1 }
		END { printf "%d\n", max }' "$1"
}

flood_part() {
	local ghosts=1000 sub_pid pub_pid res gap phase suffix
	timeout 300 mosquitto_sub -h 127.0.0.1 -p "$port" -u "$alice" -P "$("$tool" token "$alice")" \
		-t "$alice" -F '%U %p' >>"$work/received" 2>"$work/sub.err" &   # appends: truncated below
	sub_pid=$!
	pids="$pids $sub_pid"
	sleep 0.5
	# bob publishes a numbered message every 20 ms over one connection
	(for i in $(seq 100000); do echo "$i"; sleep 0.02; done) |
		timeout 300 mosquitto_pub -h 127.0.0.1 -p "$port" -u "$bob" -P "$("$tool" token "$bob")" \
			-t "$alice" -l -q 0 2>"$work/pub.err" &
	pub_pid=$!
	pids="$pids $pub_pid"
	sleep 1
	for phase in "knot answering (NXDOMAIN)" "knot frozen (every lookup times out)"; do
		suffix=nx.$zone
		if [ "${phase#knot frozen}" != "$phase" ]; then
			kill -STOP "$(cat "$work/lab/knot.pid")" || fail "SIGSTOP knot"
			suffix=nx.example.org   # not under the zone: no cached NSEC answers for it
		fi
		: >"$work/received"
		sleep 0.5
		res=$($logins --port "$port" --audience "$zone" -n $ghosts --parallel 16 \
			--suffix "$suffix")
		sleep 0.5
		cp "$work/received" "$work/during"
		gap=$(max_gap_ms "$work/during")
		say "      $phase: $res; $(wc -l <"$work/during") messages, worst gap ${gap} ms"
		if grep -q "\"codes\": {[^}]*\"0\":" <<<"$res"; then
			fail "$phase: a ghost logged in: $res"
		else
			pass "$phase: all $ghosts ghost logins refused"
		fi
		if [ "$(wc -l <"$work/during")" -ge 5 ] && [ "$gap" -lt "$STALL_BOUND_MS" ]; then
			pass "$phase: the authenticated client kept receiving (worst gap ${gap} ms < ${STALL_BOUND_MS} ms)"
		else
			fail "$phase: messages stalled (worst gap ${gap} ms)" "$work/sub.err" "$work/pub.err"
		fi
	done
	kill -CONT "$(cat "$work/lab/knot.pid")"
}

# Records with a TTL of 0 from a server that then goes silent (tests/dns_fault_proxy.py
# answers each question under ttl0.ZONE once, at the end of a second): a login must be
# checked against the answer its own lookup brought, never looked up again on the broker's
# thread (that lookup would wait dns_timeout_ms, 5 s here). A login of the identity whose
# key the records publish succeeds; junk logins (another key's signature) are refused, and
# an authenticated client sees no gap over TTL0_STALL_BOUND_MS: a login's own wait is at
# most the 1 s budget, the rest is room for a loaded machine.
TTL0_STALL_BOUND_MS=3000
ttl0_part() {
	local who=dev.ttl0.$zone res gap spki proxy_port token deadline=$(($(date +%s) + 10))
	"$tool" id new "$who" >/dev/null || { fail "id new $who"; return; }
	spki=$(openssl pkey -in "$(key "$who")" -pubout -outform DER | od -An -v -tx1 | tr -d ' \n')
	# its key at dev and at j1..j6 (no wildcard: a resolver answers those from its cache)
	{
		printf 'server 127.0.0.1 %s\nzone %s\n' "$DANEMSG_DNS_PORT" "$DANEMSG_ZONE"
		for n in dev j1 j2 j3 j4 j5 j6; do
			printf 'update add %s.ttl0.%s 0 IN TLSA 3 1 0 %s\n' "$n" "$zone" "$spki"
		done
		printf 'send\n'
	} | knsupdate -k "$DANEMSG_LAB_DIR/tsig.key" || fail "publish ttl0 names with a TTL of 0"
	/usr/bin/python3 "$here/dns_fault_proxy.py" "$work/proxy.port" "$DANEMSG_DNS_PORT" \
		never-dropped never-corrupted "$work/no-flag" ttl0 &
	pids="$pids $!"
	while [ ! -s "$work/proxy.port" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
	proxy_port=$(cat "$work/proxy.port")
	start_extra_broker "plugin_opt_trust_anchor $DANEMSG_TRUST_ANCHOR
plugin_opt_resolver 127.0.0.1@$proxy_port
plugin_opt_login_wait_ms 5000
plugin_opt_stall_budget_ms 1000
plugin_opt_dns_timeout_ms 5000"
	port=$extra_port log=$work/extra.log
	# a full budget (1 s), and a start early in a second: the answer comes within it
	token=$("$tool" token "$who")
	sleep 1.2
	/usr/bin/python3 -c 'import time; time.sleep((1.8 - time.time() % 1) % 1)'
	check "a login checked against its own lookup's answer (TTL 0, server silent after)" 0 \
		pub "$who" "$token"
	expect "... logged in" "$log" "$who logged in"
	timeout 120 mosquitto_sub -h 127.0.0.1 -p "$port" -u "$alice" \
		-P "$("$tool" token "$alice")" -t "$alice" -F '%U %p' >>"$work/received" 2>&1 &
	pids="$pids $!"
	sleep 0.5
	(for i in $(seq 100000); do echo "$i"; sleep 0.02; done) |
		timeout 120 mosquitto_pub -h 127.0.0.1 -p "$port" -u "$bob" \
			-P "$("$tool" token "$bob")" -t "$alice" -l -q 0 2>"$work/pub.err" &
	pids="$pids $!"
	sleep 1
	: >"$work/received"
	local n got=0
	for n in j1 j2 j3 j4 j5 j6; do   # signed with a key no record publishes
		pub "$n.ttl0.$zone" "$($logins --token --port 0 --audience "$zone" \
			--key "$(key "$mallory")" --name "$n.ttl0.$zone")" >/dev/null 2>&1 &&
			got=$((got + 1))
	done
	sleep 0.5
	cp "$work/received" "$work/during"
	gap=$(max_gap_ms "$work/during")
	say "      6 junk logins under ttl0: $got logged in; worst gap ${gap} ms"
	if [ "$got" -ne 0 ]; then fail "a junk login got in"
	else pass "6 junk logins (TTL 0, silent server) refused"; fi
	if [ "$(wc -l <"$work/during")" -ge 5 ] && [ "$gap" -lt "$TTL0_STALL_BOUND_MS" ]; then
		pass "... and the authenticated client kept receiving (worst gap ${gap} ms)"
	else
		fail "... messages stalled (worst gap ${gap} ms)" "$work/pub.err"
	fi
}

# TLS client certificates of an organisation CA that DNS names (DANE-TA, 2 0 0)
tls_part() {
	local ca=$work/ca dev=dev1._device.$zone other=dev2._device.$zone hex
	mkdir -p "$ca"
	issue() {   # issue NAME SAN [CA:TRUE]: NAME.key, NAME.crt signed by the CA (or self)
		local ext="subjectAltName=$2"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
			-keyout "$ca/$1.key" -out "$ca/$1.csr" 2>/dev/null || return 1
		printf '%s\n' "$ext" >"$ca/$1.ext"
		openssl x509 -req -in "$ca/$1.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
			-CAcreateserial -days 2 -extfile "$ca/$1.ext" -out "$ca/$1.crt" 2>/dev/null
	}
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Fleet CA" \
		-days 2 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign \
		-keyout "$ca/ca.key" -out "$ca/ca.crt" 2>/dev/null || { fail "make a CA"; return; }
	issue server IP:127.0.0.1 && issue dev1 "DNS:$dev" && issue dev2 "DNS:$other" ||
		{ fail "issue certificates"; return; }
	# the digest forms of DANE-TA: the CA's certificate (2 0 1) or key (2 1 2) by digest,
	# found among plugin_opt_cafile's CAs (mosquitto does not give plugins the chain)
	local d201=d201._device.$zone d212=d212._device.$zone dother=dother._device.$zone
	issue d201 "DNS:$d201" && issue d212 "DNS:$d212" && issue dother "DNS:$dother" ||
		{ fail "issue certificates"; return; }
	# dev1 names the Fleet CA; dev2 names another organisation's CA
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Other CA" \
		-days 2 -keyout "$ca/other.key" -out "$ca/other.crt" 2>/dev/null
	tlsa_of() { openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
	digest() {   # digest sha256|sha512 cert|spki PEM
		if [ "$2" = cert ]; then openssl x509 -in "$3" -outform DER; else
			openssl x509 -in "$3" -noout -pubkey |
				openssl pkey -pubin -outform DER; fi |
			openssl dgst "-$1" -r | cut -d' ' -f1
	}
	printf '%s\n' "server 127.0.0.1 $DANEMSG_DNS_PORT" "zone $DANEMSG_ZONE" \
		"update add $dev 60 IN TLSA 2 0 0 $(tlsa_of "$ca/ca.crt")" \
		"update add $other 60 IN TLSA 2 0 0 $(tlsa_of "$ca/other.crt")" \
		"update add $d201 60 IN TLSA 2 0 1 $(digest sha256 cert "$ca/ca.crt")" \
		"update add $d212 60 IN TLSA 2 1 2 $(digest sha512 spki "$ca/ca.crt")" \
		"update add $dother 60 IN TLSA 2 0 1 $(digest sha256 cert "$ca/other.crt")" send |
		knsupdate -k "$DANEMSG_LAB_DIR/tsig.key" || fail "publish the CAs"
	start_extra_broker "plugin_opt_trust_anchor $DANEMSG_TRUST_ANCHOR
plugin_opt_cafile $ca/ca.crt
cafile $ca/ca.crt
certfile $ca/server.crt
keyfile $ca/server.key
require_certificate true"
	local save_log=$log
	log=$work/extra.log
	tls_pub() {   # tls_pub WHO: its certificate, no user name or password
		timeout 20 mosquitto_pub -h 127.0.0.1 -p "$extra_port" --cafile "$ca/ca.crt" \
			--cert "$ca/$1.crt" --key "$ca/$1.key" -q 1 -m hi -t "$2"
	}
	check "a device certificate of the CA that DNS names (2 0 0) logs in" 0 tls_pub dev1 "$dev"
	expect "... as the name in its SAN" "$log" "$dev logged in \(TLS client certificate\)"
	local before
	before=$(wc -l <"$log")
	check "a certificate of the CA for a name whose TLSA names another CA: refused" 5 \
		tls_pub dev2 "$other"
	tail -n +$((before + 1)) "$log" >"$work/log.new"
	expect "... for that reason" "$work/log.new" "refused certificate login of $other: .*match"
	check "DANE-TA by the CA certificate's digest (2 0 1) logs in" 0 tls_pub d201 "$d201"
	check "DANE-TA by the CA key's digest (2 1 2) logs in" 0 tls_pub d212 "$d212"
	check "2 0 1 of another CA than the one that issued the certificate: refused" 5 \
		tls_pub dother "$dother"
	if timeout 20 mosquitto_pub -h 127.0.0.1 -p "$extra_port" --cafile "$ca/ca.crt" -u "$dev" \
		-P x -m hi -t "$dev" >/dev/null 2>&1; then
		fail "a client without a certificate got through TLS"
	else
		pass "... and a client without a certificate is refused (by TLS)"
	fi
	log=$save_log
}

case $part in
login) login_part ;;
tls) tls_part ;;
ttl0) ttl0_part ;;
flood) flood_part ;;
*) echo "unknown part $part" >&2; exit 2 ;;
esac
say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
