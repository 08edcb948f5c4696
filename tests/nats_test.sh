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
#   group  nats:// natively: NATS_GROUP_MESSAGES (default 1000; the issue's 5000 by hand)
#          messages to one identity served by 3 listen processes sharing the JetStream
#          consumer, half published by mosquitto_pub through NATS's MQTT listener, half by
#          danemsg send over nats://; one NATS node and one listener killed with SIGKILL
#          mid-stream and started again: every message delivered, the ones delivered twice
#          counted (bound: the killed listener's workers, docs/messaging.md); then replays
#          of delivered messages, injected through each node, refused by each member
# Every process started is stopped; listeners with SIGTERM, and they must exit 0.
# Run by CTest with DANEMSG_TOOL and DANEMSG_LAB.
set -u
part=${1:?usage: nats_test.sh lab|mqtt|group}
tool=${DANEMSG_TOOL:?the danemsg binary}
lab=${DANEMSG_LAB:?the lab script}
started=$(date +%s)
# Messages published while the listener's node is down (NATS_TEST_MESSAGES for more).
MESSAGES=${NATS_TEST_MESSAGES:-40}
GROUP_WORKERS=2

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

# ---------------------------------------------------------------------------------------
declare -a member_pid

# start_member K: listener K of bob over nats:// (state folder, output and log of its own;
# output appended across restarts); 1 when it does not subscribe within 30 s
start_member() {
	local k=$1
	rm -f "$work/ready$k"
	"$tool" listen --as "$bob" --broker "$DANEMSG_NATS_URLS" --state "$work/state$k" \
		--workers "$GROUP_WORKERS" --nats-ack-wait 5 --ready-file "$work/ready$k" \
		>>"$work/g$k.out" 2>>"$work/g$k.err" &
	member_pid[k]=$!
	pids="$pids $!"
	for _ in $(seq 300); do [ -s "$work/ready$k" ] && return 0; sleep 0.1; done
	return 1
}

# stop_member K: SIGTERM, and it must exit 0
stop_member() {
	kill -TERM "${member_pid[$1]}"
	if wait "${member_pid[$1]}"; then pass "listener $1: SIGTERM, exit 0"; else
		fail "listener $1: exit $? after SIGTERM" "$work/g$1.err"; fi
}

delivered_lines() {
	cat "$work"/g[123].out 2>/dev/null | grep -E " says: (mqtt|send)-[0-9]+\$"
}

