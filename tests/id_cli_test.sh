#!/bin/bash
# danemsg id new/csr/import/tlsa/rollover against the openssl command line.
# usage: id_cli_test.sh PATH-TO-danemsg
set -u
TOOL=${1:?usage: $0 PATH-TO-danemsg}
WORK=$(mktemp -d /tmp/id_cli_test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DIR=$WORK/ids
# The identity folder must come from --dir here, never from the caller's environment.
unset DANEMSG_DIR CRYPTO_PATH
export HOME=$WORK/home

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
	local what=$1
	shift
	# Output goes to out.new first: COMMAND may read the previous command's out.
	if "$@" >"$WORK/out.new" 2>&1; then ok "$what"; else
		not_ok "$what"
		sed 's/^/  # /' "$WORK/out.new"
	fi
	mv "$WORK/out.new" "$WORK/out"
}
check_exit() { # check_exit DESCRIPTION CODE COMMAND...: passes when COMMAND exits with CODE
	local what=$1 want=$2 got
	shift 2
	"$@" >"$WORK/out" 2>&1
	got=$?
	if [ "$got" = "$want" ]; then ok "$what"; else
		not_ok "$what (exit $got, wanted $want)"
		sed 's/^/  # /' "$WORK/out"
	fi
}
mode() { stat -c %a "$1"; }
hex_der() { openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
spki_sha256() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}
tlsa_data() { awk '{print $NF}'; }

for type in rsa2048 p256 ed25519; do
	name=dev-$type._device.example.net
	key=$DIR/$name.key.pem
	crt=$DIR/$name.crt.pem
	check "$type: id new" "$TOOL" id new "$name" --key "$type" --dir "$DIR"
	check "$type: id new prints the TLSA record" grep -q "^$name\. 300 IN TLSA 3 0 0 [0-9a-f]*$" "$WORK/out"
	check "$type: key is 0600" test "$(mode "$key")" = 600
	check "$type: folder is 0700" test "$(mode "$DIR")" = 700
	check "$type: certificate parses" openssl x509 -in "$crt" -noout -text
	check "$type: SAN names the identity" \
		bash -c "openssl x509 -in '$crt' -noout -ext subjectAltName | grep -q 'DNS:$name\$'"
	check "$type: openssl reads the key" openssl pkey -in "$key" -noout
	check "$type: key and certificate match" test \
		"$(openssl pkey -in "$key" -pubout)" = "$(openssl x509 -in "$crt" -pubkey -noout)"
	sum=$(sha256sum <"$key")
	check_exit "$type: existing key not overwritten (exit 31)" 31 \
		"$TOOL" id new "$name" --key "$type" --dir "$DIR"
	check "$type: key unchanged" test "$(sha256sum <"$key")" = "$sum"
	check "$type: --force overwrites" "$TOOL" id new "$name" --key "$type" --dir "$DIR" --force
	check "$type: key changed" test "$(sha256sum <"$key")" != "$sum"
	check "$type: key still 0600" test "$(mode "$key")" = 600

	"$TOOL" id tlsa "$name" --dir "$DIR" >"$WORK/tlsa" 2>&1
	check "$type: id tlsa 3 0 0 = certificate DER" \
		test "$(head -1 "$WORK/tlsa" | tlsa_data)" = "$(hex_der "$crt")"
	check "$type: id tlsa line format" \
		grep -q "^$name\. 300 IN TLSA 3 0 0 [0-9a-f]*$" "$WORK/tlsa"
	"$TOOL" id tlsa "$name" --dir "$DIR" --usage 3 --selector 1 --matching 1 --ttl 60 \
		>"$WORK/tlsa" 2>&1
	check "$type: id tlsa 3 1 1 = SHA-256 of the SPKI" \
		test "$(head -1 "$WORK/tlsa" | tlsa_data)" = "$(spki_sha256 "$crt")"
	check "$type: id tlsa --ttl" grep -q "^$name\. 60 IN TLSA 3 1 1 " "$WORK/tlsa"

	"$TOOL" id csr "$name" --dir "$DIR" >"$WORK/csr.pem" 2>"$WORK/err"
	check "$type: id csr verifies" openssl req -in "$WORK/csr.pem" -verify -noout
	check "$type: CSR requests the SAN" \
		bash -c "openssl req -in '$WORK/csr.pem' -noout -text | grep -q 'DNS:$name'"
	check "$type: id csr --out" "$TOOL" id csr "$name" --dir "$DIR" --out "$WORK/csr2.pem"
	check "$type: CSR for the identity's key" test \
		"$(openssl req -in "$WORK/csr2.pem" -pubkey -noout)" = "$(openssl pkey -in "$key" -pubout)"
