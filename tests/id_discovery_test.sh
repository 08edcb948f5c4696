#!/bin/bash
# danemsg id fetch, id verify and id update against the lab's signed zone.
set -uo pipefail
tool=${DANEMSG_TOOL:?}
. "$(dirname "$0")/lib.sh"
ids=$work/ids
unset DANEMSG_DIR CRYPTO_PATH
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
same_cert() { [ "$(hex_der "$1")" = "$(hex_der "$2")" ]; }
count_certs() { grep -c 'BEGIN CERTIFICATE' "$1"; }
selfsigned() {  # selfsigned KEY CERT NAME DAYS: a self-signed certificate for NAME
	openssl req -x509 -key "$1" -out "$2" -subj "/CN=$3" -addext "subjectAltName=DNS:$3" \
		-addext keyUsage=digitalSignature,keyAgreement -days "$4" 2>/dev/null
}

zone=${DANEMSG_ZONE%.}
name="disc$$._device.$zone"
"$tool" id new "$name" --key p256 --dir "$ids" >/dev/null
crt=$ids/$name.crt.pem key=$ids/$name.key.pem
# A CA certificate published as a DANE-TA record next to the identity's own DANE-EE one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
	-out "$work/ca.pem" -subj "/CN=Disc CA" -days 30 2>/dev/null
lab_update "add $name. 60 IN TLSA 3 0 0 $(hex_der "$crt")"
lab_update "add $name. 60 IN TLSA 2 0 0 $(hex_der "$work/ca.pem")"
digest_only="digest$$._device.$zone"
lab_update "add $digest_only. 60 IN TLSA 3 1 1 $(openssl x509 -in "$crt" -pubkey -noout |
	openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)"

# id fetch
check "fetch to standard output" 0 "$tool" id fetch "$name"
assert "fetch writes both published certificates" test "$(count_certs "$work/out")" = 2
check "fetch --usage dane-ee --out FILE" 0 "$tool" id fetch "$name" --usage dane-ee \
	--out "$work/ee.pem"
assert "the DANE-EE certificate is the identity's" same_cert "$work/ee.pem" "$crt"
assert "only the DANE-EE one" test "$(count_certs "$work/ee.pem")" = 1
check "fetch --usage dane-ta" 0 "$tool" id fetch "$name" --usage dane-ta
assert "the DANE-TA certificate is the CA" same_cert "$work/out" "$work/ca.pem"
check "fetch --usage pkix-ee: none published" 16 "$tool" id fetch "$name" --usage pkix-ee
check "fetch --usage bad" 2 "$tool" id fetch "$name" --usage dane-xx
mkdir "$work/sep"
check "fetch --separate" 0 "$tool" id fetch "$name" --separate --out "$work/sep"
assert "files named by fingerprint" same_cert "$work/sep/$(fp "$crt").pem" "$crt"
assert "the CA's file too" same_cert "$work/sep/$(fp "$work/ca.pem").pem" "$work/ca.pem"
check "fetch --json" 0 "$tool" id fetch "$name" --json
assert "JSON lists both certificates" /usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["dnssec"] == "secure", o
got = sorted((c["usage"], c["sha256"]) for c in o["certificates"])
assert got == sorted([("DANE-EE", sys.argv[2]), ("DANE-TA", sys.argv[3])]), got
' "$work/out" "$(fp "$crt")" "$(fp "$work/ca.pem")"
check "fetch: digest records carry no certificate" 16 "$tool" id fetch "$digest_only"
check "fetch: not found" 12 "$tool" id fetch "nobody$$._device.$zone"
check "fetch: bogus (wrong trust anchor)" 11 env DANEMSG_TRUST_ANCHOR=/usr/share/dns/root.key \
	"$tool" id fetch "$name" --root-anchor ''
ln -s "$work/victim" "$work/link"
check "fetch --out never follows a link" 1 "$tool" id fetch "$name" --out "$work/link"
assert "the link's target was not created" test ! -e "$work/victim"
check "fetch: no NAME" 2 "$tool" id fetch