# publish_mqtt NODE(1-3) FILE: each line of FILE, QoS 1, through that node's MQTT listener
publish_mqtt() {
	local hp=${mqtt_nodes[$(($1 - 1))]#mqtt://}
	mosquitto_pub -h "${hp%:*}" -p "${hp##*:}" -q 1 -t "$group_topic" -l <"$2"
}

group_part() {
	local total=${NATS_GROUP_MESSAGES:-1000} half k f node=1 rc=0 got distinct dups
	local mq_pids="" send_pid took victim line n
	group_topic=danemsg/$(tr . '\n' <<<"$zone" | tac | paste -sd/)/_device/bob
	half=$((total / 2))
	"$DANEMSG_SEAL_MANY" "$DANEMSG_DIR" "$alice" "$bob" mqtt "$half" >"$work/sealed" ||
		{ fail "sealing $half messages"; return; }
	for k in 1 2 3; do
		start_member "$k" || { fail "listener $k did not start" "$work/g$k.err"; return; }
	done
	pass "three listeners of bob share the consumer"
	expect "... on the stream DANEMSG, subject of danemsg/{to_path}" "$work/g1.err" \
		"on stream DANEMSG \(subject ${group_topic//\//\\.}\)"

	# MQTT publishers through nodes 1 and 3 (node 2 dies below), danemsg send to all
	split -n l/2 "$work/sealed" "$work/part."
	for f in "$work"/part.*; do
		publish_mqtt "$node" "$f" 2>>"$work/mq.err" &
		mq_pids="$mq_pids $!"
		node=3
	done
	pids="$pids $mq_pids"
	seq "$half" | xargs -P 3 -I{} "$tool" send --from "$alice" --to "$bob" \
		--broker "$DANEMSG_NATS_URLS" --retry 60 "send-{}" 2>>"$work/send.err" &
	send_pid=$!
	pids="$pids $send_pid"

	for _ in $(seq 600); do
		[ "$(delivered_lines | wc -l)" -ge $((total / 5)) ] && break
		sleep 0.2
	done
	kill -KILL "$(cat "$work/lab/nats2.pid")"
	kill -KILL "${member_pid[1]}"
	wait "${member_pid[1]}" 2>/dev/null
	say "      killed nats2 and listener 1 with SIGKILL after $(delivered_lines | wc -l) deliveries"
	sleep 2
	start_member 1 && pass "listener 1 starts again (nats2 still down)" ||
		fail "listener 1 did not start again" "$work/g1.err"
	check "nats2 starts again" 0 "$lab" start "$work/lab" nats2

	for p in $mq_pids; do wait "$p" || rc=1; done
	[ "$rc" -eq 0 ] && pass "mosquitto_pub: $half messages through the MQTT listeners of nodes 1, 3" ||
		fail "mosquitto_pub failed" "$work/mq.err"
	wait "$send_pid" && pass "danemsg send: $half messages over nats:// (all acknowledged)" ||
		fail "danemsg send failed" "$work/send.err"
	for _ in $(seq 600); do
		[ "$(delivered_lines | sort -u | wc -l)" -ge "$total" ] && break
		sleep 0.2
	done
	got=$(delivered_lines | wc -l)
	distinct=$(delivered_lines | sort -u | wc -l)
	dups=$((got - distinct))
	took=$(cat "$work"/g[123].err | grep -c "took stream message")
	say "      $distinct of $total delivered, $dups twice; $took claims taken over"
	[ "$distinct" -eq "$total" ] && pass "every message delivered ($total)" ||
		fail "$((total - distinct)) messages not delivered" "$work/g2.err" "$work/g3.err"
	[ "$dups" -le "$GROUP_WORKERS" ] &&
		pass "delivered twice: $dups, within the bound ($GROUP_WORKERS: the killed listener's workers)" ||
		fail "$dups delivered twice (bound $GROUP_WORKERS)" "$work/g2.err" "$work/g3.err"
	for k in 1 2 3; do
		n=$(grep -cE " says: " "$work/g$k.out")
		[ "$n" -gt 0 ] && pass "listener $k delivered $n" || fail "listener $k delivered none"
	done

	# Replays: member K alone runs, a message another member delivered comes again
	# through node K: refused, nothing delivered
	stop_member 2
	stop_member 3
	for k in 1 2 3; do
		if [ "$k" -gt 1 ]; then
			start_member "$k" || { fail "listener $k did not start" "$work/g$k.err"; return; }
			stop_member $((k - 1))
		fi
		victim=$(cat "$work"/g[123].out | grep -v -F -f "$work/g$k.out" |
			grep -oE "says: mqtt-[0-9]+\$" | head -1)
		line=${victim##*-}
		[ -n "$line" ] || { fail "no message of another member to replay"; continue; }
		n=$(count "$work/g$k.err" "rejected: replayed")
		sed -n "${line}p" "$work/sealed" >"$work/replay"
		publish_mqtt "$k" "$work/replay"
		wait_for "$work/g$k.err" "rejected: replayed" $((n + 1)) 30 &&
			pass "listener $k refuses a replay of mqtt-$line (delivered by another) through nats$k" ||
			fail "listener $k: replay of mqtt-$line not refused" "$work/g$k.err"
	done
	sleep 1
	[ "$(delivered_lines | wc -l)" -eq "$got" ] && pass "no replay delivered" ||
		fail "a replay was delivered"
	stop_member 3
}

case $part in
lab) lab_part ;;
mqtt) mqtt_part ;;
group) group_part ;;
*) say "unknown part '$part'"; exit 2 ;;
esac
say "nats $part: $passed passed, $failed failed ($(($(date +%s) - started)) s)"
[ "$failed" -eq 0 ]