done

# A private key that others may read is refused, with its own exit code and the fix.
name=dev-p256._device.example.net
chmod 644 "$DIR/$name.key.pem"
check_exit "key readable by others: refused (exit 32)" 32 "$TOOL" id tlsa "$name" --dir "$DIR"
check "key readable by others: names the file and the fix" \
	grep -q "$DIR/$name.key.pem is accessible by others (mode 0644): run 'chmod 600" "$WORK/out"
check_exit "key readable by others: seal refuses it too (exit 32)" 32 \
	"$TOOL" seal --from "$name" --to "$name" --dir "$DIR" --in /dev/null
chmod 600 "$DIR/$name.key.pem"

# Ed25519: two records (Ed25519 + X25519), the X25519 one signed by the Ed25519 key.
name=dev-ed25519._device.example.net
check "ed25519: id tlsa prints two lines" \
	test "$("$TOOL" id tlsa "$name" --dir "$DIR" | wc -l)" = 2
check "ed25519: X25519 certificate" \
	bash -c "openssl x509 -in '$DIR/$name.x25519.crt.pem' -noout -text | grep -q X25519"
check "ed25519: X25519 key is 0600" test "$(mode "$DIR/$name.x25519.key.pem")" = 600

# Import of a certificate issued by an openssl-made CA.
name=dev-p256._device.example.net
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" \
	-out "$WORK/ca.pem" -subj "/CN=Test CA" -days 2 -addext basicConstraints=critical,CA:TRUE \
	>/dev/null 2>&1
printf 'subjectAltName=DNS:%s\n' "$name" >"$WORK/ext.cnf"
"$TOOL" id csr "$name" --dir "$DIR" --out "$WORK/p256.csr" 2>/dev/null
openssl x509 -req -in "$WORK/p256.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
	-CAcreateserial -days 1 -extfile "$WORK/ext.cnf" -out "$WORK/issued.pem" >/dev/null 2>&1
check "import: CA-issued certificate" \
	"$TOOL" id import "$name" "$WORK/issued.pem" --chain "$WORK/ca.pem" --dir "$DIR"
check "import: installed" test "$(hex_der "$DIR/$name.crt.pem")" = "$(hex_der "$WORK/issued.pem")"
check "import: chain installed" test -s "$DIR/$name.chain.pem"
check "import: old certificate kept" test -s "$DIR/$name.crt.pem.bak"
check "import: id tlsa publishes the new certificate" test \
	"$("$TOOL" id tlsa "$name" --dir "$DIR" | tlsa_data)" = "$(hex_der "$WORK/issued.pem")"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/foreign.key" \
	-subj "/CN=$name" -out "$WORK/foreign.csr" >/dev/null 2>&1
openssl x509 -req -in "$WORK/foreign.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
	-CAcreateserial -days 1 -extfile "$WORK/ext.cnf" -out "$WORK/foreign.pem" >/dev/null 2>&1
check_exit "import: certificate for a foreign key refused" 1 \
	"$TOOL" id import "$name" "$WORK/foreign.pem" --dir "$DIR"
check "import: refusal names the key mismatch" grep -q "does not match the key" "$WORK/out"
check "import: refused certificate not installed" \
	test "$(hex_der "$DIR/$name.crt.pem")" = "$(hex_der "$WORK/issued.pem")"

# Rollover: current + next are published; rollover promotes next.
name=roll._device.example.net
check "rollover: id new" "$TOOL" id new "$name" --dir "$DIR"
check_exit "rollover: without a next key fails" 1 "$TOOL" id rollover "$name" --dir "$DIR"
check "rollover: id new --next" "$TOOL" id new "$name" --next --key rsa2048 --dir "$DIR"
check "rollover: next key is 0600" test "$(mode "$DIR/$name.next.key.pem")" = 600
"$TOOL" id tlsa "$name" --dir "$DIR" >"$WORK/tlsa" 2>&1
check "rollover: id tlsa prints two lines" test "$(wc -l <"$WORK/tlsa")" = 2
check "rollover: second line is the next certificate" \
	test "$(sed -n 2p "$WORK/tlsa" | tlsa_data)" = "$(hex_der "$DIR/$name.next.crt.pem")"
