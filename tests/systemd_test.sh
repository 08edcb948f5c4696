#!/bin/bash
# danemsg listen under systemd, with what systemd gives a Type=notify service and no
# systemd at all: a datagram socket of our own as NOTIFY_SOCKET records what the listener
# tells it. READY=1 only once subscribed (never while the broker is unreachable),
# WATCHDOG=1 pings only when WATCHDOG_USEC/WATCHDOG_PID ask for them, STATUS= with the
# delivered count, STOPPING=1 on SIGTERM; with JOURNAL_STREAM naming standard error, log
# lines carry journald levels and no timestamp of ours.
# Run by CTest with the lab's environment and DANEMSG_TOOL.
set -u
tool=${DANEMSG_TOOL:?the danemsg binary}
: "${DANEMSG_ZONE:?run with the lab environment}" "${DANEMSG_MQTT_PORT:?}"
. "$(dirname "$0")/lib.sh"
export DANEMSG_DIR=$work/ids HOME=$work
unset IDENTITY_NAME CRYPTO_PATH NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID JOURNAL_STREAM

# The notify socket: one line per datagram (its newlines as '|').
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    line = s.recv(4096).decode().replace("\n", "|") + "\n"
    with open(sys.argv[2], "a") as out:   # opened each time: the test moves it away
        out.write(line)
' "$work/notify.sock" "$work/notify.log" &
pids="$pids $!"
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done

zone=${DANEMSG_ZONE%.}
alice=sd$$-alice._device.$zone bob=sd$$-bob._device.$zone
for n in "$alice" "$bob"; do
	"$tool" id new "$n" >"$work/id.out" 2>&1 &&
		"$tool" id publish "$n" --ttl 60 --no-confirm >>"$work/id.out" 2>&1 ||
		{ fail "create and publish $n" "$work/id.out"; exit 1; }
done

# listener LOG ENV...: bob's listener with NOTIFY_SOCKET and ENV; its pid is WATCHDOG_PID's
listener() {
	local log=$1
	shift
	env NOTIFY_SOCKET="$work/notify.sock" "$@" sh -c 'WATCHDOG_PID=$$ exec "$0" "$@"' \
		"$tool" listen --as "$bob" --ready-file "$work/ready" >>"$work/out" 2>>"$log" &
	lpid=$!
	pids="$pids $lpid"
}
stop() {   # stop WHAT: SIGTERM must end it with 0 and STOPPING=1
	local rc=0
	kill -TERM "$lpid"
	wait "$lpid" || rc=$?
	[ "$rc" -eq 0 ] && pass "$1: exit 0 on SIGTERM" || fail "$1: exit $rc on SIGTERM"
	expect "$1: STOPPING=1" "$work/notify.log" '^STOPPING=1$'
	mv "$work/notify.log" "$work/notify.$1"
}

# ---- broker unreachable: alive (watchdog pings), not ready ----
listener "$work/down.log" DANEMSG_BROKER=mqtt://127.0.0.1:1 WATCHDOG_USEC=400000
wait_for "$work/notify.log" "^WATCHDOG=1$" 1 20
[ "$(grep -c '^WATCHDOG=1$' "$work/notify.log" 2>/dev/null)" -ge 1 ] &&
	pass "watchdog pings while the broker is unreachable" ||
	fail "no watchdog pings" "$work/notify.log"
sleep 2   # a few more pings: still
[ "$(grep -c '^WATCHDOG=1$' "$work/notify.log")" -ge 3 ] && pass "pings keep coming" ||
	fail "pings stopped" "$work/notify.log"
expect_not "not READY while the broker is unreachable" "$work/notify.log" 'READY=1'
stop unreachable

# ---- the lab's broker: READY once subscribed, STATUS counts, no watchdog unless asked ----
rm -f "$work/ready"
listener "$work/up.log"
if wait_for "$work/notify.log" '^READY=1' 1 20; then pass "READY=1 once subscribed"; else
	fail "no READY=1" "$work/up.log"; fi
[ -s "$work/ready" ] && pass "the ready file is written too" || fail "no ready file"
expect "status says subscribed" "$work/notify.log" 'STATUS=subscribed'
"$tool" send --from "$alice" --to "$bob" "hello systemd" 2>"$work/send.err" ||
	fail "send" "$work/send.err"
if wait_for "$work/notify.log" '^STATUS=1 delivered$' 1 20; then pass "STATUS=1 delivered"; else
	fail "no STATUS=1 delivered" "$work/notify.log"; fi
expect "the message was delivered" "$work/out" "says: hello systemd"
expect_not "no WATCHDOG=1 without WATCHDOG_USEC" "$work/notify.log" 'WATCHDOG'
expect "a plain stderr: our own UTC timestamps" "$work/up.log" '^20[0-9-]+T[0-9:]+Z listening as '
stop subscribed

# ---- standard error connected to journald (JOURNAL_STREAM names it) ----
: >"$work/journal.log"
listener "$work/journal.log" JOURNAL_STREAM="$(stat -c %d:%i "$work/journal.log")"
wait_for "$work/notify.log" '^READY=1' 1 20 || fail "journal run: no READY=1" "$work/journal.log"
mosquitto_pub -h 127.0.0.1 -p "$DANEMSG_MQTT_PORT" -q 1 -t "$bob" -m 'not a message'
wait_for "$work/journal.log" 'rejected' 1 20
stop journal
expect "journald: info level, no timestamp" "$work/journal.log" '^<6>listening as '
expect "journald: a refused message is a warning" "$work/journal.log" '^<4>rejected: '
expect_not "journald: no timestamps of ours" "$work/journal.log" '^(<[0-9]>)?20[0-9-]+T[0-9:]+Z'
# JOURNAL_STREAM that names another stream (stderr redirected): stamped as usual
: >"$work/other.log"
listener "$work/redirected.log" JOURNAL_STREAM="$(stat -c %d:%i "$work/other.log")"
wait_for "$work/notify.log" '^READY=1' 1 20 || fail "redirected run: no READY=1"
stop redirected
expect "stderr not the journal's stream: timestamps" "$work/redirected.log" \
	'^20[0-9-]+T[0-9:]+Z listening as '

finish
