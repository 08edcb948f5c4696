#!/bin/bash
# A key published under a PKIX-TA record (usage 0) is a CA's, never the identity's: end to
# end with seal and open against the lab's zone (docs/discovery.md). The CA is trusted
# (--ca-file) and even names the identity in its SAN, the sharpest case:
#   control   an end-entity certificate the CA issued opens (0) as the identity
#   refused   messages signed with the CA's own key, carrying the CA's certificate or
#             nothing, with the record as 0 0 0 or 0 1 0: unknown sender (22)
#   encrypt   seal never encrypts to the CA's key (14); id show says it cannot
# Run by CTest with the lab's environment and DANEMSG_TOOL (danemsg_lab_test).
set -u
tool=${DANEMSG_TOOL:?the danemsg binary}
: "${DANEMSG_ZONE:?run with the lab environment}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
. "$here/lib.sh"
unset DANEMSG_DIR CRYPTO_PATH

zone=${DANEMSG_ZONE%.}
s0="ta0-$$._device.$zone" s1="ta1-$$._device.$zone" r="tar$$._device.$zone"
hex_der() { openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
hex_spki() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
		od -An -v -tx1 | tr -d ' \n'
}

# The CA: may sign certificates, and (for the attempt) messages and key agreement too.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
	-out "$work/ca.pem" -subj "/CN=TA test CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,digitalSignature,keyAgreement \
	-addext "subjectAltName=DNS:$s0,DNS:$s1" 2>/dev/null || { fail "the CA"; finish; exit; }
lab_update "add $s0. 60 IN TLSA 0 0 0 $(hex_der "$work/ca.pem")" >/dev/null &&
	lab_update "add $s1. 60 IN TLSA 0 1 0 $(hex_spki "$work/ca.pem")" >/dev/null ||
	{ fail "the PKIX-TA records"; finish; exit; }

# The recipient, published as 3 0 0; the CA's key as the senders' local identities.
ids=$work/ids ca_ids=$work/ca-ids ee_ids=$work/ee-ids
"$tool" id new "$r" --key p256 --dir "$ids" >/dev/null &&
	"$tool" id publish "$r" --dir "$ids" --ttl 60 --no-confirm >/dev/null ||
	{ fail "the recipient $r"; finish; exit; }
mkdir -m 700 "$ca_ids"
for n in "$s0" "$s1"; do
	install -m 600 "$work/ca.key" "$ca_ids/$n.key.pem"
	cp "$work/ca.pem" "$ca_ids/$n.crt.pem"
done
# Control: an end-entity certificate for s0 that the CA issued.
"$tool" id new "$s0" --key p256 --dir "$ee_ids" >/dev/null
"$tool" id csr "$s0" --dir "$ee_ids" >"$work/ee.csr"
printf 'subjectAltName=DNS:%s\nkeyUsage=digitalSignature,keyAgreement\nbasicConstraints=CA:FALSE\n' \
	"$s0" >"$work/ee.ext"
openssl x509 -req -in "$work/ee.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -days 30 \
	-extfile "$work/ee.ext" -out "$work/ee.pem" 2>/dev/null
"$tool" id import "$s0" "$work/ee.pem" --dir "$ee_ids" >/dev/null

ca=(--ca-file "$work/ca.pem")
printf 'from %s' "$s0" >"$work/text"
seal() {   # seal FROM DIR OUT [OPTIONS]
	"$tool" seal --from "$1" --to "$r" --dir "$2" --in "$work/text" --out "$3" "${@:4}"
}
open_msg() { "$tool" open --as "$r" --dir "$ids" --no-replay-cache --in "$1" "${ca[@]}"; }

check "control: the CA's end-entity certificate, carried, seals" 0 \
	seal "$s0" "$ee_ids" "$work/ee.msg" --carry-cert
check "control: ... and opens as $s0 through the 0 0 0 record" 0 open_msg "$work/ee.msg"
expect_output "control: ... with its text" "^from $s0\$"

for n in "$s0" "$s1"; do
	check "the CA's key as $n, carrying the CA's certificate: sealed" 0 \
		seal "$n" "$ca_ids" "$work/x5c.msg" --carry-cert
	check "... refused as unknown sender (22), the CA is no end entity" 22 \
		open_msg "$work/x5c.msg"
	check "the CA's key as $n, carrying nothing: sealed" 0 seal "$n" "$ca_ids" "$work/bare.msg"
	check "... refused as unknown sender (22), the record's key is not the identity's" 22 \
		open_msg "$work/bare.msg"
	check "seal to $n never encrypts to the CA's key (14)" 14 "$tool" seal --from "$r" \
		--to "$n" --dir "$ids" --in "$work/text" --out "$work/to.msg" "${ca[@]}"
	check "id show $n --json" 0 "$tool" id show "$n" --json "${ca[@]}"
	expect_output "... says it cannot be encrypted to" '"can_encrypt": false'
done

finish