next_der=$(hex_der "$DIR/$name.next.crt.pem")
check "rollover: id rollover" "$TOOL" id rollover "$name" --dir "$DIR"
check "rollover: next became current" test "$(hex_der "$DIR/$name.crt.pem")" = "$next_der"
check "rollover: old key kept" test -s "$DIR/$name.old.key.pem"
check "rollover: no next key left" test ! -e "$DIR/$name.next.key.pem"
check "rollover: id tlsa prints one line" \
	test "$("$TOOL" id tlsa "$name" --dir "$DIR" | wc -l)" = 1

# Names over 64 octets (a CN's limit): no CN, the name in the SAN; over 225: a folder.
name=0f8c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b._device.sensors.acme-industries.com
crt=$DIR/$name.crt.pem
check "72 octets: id new" "$TOOL" id new "$name" --dir "$DIR"
openssl x509 -in "$crt" -noout -subject -ext subjectAltName >"$WORK/x509" 2>&1
check "72 octets: no CN" bash -c "! grep -q CN '$WORK/x509'"
check "72 octets: subject of DCs" grep -q 'DC = com, DC = acme-industries' "$WORK/x509"
check "72 octets: SAN names it" grep -q "DNS:$name\$" "$WORK/x509"
"$TOOL" id csr "$name" --dir "$DIR" | openssl req -noout -text >"$WORK/csr.txt" 2>&1
check "72 octets: CSR requests the SAN" grep -q "DNS:$name" "$WORK/csr.txt"
l63=$(printf '%063d' 0 | tr 0 l)
name=$l63.$l63.$l63.$(printf '%041d' 0)._device.example.net
check "253 octets: id new" "$TOOL" id new "$name" --dir "$DIR"
check "253 octets: files in DIR/NAME/" test -s "$DIR/$name/key.pem"
"$TOOL" id tlsa "$name" --dir "$DIR" | tlsa_data >"$WORK/tlsa"
check "253 octets: id tlsa = certificate DER" \
	test "$(cat "$WORK/tlsa")" = "$(hex_der "$DIR/$name/crt.pem")"

# Folder from the environment: DANEMSG_DIR, then CRYPTO_PATH, then $HOME/.danemsg.
check "env: CRYPTO_PATH" env CRYPTO_PATH="$WORK/crypto" "$TOOL" id new env.example
check "env: CRYPTO_PATH used" test -s "$WORK/crypto/env.example.key.pem"
check "env: DANEMSG_DIR wins" \
	env DANEMSG_DIR="$WORK/dm" CRYPTO_PATH="$WORK/crypto" "$TOOL" id new env.example
check "env: DANEMSG_DIR used" test -s "$WORK/dm/env.example.key.pem"
check "env: HOME/.danemsg" "$TOOL" id new env.example
check "env: HOME/.danemsg is 0700" test "$(mode "$HOME/.danemsg")" = 700

# Usage errors exit 2; --help exits 0.
for cmd in new csr import tlsa rollover; do
	check_exit "usage: id $cmd --help" 0 "$TOOL" id "$cmd" --help
	check_exit "usage: id $cmd without NAME" 2 "$TOOL" id "$cmd" --dir "$DIR"
	check_exit "usage: id $cmd --bogus" 2 "$TOOL" id "$cmd" x.example --bogus --dir "$DIR"
done
check_exit "usage: bad key type" 2 "$TOOL" id new x.example --key dsa --dir "$DIR"
check_exit "usage: bad --days" 2 "$TOOL" id new x.example --days 0 --dir "$DIR"
check_exit "usage: bad --selector" 2 "$TOOL" id tlsa x.example --selector 2 --dir "$DIR"
check_exit "usage: bad --ttl" 2 "$TOOL" id tlsa x.example --ttl -1 --dir "$DIR"
check_exit "usage: bad name" 2 "$TOOL" id new ../evil --dir "$DIR"
check "usage: bad name created nothing" test ! -e "$WORK/evil.key.pem"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
