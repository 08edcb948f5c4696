#!/bin/bash
# danemsg id new/csr/import/tlsa/rollover against the openssl command line.
# usage: id_cli_test.sh PATH-TO-danemsg
set -u
TOOL=${1:?usage: $0 PATH-TO-danemsg}
. "$(dirname "$0")/lib.sh"
DIR=$work/ids
# The identity folder must come from --dir here, never from the caller's environment.
unset DANEMSG_DIR CRYPTO_PATH
export HOME=$work/home

mode() { stat -c %a "$1"; }
spki_sha256() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}
tlsa_data() { awk '{print $NF}'; }

for type in rsa2048 p256 ed25519; do
	name=dev-$type._device.example.net
	key=$DIR/$name.key.pem
	crt=$DIR/$name.crt.pem
	check "$type: id new" 0 "$TOOL" id new "$name" --key "$type" --dir "$DIR"
	check "$type: id new prints the TLSA record" 0 grep -q "^$name\. 300 IN TLSA 3 0 0 [0-9a-f]*$" "$work/out"
	check "$type: key is 0600" 0 test "$(mode "$key")" = 600
	check "$type: folder is 0700" 0 test "$(mode "$DIR")" = 700
	check "$type: certificate parses" 0 openssl x509 -in "$crt" -noout -text
	check "$type: SAN names the identity" 0 \
		bash -c "openssl x509 -in '$crt' -noout -ext subjectAltName | grep -q 'DNS:$name\$'"
	check "$type: openssl reads the key" 0 openssl pkey -in "$key" -noout
	check "$type: key and certificate match" 0 test \
		"$(openssl pkey -in "$key" -pubout)" = "$(openssl x509 -in "$crt" -pubkey -noout)"
	sum=$(sha256sum <"$key")
	check "$type: existing key not overwritten (exit 31)" 31 \
		"$TOOL" id new "$name" --key "$type" --dir "$DIR"
	check "$type: key unchanged" 0 test "$(sha256sum <"$key")" = "$sum"
	check "$type: --force overwrites" 0 "$TOOL" id new "$name" --key "$type" --dir "$DIR" --force
	check "$type: key changed" 0 test "$(sha256sum <"$key")" != "$sum"
	check "$type: key still 0600" 0 test "$(mode "$key")" = 600

	"$TOOL" id tlsa "$name" --dir "$DIR" >"$work/tlsa" 2>&1
	check "$type: id tlsa 3 0 0 = certificate DER" 0 \
		test "$(head -1 "$work/tlsa" | tlsa_data)" = "$(hex_der "$crt")"
	check "$type: id tlsa line format" 0 \
		grep -q "^$name\. 300 IN TLSA 3 0 0 [0-9a-f]*$" "$work/tlsa"
	"$TOOL" id tlsa "$name" --dir "$DIR" --usage 3 --selector 1 --matching 1 --ttl 60 \
		>"$work/tlsa" 2>&1
	check "$type: id tlsa 3 1 1 = SHA-256 of the SPKI" 0 \
		test "$(head -1 "$work/tlsa" | tlsa_data)" = "$(spki_sha256 "$crt")"
	check "$type: id tlsa --ttl" 0 grep -q "^$name\. 60 IN TLSA 3 1 1 " "$work/tlsa"

	"$TOOL" id csr "$name" --dir "$DIR" >"$work/csr.pem" 2>"$work/err"
	check "$type: id csr verifies" 0 openssl req -in "$work/csr.pem" -verify -noout
	check "$type: CSR requests the SAN" 0 \
		bash -c "openssl req -in '$work/csr.pem' -noout -text | grep -q 'DNS:$name'"
	check "$type: id csr --out" 0 "$TOOL" id csr "$name" --dir "$DIR" --out "$work/csr2.pem"
	check "$type: CSR for the identity's key" 0 test \
		"$(openssl req -in "$work/csr2.pem" -pubkey -noout)" = "$(openssl pkey -in "$key" -pubout)"
done

