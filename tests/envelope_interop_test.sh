#!/bin/bash
# The message envelope against independent implementations, both directions, with keys
# in the lab's signed zone (docs/envelope.md):
#   compat   danemsg seal --compat -> the reference receiver (tests/interop/reference.py);
#            the reference sender -> danemsg open (both x5u locator forms)
#   native   danemsg seal -> jwcrypto and jose (tests/interop/native.py, native.mjs) decrypt
#            and verify, for every sender/recipient key type and a two-recipient message;
#            jwcrypto/jose-made messages -> danemsg open
#   refusals aud naming someone else (21), a message re-encrypted by its recipient (21),
#            a tampered signature (23), replay (25), too old (24), RS256 in native (28),
#            unknown sender (22), the reference format without --compat (28), a jti that
#            is not 1-128 of A-Z a-z 0-9 - _ (20); a damaged replay cache stops open (1)
# A peer that lacks an algorithm (exit 3) or is not installed is skipped with its reason.
# Run by CTest with the lab's environment and DANEMSG_TOOL (danemsg_lab_test).
set -u
tool=${DANEMSG_TOOL:?the danemsg binary}
: "${DANEMSG_RESOLVER:?run with the lab environment}" "${DANEMSG_ZONE:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
interop=$here/interop
python=/usr/bin/python3   # Debian's: the python3 first on PATH cannot see python3-jwcrypto
started=$(date +%s)

. "$here/lib.sh"
ids=$work/ids
export DANEMSG_DIR="$ids"

# ---- peers ----
peers=""
if "$python" -c 'import jwcrypto' 2>"$work/err"; then
	peers=jwcrypto
else
	skip "jwcrypto and the reference" "$python cannot import jwcrypto: $(tail -1 "$work/err")"
fi
if ! command -v node >/dev/null 2>&1; then
	skip "jose" "node is not installed"
else
	if [ ! -d "$interop/node_modules/jose" ]; then
		say "installing the npm package jose"
		if [ -x "$root/scripts/npm-deps" ]; then
			"$root/scripts/npm-deps" >"$work/err" 2>&1
		else
			(cd "$interop" && npm ci --no-audit --no-fund) >"$work/err" 2>&1
		fi || tail -3 "$work/err"
	fi
	if [ -d "$interop/node_modules/jose" ]; then
		peers="$peers jose"
	else
		skip "jose" "the npm package is not installed (npm failed: offline?)"
	fi
fi
has() { case " $peers " in *" $1 "*) return 0 ;; esac; return 1; }

peer() {   # peer NAME ARGS...: the native-format peer NAME
	p=$1
	shift
	case $p in
	jwcrypto) "$python" "$interop/native.py" "$@" ;;
	jose) node "$interop/native.mjs" "$@" ;;
	esac
}
reference() { "$python" "$interop/reference.py" "$@"; }

# ---- identities, published in the lab's zone ----
zone=${DANEMSG_ZONE%.}
tag=ei$$
name() { printf '%s-%s._device.%s' "$tag" "$1" "$zone"; }
for who in sp256:p256 sed25519:ed25519 srsa:rsa2048 rp256:p256 red25519:ed25519 rrsa:rsa2048; do
	n=$(name "${who%%:*}")
	if ! "$tool" id new "$n" --key "${who#*:}" --dir "$ids" >/dev/null 2>"$work/err" ||
		! "$tool" id publish "$n" --dir "$ids" --ttl 60 >/dev/null 2>>"$work/err"; then
		fail "identity $n" "$work/err"
		exit 1
	fi
done
senders="sp256 sed25519 srsa"
recipients="rp256 red25519 rrsa"
bob=rrsa carol=rp256
# Key files: signing pair NAME.key.pem/.crt.pem; Ed25519 identities encrypt with X25519.
sig_key() { printf '%s/%s.key.pem' "$ids" "$(name "$1")"; }
sig_cert() { printf '%s/%s.crt.pem' "$ids" "$(name "$1")"; }
enc_file() {   # enc_file WHO key|crt
	if [ -f "$ids/$(name "$1").x25519.$2.pem" ]; then
		printf '%s/%s.x25519.%s.pem' "$ids" "$(name "$1")" "$2"
	else
		printf '%s/%s.%s.pem' "$ids" "$(name "$1")" "$2"
	fi
}
to() { printf '%s=%s' "$(name "$1")" "$(enc_file "$1" crt)"; }

