#!/bin/bash
# danemsg on a 3-node NATS cluster (docs/messaging.md, "From one broker to a cluster"),
# in a private lab started with --nats 3 (knot, and nats-server nodes with JetStream and
# MQTT listeners). One part per run:
#   lab    the lab's cluster: three nodes, the env file's URLs, stop and start one node
#   mqtt   send and listen over NATS's MQTT (3.1.1) with the dot-free topic
#          danemsg/{to_path} and the three nodes as --broker: the listener's node killed
#          with SIGKILL, messages published meanwhile through the other nodes; the
#          listener fails over, resumes its persistent session on another node, and
#          delivers every message exactly once
# Every process started is stopped; listeners with SIGTERM, and they must exit 0.
# Run by CTest with DANEMSG_TOOL and DANEMSG_LAB.
set -u
part=${1:?usage: nats_test.sh lab|mqtt}
tool=${DANEMSG_TOOL:?the danemsg binary}
lab=${DANEMSG_LAB:?the lab script}
started=$(date +%s)
# Messages published while the listener's node is down (NATS_TEST_MESSAGES for more).
MESSAGES=${NATS_TEST_MESSAGES:-40}

. "$(dirname "$0")/lib.sh"

lab_start "$work/lab" --nats 3
export DANEMSG_DIR=$work/ids HOME=$work
unset IDENTITY_NAME CRYPTO_PATH MQTT_HOST MQTT_PORT DANEMSG_BROKER
IFS=, read -r -a mqtt_nodes <<<"$DANEMSG_NATS_MQTT_BROKERS"
IFS=, read -r -a nats_nodes <<<"$DANEMSG_NATS_URLS"
zone=${DANEMSG_ZONE%.}
alice=alice._device.$zone bob=bob._device.$zone
for n in "$alice" "$bob"; do
	"$tool" id new "$n" >/dev/null && "$tool" id publish "$n" --no-confirm >/dev/null ||
		{ say "cannot create $n"; exit 1; }
done

# ---------------------------------------------------------------------------------------
lab_part() {
	[ "${#mqtt_nodes[@]}" -eq 3 ] && [ "${#nats_nodes[@]}" -eq 3 ] &&
		pass "env: three nats:// and three mqtt:// URLs" ||
		fail "env: $DANEMSG_NATS_URLS / $DANEMSG_NATS_MQTT_BROKERS"
	check "status: every server runs" 0 "$lab" status "$work/lab"
	expect "... the three nodes" "$work/out" "^nats3: +running"
	check "stop nats2" 0 "$lab" stop "$work/lab" nats2
	check "status: exit 1 with a node stopped" 1 "$lab" status "$work/lab"
	expect "... nats2 stopped" "$work/out" "^nats2: +stopped"
	check "stop nats4 (there is none): refused" 1 "$lab" stop "$work/lab" nats4
	check "start nats2: back, and ready (its MQTT takes a QoS 1 message)" 0 \
		"$lab" start "$work/lab" nats2
	check "status: every server runs again" 0 "$lab" status "$work/lab"
}

# ---------------------------------------------------------------------------------------
# The node (1-3) whose MQTT URL is in the listener's last "connected to" line.
node_of_listener() {
	local url i
	url=$(grep -o "connected to mqtt://[^ ]*" "$1" | tail -1)
	url=${url#connected to }
	for i in 0 1 2; do [ "${mqtt_nodes[$i]}" = "$url" ] && echo $((i + 1)); done
}

mqtt_part() {
	local topic='danemsg/{to_path}' ready=$work/ready lpid node others i missing dups rc=0
	"$tool" listen --as "$bob" --broker "$DANEMSG_NATS_MQTT_BROKERS" --topic "$topic" \
		--ready-file "$ready" >"$work/l.out" 2>"$work/l.err" &
	lpid=$!
	pids="$pids $lpid"
	for _ in $(seq 200); do [ -s "$ready" ] && break; sleep 0.1; done
	[ -s "$ready" ] || { fail "the listener did not subscribe" "$work/l.err"; return; }
	expect "listen subscribes on NATS to the name's path" "$work/l.err" \
		"subscribed to danemsg/$(tr . '\n' <<<"$zone" | tac | paste -sd/)/_device/bob "
	node=$(node_of_listener "$work/l.err")
	[ -n "$node" ] || { fail "which node the listener is on" "$work/l.err"; return; }
	others=""
	for i in 1 2 3; do [ "$i" = "$node" ] || others="$others${others:+,}${mqtt_nodes[$((i - 1))]}"; done
	check "send through another node: acknowledged" 0 "$tool" send --from "$alice" \
		--to "$bob" --broker "$others" --topic "$topic" "m-0"
	wait_for "$work/l.out" "says: m-0\$" 1 20 || fail "m-0 not delivered" "$work/l.err"

	kill -KILL "$(cat "$work/lab/nats$node.pid")"
	say "      killed nats$node (the listener's node) with SIGKILL"
	for i in $(seq "$MESSAGES"); do
		"$tool" send --from "$alice" --to "$bob" --broker "$others" --topic "$topic" \
			--retry 20 "m-$i" 2>>"$work/send.err" || rc=1
	done
	[ "$rc" -eq 0 ] && pass "$MESSAGES messages sent through the other nodes while it is down" ||
		fail "sends while the node is down" "$work/send.err"
	wait_for "$work/l.out" "says: m-" $((MESSAGES + 1)) 60 ||
		fail "not every message arrived within 60 s" "$work/l.err"
	expect "the listener lost its node and moved on" "$work/l.err" \
		"lost the connection to ${mqtt_nodes[$((node - 1))]}: .*; trying mqtt://"
	expect "... and resumed its persistent session on another node" "$work/l.err" \
		"connected to mqtt://.* \(session resumed\)"
	missing=0
	for i in $(seq 0 "$MESSAGES"); do
		grep -qx ".* says: m-$i" "$work/l.out" || missing=$((missing + 1))
	done
	dups=$(grep -c " says: m-" "$work/l.out")
	dups=$((dups - (MESSAGES + 1 - missing)))
	[ "$missing" -eq 0 ] && [ "$dups" -eq 0 ] &&
		pass "every message delivered exactly once ($((MESSAGES + 1)))" ||
		fail "$missing missing, $dups delivered twice" "$work/l.out" "$work/l.err"
	check "the killed node starts again" 0 "$lab" start "$work/lab" "nats$node"
	kill -TERM "$lpid"
	wait "$lpid" && pass "listener: SIGTERM, exit 0" || fail "listener: exit $? after SIGTERM"
}

case $part in
lab) lab_part ;;
mqtt) mqtt_part ;;
*) say "unknown part '$part'"; exit 2 ;;
esac
say "nats $part: $passed passed, $failed failed ($(($(date +%s) - started)) s)"
[ "$failed" -eq 0 ]