# A private key that others may read is refused, with its own exit code and the fix.
name=dev-p256._device.example.net
chmod 644 "$DIR/$name.key.pem"
check "key readable by others: refused (exit 32)" 32 "$TOOL" id tlsa "$name" --dir "$DIR"
check "key readable by others: names the file and the fix" 0 \
	grep -q "$DIR/$name.key.pem is accessible by others (mode 0644): run 'chmod 600" "$work/err"
check "key readable by others: seal refuses it too (exit 32)" 32 \
	"$TOOL" seal --from "$name" --to "$name" --dir "$DIR" --in /dev/null
chmod 600 "$DIR/$name.key.pem"

# Ed25519: two records (Ed25519 + X25519), the X25519 one signed by the Ed25519 key.
name=dev-ed25519._device.example.net
check "ed25519: id tlsa prints two lines" 0 \
	test "$("$TOOL" id tlsa "$name" --dir "$DIR" | wc -l)" = 2
check "ed25519: X25519 certificate" 0 \
	bash -c "openssl x509 -in '$DIR/$name.x25519.crt.pem' -noout -text | grep -q X25519"
check "ed25519: X25519 key is 0600" 0 test "$(mode "$DIR/$name.x25519.key.pem")" = 600

# Import of a certificate issued by an openssl-made CA.
name=dev-p256._device.example.net
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
	-out "$work/ca.pem" -subj "/CN=Test CA" -days 2 -addext basicConstraints=critical,CA:TRUE \
	>/dev/null 2>&1
printf 'subjectAltName=DNS:%s\n' "$name" >"$work/ext.cnf"
"$TOOL" id csr "$name" --dir "$DIR" --out "$work/p256.csr" 2>/dev/null
openssl x509 -req -in "$work/p256.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
	-CAcreateserial -days 1 -extfile "$work/ext.cnf" -out "$work/issued.pem" >/dev/null 2>&1
check "import: CA-issued certificate" 0 \
	"$TOOL" id import "$name" "$work/issued.pem" --chain "$work/ca.pem" --dir "$DIR"
check "import: installed" 0 test "$(hex_der "$DIR/$name.crt.pem")" = "$(hex_der "$work/issued.pem")"
check "import: chain installed" 0 test -s "$DIR/$name.chain.pem"
check "import: old certificate kept" 0 test -s "$DIR/$name.crt.pem.bak"
check "import: id tlsa publishes the new certificate" 0 test \
	"$("$TOOL" id tlsa "$name" --dir "$DIR" | tlsa_data)" = "$(hex_der "$work/issued.pem")"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/foreign.key" \
	-subj "/CN=$name" -out "$work/foreign.csr" >/dev/null 2>&1
openssl x509 -req -in "$work/foreign.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
	-CAcreateserial -days 1 -extfile "$work/ext.cnf" -out "$work/foreign.pem" >/dev/null 2>&1
check "import: certificate for a foreign key refused" 1 \
	"$TOOL" id import "$name" "$work/foreign.pem" --dir "$DIR"
check "import: refusal names the key mismatch" 0 grep -q "does not match the key" "$work/err"
check "import: refused certificate not installed" 0 \
	test "$(hex_der "$DIR/$name.crt.pem")" = "$(hex_der "$work/issued.pem")"

# Rollover: current + next are published; rollover promotes next.
name=roll._device.example.net
check "rollover: id new" 0 "$TOOL" id new "$name" --dir "$DIR"
check "rollover: without a next key fails" 1 "$TOOL" id rollover "$name" --dir "$DIR"
check "rollover: id new --next" 0 "$TOOL" id new "$name" --next --key rsa2048 --dir "$DIR"
check "rollover: next key is 0600" 0 test "$(mode "$DIR/$name.next.key.pem")" = 600
"$TOOL" id tlsa "$name" --dir "$DIR" >"$work/tlsa" 2>&1
check "rollover: id tlsa prints two lines" 0 test "$(wc -l <"$work/tlsa")" = 2
check "rollover: second line is the next certificate" 0 \
	test "$(sed -n 2p "$work/tlsa" | tlsa_data)" = "$(hex_der "$DIR/$name.next.crt.pem")"