# ---- checks ----
# try LABEL WANT-EXIT INPUT-FILE COMMAND...: runs it (stdout to $work/out); 1 when the
# exit status differs, 3 when a peer says it cannot (LABEL skipped), else 0.
try() {
	label=$1 want=$2 input=$3
	shift 3
	got=0
	"$@" <"$input" >"$work/out" 2>"$work/err" || got=$?
	[ "$got" -eq "$want" ] && return 0
	if [ "$got" -eq 3 ]; then
		skip "$label" "$(tail -1 "$work/err")"
		return 3
	fi
	printf 'exit %s, expected %s\n' "$got" "$want" >>"$work/err"
	fail "$label" "$work/err"
	return 1
}
# check LABEL WANT-EXIT INPUT-FILE COMMAND...: passes on that exit status
check() { try "$@" && pass "$1"; }
# same LABEL EXPECTED-FILE INPUT-FILE COMMAND...: exit 0 and stdout equal to the file
same() {
	label=$1 expected=$2
	shift 2
	try "$label" 0 "$@" || return 0
	if cmp -s "$work/out" "$expected"; then pass "$label"; else
		{ say "output differs:"; head -c 300 "$work/out"; } >"$work/err"
		fail "$label" "$work/err"
	fi
}
# message LABEL: a new UTF-8 text in $work/msg (unique, so compat replays do not collide)
count=0
message() {
	count=$((count + 1))
	printf 'h\303\251llo \342\234\223 #%s (%s)\nsecond line {"json":1}' "$count" "$1" >"$work/msg"
}
seal() {   # seal FROM TO[,TO...] [OPTIONS]: danemsg seal of $work/msg into $work/sealed
	from=$1 list=$2
	shift 2
	names=""
	for r in $(echo "$list" | tr , ' '); do names="$names${names:+,}$(name "$r")"; done
	"$tool" seal --from "$(name "$from")" --to "$names" "$@" <"$work/msg" >"$work/sealed" 2>"$work/err"
}
dm_open() { "$tool" open --as "$(name "$1")"; }   # danemsg open as WHO, stdin -> stdout
dm_open_compat() { "$tool" open --compat --as "$(name "$1")"; }   # the same, reference format on
peer_open() {   # peer_open PEER AS FROM: the peer decrypts and verifies, stdin -> stdout
	peer "$1" open --as "$(name "$2")" --key "$(enc_file "$2" key)" \
		--cert "$(enc_file "$2" crt)" --from "$(name "$3")" --sender-cert "$(sig_cert "$3")"
}
peer_seal() {   # peer_seal PEER FROM TO[,TO...] [OPTIONS...]: $work/msg -> $work/sealed
	p=$1 from=$2 list=$3
	shift 3
	tos=""
	for r in $(echo "$list" | tr , ' '); do tos="$tos --to $(to "$r")"; done
	# shellcheck disable=SC2086
	peer "$p" seal --from "$(name "$from")" --key "$(sig_key "$from")" \
		--cert "$(sig_cert "$from")" $tos "$@" <"$work/msg" >"$work/sealed" 2>"$work/err"
}