# id verify
check "verify CERT NAME" 0 "$tool" id verify "$crt" "$name"
check "verify CERT: the names of its SAN" 0 "$tool" id verify "$crt"
grep -q "^$name: DNS vouches" "$work/out" && pass "verify names the vouching name" ||
	fail "verify names the vouching name" "$work/out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/other.key" \
	-out "$work/other.pem" -subj "/CN=$name" -addext "subjectAltName=DNS:$name" -days 30 \
	2>/dev/null
check "verify: another key with the same name is not vouched for" 16 \
	"$tool" id verify "$work/other.pem"
# Two SAN names, the first unpublished: a secure answer at the second decides.
openssl req -x509 -key "$work/other.key" -out "$work/two-other.pem" -subj "/CN=$name" -days 30 \
	-addext "subjectAltName=DNS:nobody$$._device.$zone,DNS:$name" 2>/dev/null
check "verify: a secure answer without a match is 16, not the first name's 12" 16 \
	"$tool" id verify "$work/two-other.pem"
check "verify --json" 0 "$tool" id verify "$crt" "$name" --json
assert "JSON says vouched" /usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
n = o["names"][0]
assert o["vouched"] is True and n["status"] == "ok" and n["record"] >= 1, o
' "$work/out"
check "verify: not found" 12 "$tool" id verify "$crt" "nobody$$._device.$zone"
check "verify: the CA is no end entity at NAME" 16 "$tool" id verify "$work/ca.pem" "$name"
check "verify: no SAN name and no NAME" 2 "$tool" id verify "$work/ca.pem"
check "verify: not a certificate" 1 "$tool" id verify "$key" "$name"
check "verify: missing file" 1 "$tool" id verify "$work/none.pem" "$name"

# id update
selfsigned "$key" "$work/renewed.pem" "$name" 3650
lab_update "add $name. 60 IN TLSA 3 0 0 $(hex_der "$work/renewed.pem")"
check "update installs the renewed certificate" 0 "$tool" id update "$name" --dir "$ids"
assert "the local certificate is the published one" same_cert "$crt" "$work/renewed.pem"
assert "the previous one is kept" test -f "$crt.bak"
check "update again: already current" 0 "$tool" id update "$name" --dir "$ids" --json
assert "JSON says not updated" /usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["updated"] is False and o["sha256"] == sys.argv[2], o
' "$work/out" "$(fp "$work/renewed.pem")"
check "the updated identity still loads and checks" 0 "$tool" id check "$name" --dir "$ids"

name2="upd$$._device.$zone"
"$tool" id new "$name2" --key p256 --dir "$ids" >/dev/null
cp "$ids/$name2.crt.pem" "$work/before.pem"
selfsigned "$work/other.key" "$work/foreign.pem" "$name2" 3650
lab_update "add $name2. 60 IN TLSA 3 0 0 $(hex_der "$work/foreign.pem")"
check "update refuses a certificate for another key" 16 "$tool" id update "$name2" --dir "$ids"
assert "the local certificate is unchanged" same_cert "$ids/$name2.crt.pem" "$work/before.pem"
check "update: no local identity" 1 "$tool" id update "none$$._device.$zone" --dir "$ids"
"$tool" id new "unpub$$._device.$zone" --key p256 --dir "$ids" >/dev/null
check "update: not published in DNS" 12 "$tool" id update "unpub$$._device.$zone" --dir "$ids"
# PKIX-EE (usage 1): an identity whose certificate a Web CA issued, trusted via --ca-file.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/web.key" \
	-out "$work/web.pem" -subj "/CN=Lab Web CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
pk="pkix$$._device.$zone" bob="bob$$._device.$zone"
"$tool" id new "$pk" --key p256 --dir "$ids" >/dev/null
"$tool" id new "$bob" --key p256 --dir "$ids" >/dev/null
"$tool" id csr "$pk" --dir "$ids" >"$work/pk.csr"
printf 'subjectAltName=DNS:%s\nkeyUsage=digitalSignature,keyAgreement\n' "$pk" >"$work/ext"
openssl x509 -req -in "$work/pk.csr" -CA "$work/web.pem" -CAkey "$work/web.key" -days 30 \
	-extfile "$work/ext" -out "$work/pk.pem" 2>/dev/null
