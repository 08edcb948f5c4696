#!/bin/bash
# danemsg id show against the lab: text and JSON output, and each documented exit code.
set -euo pipefail
tool=${DANEMSG_TOOL:?}
. "$(dirname "$0")/lib.sh"

name="show$$._device.${DANEMSG_ZONE}"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/k.pem" \
	-out "$work/c.pem" -subj "/CN=${name%.}" -addext "subjectAltName=DNS:${name%.}" \
	-addext keyUsage=digitalSignature,keyAgreement -days 30 2>/dev/null
der=$(openssl x509 -in "$work/c.pem" -outform DER | od -An -v -tx1 | tr -d ' \n')
fp=$(openssl x509 -in "$work/c.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : |
	tr A-F a-f)
lab_update "add $name 60 IN TLSA 3 0 0 $der"
lab_update "add $name 60 IN TLSA 3 1 1 00ff"     # malformed: never spoils the good one

check "secure identity" 0 "$tool" id show "$name"
expect_output "DNSSEC status" "DNSSEC:  secure"
expect_output "fingerprint" "$fp"
expect_output "unusable record with reason" "UNUSABLE: "
expect_output "key type" "EC P-256, 256 bits; verify: yes, encrypt to: yes"

check "secure identity, JSON" 0 "$tool" id show "$name" --json
/usr/bin/python3 - "$work/out" "$fp" <<'PY' && pass "JSON fields" || fail "JSON fields"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["status"] == "ok" and o["dnssec"] == "secure" and o["can_verify"] and o["can_encrypt"]
good = [r for r in o["records"] if r["usable"]]
assert len(o["records"]) == 2 and len(good) == 1
assert good[0]["certificate"]["sha256"] == sys.argv[2]
assert [r for r in o["records"] if not r["usable"]][0]["reason"]
PY

check "not found" 12 "$tool" id show "nobody$$._device.${DANEMSG_ZONE}"
check "bogus (wrong trust anchor)" 11 env DANEMSG_TRUST_ANCHOR=/usr/share/dns/root.key \
	"$tool" id show "$name" --root-anchor ''
check "insecure (no trust anchor)" 10 env DANEMSG_TRUST_ANCHOR= "$tool" id show "$name" \
	--root-anchor ''
expect_output "insecure status" "DNSSEC:  insecure"
check "insecure opt-out is explicit and loud" 0 env DANEMSG_TRUST_ANCHOR= "$tool" id show \
	"$name" --root-anchor '' --allow-insecure
grep -q WARNING "$work/err" && pass "insecure warning" || fail "no warning"
uname="u$$.unsigned.${DANEMSG_ZONE}"
lab_update "add $uname 60 IN TLSA 3 0 0 $der" "unsigned.${DANEMSG_ZONE}"
check "unsigned delegation is insecure" 10 "$tool" id show "$uname"
start=$(date +%s)
check "server down: temporary failure" 13 "$tool" id show "$name" --resolver 127.0.0.1@9 \
	--timeout 1000
[ $(($(date +%s) - start)) -le 3 ] && pass "fast failure" || fail "slow failure"
check "unreadable trust anchor" 15 "$tool" id show "$name" --trust-anchor /nonexistent
check "not a DNS name" 2 "$tool" id show "bad name"
check "missing NAME" 2 "$tool" id show
check "unknown option" 2 "$tool" id show "$name" --bogus-option
check "help" 0 "$tool" id show --help
expect_output "help mentions exit codes" "Exit status"

finish