# ---- compat: the reference system's format ----
if has jwcrypto; then
	message "compat danemsg -> reference"
	printf '%s says: %s\n' "$(name srsa)" "$(cat "$work/msg")" >"$work/said"
	if seal srsa rrsa --compat; then
		same "compat: danemsg seal --compat -> reference receiver (sender's cert from DNS)" \
			"$work/said" "$work/sealed" reference receive --as "$(name rrsa)" --key "$(sig_key rrsa)"
		# Same header bytes, same text, deterministic RS256: the very same inner JWS.
		if "$python" "$interop/native.py" decrypt --as "$(name rrsa)" --key "$(sig_key rrsa)" \
			<"$work/sealed" >"$work/inner-danemsg" 2>"$work/err" &&
			reference send --from "$(name srsa)" --key "$(sig_key srsa)" --to "$(name rrsa)" \
				<"$work/msg" >"$work/ref0" 2>"$work/err"; then
			same "compat: danemsg's inner JWS is byte for byte the reference's" \
				"$work/inner-danemsg" "$work/ref0" \
				"$python" "$interop/native.py" decrypt --as "$(name rrsa)" --key "$(sig_key rrsa)"
		else
			fail "compat: decrypting the inner JWS" "$work/err"
		fi
	else
		fail "compat: danemsg seal --compat" "$work/err"
	fi

	message "reference -> danemsg"
	if reference send --from "$(name srsa)" --key "$(sig_key srsa)" --to "$(name rrsa)" \
		<"$work/msg" >"$work/ref1" 2>"$work/err"; then
		# strict by default: refused (28) unless --compat, and the refusal names the option
		check "compat: reference message, open without --compat -> 28" 28 "$work/ref1" \
			dm_open rrsa
		grep -q -- '--compat' "$work/err" && pass "compat: the refusal names --compat" ||
			fail "compat: the refusal names --compat" "$work/err"
		check "compat: reference message, open --no-compat -> 28" 28 "$work/ref1" \
			"$tool" open --no-compat --as "$(name rrsa)"
		check "compat: --compat --no-compat, the last wins -> 28" 28 "$work/ref1" \
			"$tool" open --compat --no-compat --as "$(name rrsa)"
		same "compat: reference sender (recipient's cert from DNS) -> danemsg open --compat" \
			"$work/msg" "$work/ref1" dm_open_compat rrsa
		check "compat: the same message again -> 25 (replay: digest of the signature)" 25 \
			"$work/ref1" dm_open_compat rrsa
		reference send --from "$(name srsa)" --key "$(sig_key srsa)" --to "$(name rrsa)" \
			<"$work/msg" >"$work/ref2" 2>"$work/err"
		check "compat: the same text sent again (RS256 is deterministic) -> 25" 25 \
			"$work/ref2" dm_open_compat rrsa
	else
		fail "compat: reference send" "$work/err"
	fi
	message "reference rfc4501"
	if reference send --from "$(name srsa)" --key "$(sig_key srsa)" --to "$(name rrsa)" \
		--cert-of-recipient "$(sig_cert rrsa)" --rfc4501 <"$work/msg" >"$work/ref3" 2>"$work/err"; then
		same "compat: reference sender, x5u dns:NAME?type=TLSA (RFC 4501) -> danemsg open" \
			"$work/msg" "$work/ref3" dm_open_compat rrsa
	else
		fail "compat: reference send --rfc4501" "$work/err"
	fi
	message "native rsa -> reference"
	printf '%s says: %s\n' "$(name srsa)" "$(cat "$work/msg")" >"$work/said"
	seal srsa rrsa && same "native RSA -> RSA: the reference receiver reads it too" \
		"$work/said" "$work/sealed" reference receive --as "$(name rrsa)" --key "$(sig_key rrsa)"
fi
message "compat refusals"
check "compat: seal --compat from a P-256 identity -> 28" 28 "$work/msg" \
	"$tool" seal --compat --from "$(name sp256)" --to "$(name rrsa)"
check "compat: seal --compat to a P-256 identity -> 14 (no RSA key)" 14 "$work/msg" \
	"$tool" seal --compat --from "$(name srsa)" --to "$(name rp256)"

# ---- native: danemsg seal -> peers ----
for s in $senders; do
	for r in $recipients; do
		message "native $s -> $r"
		if ! seal "$s" "$r"; then
			fail "native: danemsg seal $s -> $r" "$work/err"
			continue
		fi
		cp "$work/msg" "$work/expect"
		cp "$work/sealed" "$work/native-$s-$r"
		for p in $peers; do
			same "native: danemsg seal $s -> $r: $p opens" "$work/expect" "$work/sealed" \
				peer_open "$p" "$r" "$s"
		done
	done
done
message "native general"
if seal sp256 rrsa,red25519; then
	cp "$work/msg" "$work/expect"
	cp "$work/sealed" "$work/general"
	for p in $peers; do
		for r in rrsa red25519; do
			same "native: danemsg seal sp256 -> rrsa,red25519 (general JSON): $p opens as $r" \
				"$work/expect" "$work/general" peer_open "$p" "$r" sp256
		done
	done
else
	fail "native: danemsg seal to two recipients" "$work/err"
fi

# ---- native: peers -> danemsg open ----
for p in $peers; do
	for s in $senders; do
		for r in $recipients; do
			message "$p $s -> $r"
			if peer_seal "$p" "$s" "$r"; then
				same "native: $p seal $s -> $r: danemsg opens" "$work/msg" "$work/sealed" dm_open "$r"
			elif [ $? -eq 3 ]; then
				skip "native: $p seal $s -> $r" "$(tail -1 "$work/err")"
			else
				fail "native: $p seal $s -> $r" "$work/err"
			fi
		done
	done
	message "$p general"
	if peer_seal "$p" sed25519 rrsa,rp256; then
		cp "$work/sealed" "$work/general"
		for r in rrsa rp256; do
			same "native: $p seal sed25519 -> rrsa,rp256 (general JSON): danemsg opens as $r" \
				"$work/msg" "$work/general" dm_open "$r"
		done
	else
		fail "native: $p seal to two recipients" "$work/err"
	fi
	message "$p Ed25519 alg name"
	if peer_seal "$p" sed25519 rp256 --alg Ed25519; then
		same "native: $p signs with alg \"Ed25519\" (RFC 9864 name): danemsg opens" \
			"$work/msg" "$work/sealed" dm_open rp256
	elif [ $? -eq 3 ]; then
		skip "native: $p alg Ed25519" "$(tail -1 "$work/err")"
	else
		fail "native: $p seal --alg Ed25519" "$work/err"
	fi
	message "$p x5c"
	peer_seal "$p" sp256 rp256 --x5c &&
		same "native: $p seal carrying the certificate (x5c): danemsg opens" \
			"$work/msg" "$work/sealed" dm_open rp256