"$tool" id import "$pk" "$work/pk.pem" --dir "$ids" >/dev/null
lab_update "add $pk. 60 IN TLSA 1 0 0 $(hex_der "$work/pk.pem")"
lab_update "add $bob. 60 IN TLSA 3 0 0 $(hex_der "$ids/$bob.crt.pem")"
check "PKIX-EE: verify with the Web CA" 0 "$tool" id verify "$work/pk.pem" --ca-file "$work/web.pem"
check "PKIX-EE: the system's store does not know the lab's CA" 16 \
	"$tool" id verify "$work/pk.pem"
check "PKIX-EE: --ca-file '' trusts no CA" 16 "$tool" id verify "$work/pk.pem" --ca-file ''
check "PKIX-EE: an unreadable --ca-file is a configuration error" 15 \
	"$tool" id verify "$work/pk.pem" --ca-file "$work/none.pem"
check "fetch --usage pkix-ee" 0 "$tool" id fetch "$pk" --usage pkix-ee
assert "the PKIX-EE certificate" same_cert "$work/out" "$work/pk.pem"
seal() { printf '%s' "$1" | "$tool" seal --dir "$ids" --out "$work/msg" "${@:2}"; }
open_as() { "$tool" open --dir "$ids" --no-replay-cache --in "$work/msg" --as "$@"; }
check "PKIX-EE sender: seal" 0 seal "from pkix" --from "$pk" --to "$bob"
check "PKIX-EE sender: opened with the Web CA" 0 open_as "$bob" --ca-file "$work/web.pem"
grep -q "from pkix" "$work/out" && pass "the PKIX-EE sender's payload" ||
	fail "the PKIX-EE sender's payload" "$work/out"
check "PKIX-EE sender: unknown without the Web CA" 22 open_as "$bob"
check "PKIX-EE recipient: nothing to encrypt to without the Web CA" 14 \
	seal "to pkix" --from "$bob" --to "$pk"
check "PKIX-EE recipient: seal with the Web CA" 0 \
	seal "to pkix" --from "$bob" --to "$pk" --ca-file "$work/web.pem"
check "PKIX-EE recipient: opens it" 0 open_as "$pk"
grep -q "to pkix" "$work/out" && pass "the payload sealed to PKIX-EE" ||
	fail "the payload sealed to PKIX-EE" "$work/out"

# PKIX-CD (the reference's private usage 4), opt-in: the lab's HTTPS server holds the lab's
# device CA at https://device.ZONE/.well-known/ca/AKI.pem, with a certificate from the lab's
# Web CA; the test's device certificates are issued by that device CA.
dev="dev$$._device.$zone"
devca=$DANEMSG_DEVICE_CA devca_key=${DANEMSG_DEVICE_CA%.pem}.key
"$tool" id new "$dev" --key p256 --dir "$ids" >/dev/null
"$tool" id csr "$dev" --dir "$ids" >"$work/dev.csr"
printf 'subjectAltName=DNS:%s\nkeyUsage=digitalSignature,keyAgreement\n' "$dev" >"$work/dev.ext"
printf 'authorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\n' >>"$work/dev.ext"
openssl x509 -req -in "$work/dev.csr" -CA "$devca" -CAkey "$devca_key" -days 30 \
	-extfile "$work/dev.ext" -out "$work/dev.pem" 2>/dev/null
"$tool" id import "$dev" "$work/dev.pem" --dir "$ids" >/dev/null
lab_update "add $dev. 60 IN TLSA 4 0 0 $(hex_der "$work/dev.pem")"
# The same certificate at another name: it does not name that identity.
lab_update "add other$dev. 60 IN TLSA 4 0 0 $(hex_der "$work/dev.pem")"
cd_opts=(--pkix-cd --pkix-cd-connect "$DANEMSG_PKIX_CD_CONNECT" --ca-file "$DANEMSG_WEB_CA")
check "PKIX-CD: verify with --pkix-cd" 0 "$tool" id verify "$work/dev.pem" "$dev" "${cd_opts[@]}"
check "PKIX-CD: off by default" 14 "$tool" id verify "$work/dev.pem" "$dev"
check "PKIX-CD: the CA's server must pass Web PKI verification" 14 \
	"$tool" id verify "$work/dev.pem" "$dev" --pkix-cd --pkix-cd-connect "$DANEMSG_PKIX_CD_CONNECT"