next_der=$(hex_der "$DIR/$name.next.crt.pem")
check "rollover: id rollover" 0 "$TOOL" id rollover "$name" --dir "$DIR"
check "rollover: next became current" 0 test "$(hex_der "$DIR/$name.crt.pem")" = "$next_der"
check "rollover: old key kept" 0 test -s "$DIR/$name.old.key.pem"
check "rollover: no next key left" 0 test ! -e "$DIR/$name.next.key.pem"
check "rollover: id tlsa prints one line" 0 \
	test "$("$TOOL" id tlsa "$name" --dir "$DIR" | wc -l)" = 1

# Names over 64 octets (a CN's limit): no CN, the name in the SAN; over 225: a folder.
name=0f8c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b._device.sensors.acme-industries.com
crt=$DIR/$name.crt.pem
check "72 octets: id new" 0 "$TOOL" id new "$name" --dir "$DIR"
openssl x509 -in "$crt" -noout -subject -ext subjectAltName >"$work/x509" 2>&1
check "72 octets: no CN" 0 bash -c "! grep -q CN '$work/x509'"
check "72 octets: subject of DCs" 0 grep -q 'DC = com, DC = acme-industries' "$work/x509"
check "72 octets: SAN names it" 0 grep -q "DNS:$name\$" "$work/x509"
"$TOOL" id csr "$name" --dir "$DIR" | openssl req -noout -text >"$work/csr.txt" 2>&1
check "72 octets: CSR requests the SAN" 0 grep -q "DNS:$name" "$work/csr.txt"
l63=$(printf '%063d' 0 | tr 0 l)
name=$l63.$l63.$l63.$(printf '%041d' 0)._device.example.net
check "253 octets: id new" 0 "$TOOL" id new "$name" --dir "$DIR"
check "253 octets: files in DIR/NAME/" 0 test -s "$DIR/$name/key.pem"
"$TOOL" id tlsa "$name" --dir "$DIR" | tlsa_data >"$work/tlsa"
check "253 octets: id tlsa = certificate DER" 0 \
	test "$(cat "$work/tlsa")" = "$(hex_der "$DIR/$name/crt.pem")"

# Folder from the environment: DANEMSG_DIR, then CRYPTO_PATH, then $HOME/.danemsg.
check "env: CRYPTO_PATH" 0 env CRYPTO_PATH="$work/crypto" "$TOOL" id new env.example
check "env: CRYPTO_PATH used" 0 test -s "$work/crypto/env.example.key.pem"
check "env: DANEMSG_DIR wins" 0 \
	env DANEMSG_DIR="$work/dm" CRYPTO_PATH="$work/crypto" "$TOOL" id new env.example
check "env: DANEMSG_DIR used" 0 test -s "$work/dm/env.example.key.pem"
check "env: HOME/.danemsg" 0 "$TOOL" id new env.example
check "env: HOME/.danemsg is 0700" 0 test "$(mode "$HOME/.danemsg")" = 700

# Usage errors exit 2; --help exits 0.
for cmd in new csr import tlsa rollover; do
	check "usage: id $cmd --help" 0 "$TOOL" id "$cmd" --help
	check "usage: id $cmd without NAME" 2 "$TOOL" id "$cmd" --dir "$DIR"
	check "usage: id $cmd --bogus" 2 "$TOOL" id "$cmd" x.example --bogus --dir "$DIR"
done
check "usage: bad key type" 2 "$TOOL" id new x.example --key dsa --dir "$DIR"
check "usage: bad --days" 2 "$TOOL" id new x.example --days 0 --dir "$DIR"
check "usage: bad --selector" 2 "$TOOL" id tlsa x.example --selector 2 --dir "$DIR"
check "usage: bad --ttl" 2 "$TOOL" id tlsa x.example --ttl -1 --dir "$DIR"
check "usage: bad name" 2 "$TOOL" id new ../evil --dir "$DIR"
check "usage: bad name created nothing" 0 test ! -e "$work/evil.key.pem"

finish