done

# ---- refusals ----
refuse() {   # refuse LABEL WANT PEER FROM TO [OPTIONS...]: a peer-made message is refused
	label=$1 want=$2 p=$3 from=$4 rcpt=$5
	shift 5
	message "$label"
	if peer_seal "$p" "$from" "$rcpt" "$@"; then
		check "$label" "$want" "$work/sealed" dm_open "$rcpt"
	else
		fail "$label: $p seal" "$work/err"
	fi
}
for p in $peers; do
	refuse "refused: $p-made, aud names someone else -> 21" 21 "$p" sp256 rp256 \
		--aud "$(name mallory)"
	refuse "refused: $p-made, tampered signature -> 23" 23 "$p" sed25519 rp256 --tamper
	refuse "refused: $p-made, issued 400 s ago -> 24" 24 "$p" sp256 rrsa --iat-offset=-400
	refuse "refused: $p-made, exp in the past -> 24" 24 "$p" sp256 rrsa --exp=-10
	refuse "refused: $p-made, RS256 in a native message -> 28" 28 "$p" srsa rp256 --alg RS256
done
if has jwcrypto; then
	message "re-encrypted"
	if seal sp256 "$bob" &&
		"$python" "$interop/native.py" reencrypt --as "$(name "$bob")" --key "$(enc_file "$bob" key)" \
			--to "$(to "$carol")" <"$work/sealed" >"$work/reenc" 2>"$work/err"; then
		check "refused: re-encrypted by its recipient (bob) to carol -> 21" 21 "$work/reenc" \
			dm_open "$carol"
	else
		fail "re-encryption by python" "$work/err"
	fi
	message "unknown sender"
	if "$python" "$interop/native.py" seal --from "$(name nobody)" --key "$(sig_key sp256)" \
		--cert "$(sig_cert sp256)" --to "$(to rp256)" <"$work/msg" >"$work/sealed" 2>"$work/err"; then
		check "refused: a sender with no TLSA records -> 22" 22 "$work/sealed" dm_open rp256
	else
		fail "unknown sender: python seal" "$work/err"
	fi
fi
if has jwcrypto; then
	# A message id is data: one that could end a line of the replay file is refused, and
	# the replay file still loads for the next message.
	nl='
'
	refuse "refused: jwcrypto-made, jti with a new line -> 20" 20 jwcrypto sp256 rp256 \
		--jti "id${nl}4000000000 x"
	refuse "refused: jwcrypto-made, jti with a slash -> 20" 20 jwcrypto sp256 rp256 \
		--jti "../../x"
	message "jti uuid"
	peer_seal jwcrypto sp256 rp256 --jti 0f8fad5b-d9cb-469f-a165-70867728950e &&
		same "native: a UUID jti is accepted" "$work/msg" "$work/sealed" dm_open rp256
fi
# A replay cache that does not load stops open (exit 1, naming the file and line).
replay_file="$ids/$(name rp256).replay"
cp "$replay_file" "$work/replay.saved"
printf 'danemsg-replay 2\n4000000000 99 torn' >"$replay_file"
message "damaged replay cache"
seal sp256 rp256 && check "open with a damaged replay cache -> 1" 1 "$work/sealed" dm_open rp256
if grep -q "replay.*line 2.*damaged" "$work/err" && [ ! -s "$work/out" ]; then
	pass "open names the damaged file and line, prints nothing"
else
	fail "open names the damaged file and line, prints nothing" "$work/err"
fi
mv "$work/replay.saved" "$replay_file"
cp "$work/native-sp256-rp256" "$work/twice"
check "native: danemsg seal sp256 -> rp256: danemsg opens" 0 "$work/twice" dm_open rp256 &&
	check "refused: native message opened twice -> 25" 25 "$work/twice" dm_open rp256
check "refused: opened by an identity it is not addressed to -> 21" 21 \
	"$work/native-sp256-rp256" dm_open rrsa

say "in $(($(date +%s) - started)) s"
finish && [ "$passed" -gt 0 ]
