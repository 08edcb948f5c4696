#!/bin/bash
# The reference format (compat: RSA, x5u) with the lab's PKIX-CD identity, a "4 0 0" peer
# whose CA the lab serves over HTTPS, both directions (docs/discovery.md):
#   reference sender P -> danemsg open --compat --pkix-cd (P's key via 4 0 0 + CA), and
#                         refused without --pkix-cd
#   danemsg seal --compat --pkix-cd to P (P's key via 4 0 0 + CA) -> the reference
#                         receiver; refused without --pkix-cd
#   danemsg as P -> the reference receiver checking P by its own PKIX-CD rules
#                         (tests/interop/reference.py --pkix-cd), and the reference
#                         sender to P by those rules -> danemsg open as P
# Run by CTest with the lab's environment and DANEMSG_TOOL (danemsg_lab_test).
set -u
tool=${DANEMSG_TOOL:?the danemsg binary}
: "${DANEMSG_PKIX_CD_NAME:?run with the lab environment}" "${DANEMSG_ZONE:?}"
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3   # Debian's: the python3 first on PATH cannot see python3-jwcrypto
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
. "$here/lib.sh"
unset DANEMSG_DIR CRYPTO_PATH

if ! "$python" -c 'import jwcrypto' 2>"$work/err"; then
	skip "the reference format" "$python cannot import jwcrypto: $(tail -1 "$work/err")"
	finish
	exit
fi
reference() { "$python" "$here/interop/reference.py" "$@"; }
receive() {   # receive NAME KEY MESSAGE [OPTIONS]: the reference receiver
	reference receive --as "$1" --key "$2" "${@:4}" <"$3"
}

p=$DANEMSG_PKIX_CD_NAME pdir=$DANEMSG_PKIX_CD_DIR
pkey=$pdir/$p.key.pem
ids=$work/ids
b="ref$$._device.${DANEMSG_ZONE%.}"
"$tool" id new "$b" --key rsa2048 --dir "$ids" >/dev/null &&
	"$tool" id publish "$b" --dir "$ids" --ttl 60 --no-confirm >/dev/null ||
	{ fail "an RSA identity $b, published as 3 0 0"; finish; exit; }
bkey=$ids/$b.key.pem
cd_opts=(--pkix-cd --pkix-cd-connect "$DANEMSG_PKIX_CD_CONNECT" --ca-file "$DANEMSG_WEB_CA")
ref_cd=(--pkix-cd --ca-file "$DANEMSG_WEB_CA" --connect "$DANEMSG_PKIX_CD_CONNECT")
open_as() {   # open_as NAME DIR MESSAGE [OPTIONS]
	"$tool" open --compat --no-replay-cache --as "$1" --dir "$2" --in "$3" "${@:4}"
}

# 1. the reference sender as P (signs with P's key) -> danemsg
text="from the device $$"
if reference send --from "$p" --key "$pkey" --to "$b" --message "$text" >"$work/m1" 2>"$work/err"
then
	check "reference P -> danemsg open --compat --pkix-cd" 0 open_as "$b" "$ids" "$work/m1" \
		"${cd_opts[@]}"
	expect_output "... the reference message's text" "^$text\$"
	check "reference P -> danemsg open --compat without --pkix-cd: unknown sender" 22 \
		open_as "$b" "$ids" "$work/m1"
	check "... and with --pkix-cd but not the CA server's Web CA" 22 \
		open_as "$b" "$ids" "$work/m1" --pkix-cd --pkix-cd-connect "$DANEMSG_PKIX_CD_CONNECT"
else
	fail "reference send from the PKIX-CD identity" "$work/err"
fi

# 2. danemsg seals to P (its key from the 4 0 0 record and the fetched CA) -> reference
text="to the device $$"
check "danemsg seal --compat to P without --pkix-cd: no key to encrypt to" 14 \
	"$tool" seal --compat --from "$b" --to "$p" --dir "$ids" --in /dev/null
printf '%s' "$text" >"$work/text"
check "danemsg seal --compat --pkix-cd to P" 0 "$tool" seal --compat --from "$b" --to "$p" \
	--dir "$ids" --in "$work/text" --out "$work/m2" "${cd_opts[@]}"
check "... the reference receiver as P opens it" 0 receive "$p" "$pkey" "$work/m2"
expect_output "... and reads b's text" "^$b says: $text\$"

# 3. danemsg as P -> the reference receiver, which checks P by its PKIX-CD rules
text="signed by the device $$"
printf '%s' "$text" >"$work/text"
check "danemsg seal --compat as P" 0 "$tool" seal --compat --from "$p" --to "$b" --dir "$pdir" \
	--in "$work/text" --out "$work/m3"
check "... the reference receiver verifies P through 4 0 0 and the CA" 0 \
	receive "$b" "$bkey" "$work/m3" "${ref_cd[@]}"
expect_output "... and reads P's text" "^$p says: $text\$"
check "... but not with another Web CA (the reference's fetch is verified)" 1 \
	receive "$b" "$bkey" "$work/m3" --pkix-cd --ca-file "$DANEMSG_DEVICE_CA" \
	--connect "$DANEMSG_PKIX_CD_CONNECT"
check "... nor, as the reference without PKIX-CD, at all" 1 receive "$b" "$bkey" "$work/m3"

# 4. the reference sender to P (P's certificate by the reference's PKIX-CD rules) -> danemsg
text="to the device, from the reference $$"
if reference send --from "$b" --key "$bkey" --to "$p" --message "$text" "${ref_cd[@]}" \
	>"$work/m4" 2>"$work/err"; then
	check "reference -> P: danemsg open as P" 0 open_as "$p" "$pdir" "$work/m4"
	expect_output "... the reference message's text" "^$text\$"
else
	fail "reference send to the PKIX-CD identity" "$work/err"
fi

finish