check "PKIX-CD: the certificate must name the identity" 14 \
	"$tool" id verify "$work/dev.pem" "other$dev" "${cd_opts[@]}"
check "PKIX-CD: id show says why the record is unusable" 14 "$tool" id show "$dev"
grep -q "PKIX-CD" "$work/out" && pass "id show names PKIX-CD" ||
	fail "id show names PKIX-CD" "$work/out"
check "fetch --ca: the device's CA, fetched and validated" 0 \
	"$tool" id fetch "$dev" --ca --pkix-cd-connect "$DANEMSG_PKIX_CD_CONNECT" \
	--ca-file "$DANEMSG_WEB_CA"
assert "the CA is the one the server holds" same_cert "$work/out" "$devca"
check "fetch --ca: no PKIX-CD record, no CA" 16 "$tool" id fetch "$name" --ca "${cd_opts[@]}"
check "fetch --usage pkix-cd" 0 "$tool" id fetch "$dev" --usage pkix-cd "${cd_opts[@]}"
assert "the device certificate" same_cert "$work/out" "$work/dev.pem"
check "PKIX-CD sender: seal" 0 seal "from the device" --from "$dev" --to "$bob"
check "PKIX-CD sender: opened with --pkix-cd" 0 open_as "$bob" "${cd_opts[@]}"
grep -q "from the device" "$work/out" && pass "the PKIX-CD sender's payload" ||
	fail "the PKIX-CD sender's payload" "$work/out"
check "PKIX-CD sender: unknown without --pkix-cd" 22 open_as "$bob"
check "PKIX-CD recipient: seal with --pkix-cd" 0 \
	seal "to the device" --from "$bob" --to "$dev" "${cd_opts[@]}"
check "PKIX-CD recipient: opens it" 0 open_as "$dev"
grep -q "to the device" "$work/out" && pass "the payload sealed to PKIX-CD" ||
	fail "the payload sealed to PKIX-CD" "$work/out"

# id update from a PKIX-CD record: the device CA renewed the device's certificate; the
# chain file the old one was imported with is stale and goes.
"$tool" id import "$dev" "$work/dev.pem" --chain "$devca" --dir "$ids" --force >/dev/null
openssl x509 -req -in "$work/dev.csr" -CA "$devca" -CAkey "$devca_key" -days 60 \
	-extfile "$work/dev.ext" -out "$work/dev-renewed.pem" 2>/dev/null
lab_update "add $dev. 60 IN TLSA 4 0 0 $(hex_der "$work/dev-renewed.pem")"
check "PKIX-CD update: nothing usable without --pkix-cd" 16 "$tool" id update "$dev" --dir "$ids"
grep -q -- "--pkix-cd" "$work/err" && pass "the refusal names --pkix-cd" ||
	fail "the refusal names --pkix-cd" "$work/err"
assert "PKIX-CD update: unchanged without --pkix-cd" same_cert "$ids/$dev.crt.pem" "$work/dev.pem"
check "PKIX-CD update with --pkix-cd" 0 "$tool" id update "$dev" --dir "$ids" "${cd_opts[@]}"
assert "PKIX-CD update: the renewed certificate is installed" \
	same_cert "$ids/$dev.crt.pem" "$work/dev-renewed.pem"
assert "PKIX-CD update: the stale chain is gone" test ! -e "$ids/$dev.chain.pem"
assert "PKIX-CD update: ... and kept as .bak" same_cert "$ids/$dev.chain.pem.bak" "$devca"
check "PKIX-CD update: the identity still loads and checks" 0 \
	"$tool" id check "$dev" --dir "$ids" "${cd_opts[@]}"

for cmd in fetch verify update; do
	check "$cmd --help" 0 "$tool" id "$cmd" --help
	grep -q "Exit status" "$work/out" && pass "$cmd --help lists exit codes" ||
		fail "$cmd --help lists exit codes"
done

finish
