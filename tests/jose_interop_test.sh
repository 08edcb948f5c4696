#!/bin/bash
# Interoperability of danemsg's JOSE layer (through tests/jose_cli) with two independent
# implementations: python3-jwcrypto (Debian) and the npm package jose (pinned in
# tests/interop/package-lock.json). For every suite, each peer must verify/decrypt what
# we produce, and we must verify/decrypt what it produces; a JWS nested in a JWE (the
# reference system's wire format) is checked both ways too. A peer that cannot do a
# suite on its own (checked by a round trip of its own) is skipped with its reason.
#
# usage: jose_interop_test.sh PATH/TO/jose_cli
set -u

cli=${1:?usage: jose_interop_test.sh PATH/TO/jose_cli}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
interop=$here/interop
python=/usr/bin/python3   # Debian's: the python3 first on PATH cannot see python3-jwcrypto

. "$here/lib.sh"
tmp=$work

# ---- peers ----
peers=""
if "$python" -c 'import jwcrypto' 2>"$tmp/err"; then
	peers="$peers jwcrypto"
else
	skip "jwcrypto" "python3-jwcrypto not importable by $python ($(head -1 "$tmp/err"))"
fi
if command -v node >/dev/null 2>&1; then
	if [ ! -d "$interop/node_modules/jose" ]; then
		say "installing the npm package jose (scripts/npm-deps)"
		"$root/scripts/npm-deps" >"$tmp/err" 2>&1 || cat "$tmp/err"
	fi
	if [ -d "$interop/node_modules/jose" ]; then
		peers="$peers jose"
	else
		skip "jose" "npm package not installed (scripts/npm-deps failed: offline?)"
	fi
else
	skip "jose" "node is not installed"
fi

peer() {
	name=$1
	shift
	case $name in
	jwcrypto) "$python" "$interop/jwcrypto_interop.py" "$@" ;;
	jose) node "$interop/jose_interop.mjs" "$@" ;;
	danemsg) "$cli" "$@" ;;
	esac
}

# ---- keys (PEM, made by the openssl command line: independent of the code under test) ----
# genkey NAME OPENSSL-GENPKEY-ARGS...: NAME.pem (private) and NAME.pub
genkey() {
	name=$1
	shift
	if ! openssl genpkey "$@" -out "$tmp/$name.pem" 2>"$tmp/err" ||
		! openssl pkey -in "$tmp/$name.pem" -pubout -out "$tmp/$name.pub" 2>>"$tmp/err"; then
		cat "$tmp/err"
		exit 1
	fi
}
genkey rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
genkey rsa2 -algorithm RSA -pkeyopt rsa_keygen_bits:3072
genkey p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
genkey ed25519 -algorithm ED25519
genkey x25519 -algorithm X25519

msg=$tmp/msg
printf 'dane says: h\303\251llo \342\234\223\nsecond line {"json":"like"}\n' >"$msg"
head -c 3000 /dev/urandom | od -An -tx1 >>"$msg"

# same FILE: the output of the last step equals the message
same() { cmp -s "$1" "$msg"; }

# encrypt_with PEER ALG ENC PUBFILE...: jose_cli picks the alg from the key itself.
encrypt_with() {
	who=$1 a=$2 e=$3
	shift 3
	if [ "$who" = danemsg ]; then peer danemsg encrypt "$e" "$@"; else peer "$who" encrypt "$a" "$e" "$@"; fi
}

# ---- checks ----
# sign_verify FROM TO ALG SIGNKEY
sign_verify() {
	if peer "$1" sign "$3" "$tmp/$4.pem" <"$msg" >"$tmp/jws" 2>"$tmp/err" &&
		peer "$2" verify "$tmp/$4.pub" <"$tmp/jws" >"$tmp/out" 2>>"$tmp/err" && same "$tmp/out"; then
		pass "$5 JWS $3: $1 -> $2"
	else
		fail "$5 JWS $3: $1 -> $2" "$tmp/err"
	fi
}

# encrypt_decrypt FROM TO ALG ENC LABEL DECRYPTKEY RECIPIENTKEY...
encrypt_decrypt() {
	from=$1 to=$2 alg=$3 enc=$4 label=$5 dkey=$6
	shift 6
	keys=""
	for rk in "$@"; do keys="$keys $tmp/$rk.pub"; done
	# shellcheck disable=SC2086
	if encrypt_with "$from" "$alg" "$enc" $keys <"$msg" >"$tmp/jwe" 2>"$tmp/err" && peer "$to" decrypt "$tmp/$dkey.pem" <"$tmp/jwe" >"$tmp/out" 2>>"$tmp/err" &&
		same "$tmp/out"; then
		pass "$label JWE $alg $enc: $from -> $to (key $dkey)"
	else
		fail "$label JWE $alg $enc: $from -> $to (key $dkey)" "$tmp/err"
	fi
}

# nested FROM TO SIGALG SIGKEY ENC ENCKEY: sign, encrypt the JWS; decrypt, verify.
nested() {
	if encrypt_with "$1" auto "$5" "$tmp/$6.pub" <"$tmp/nested.jws" >"$tmp/jwe" 2>"$tmp/err" &&
		peer "$2" decrypt "$tmp/$6.pem" <"$tmp/jwe" >"$tmp/jws" 2>>"$tmp/err" &&
		peer "$2" verify "$tmp/$4.pub" <"$tmp/jws" >"$tmp/out" 2>>"$tmp/err" && same "$tmp/out"; then
		pass "$7 nested JWS $3 in JWE $5: $1 -> $2"
	else
		fail "$7 nested JWS $3 in JWE $5: $1 -> $2" "$tmp/err"
	fi
}

# can PEER sign/encrypt ...: the peer's own round trip, to tell "lacks it" from "breaks".
can_sign() {
	peer "$1" sign "$2" "$tmp/$3.pem" <"$msg" >"$tmp/self" 2>"$tmp/why" &&
		peer "$1" verify "$tmp/$3.pub" <"$tmp/self" >"$tmp/selfout" 2>>"$tmp/why" && cmp -s "$tmp/selfout" "$msg"
}
can_encrypt() {
	p=$1 alg=$2 enc=$3 dkey=$4
	shift 4
	keys=""
	for ck in "$@"; do keys="$keys $tmp/$ck.pub"; done
	# shellcheck disable=SC2086
	peer "$p" encrypt "$alg" "$enc" $keys <"$msg" >"$tmp/self" 2>"$tmp/why" &&
		peer "$p" decrypt "$tmp/$dkey.pem" <"$tmp/self" >"$tmp/selfout" 2>>"$tmp/why" &&
		cmp -s "$tmp/selfout" "$msg"
}
why() { head -1 "$tmp/why" | cut -c1-160; }

# suite LABEL SIGALG SIGKEY KWALG ENC KWKEY
suite() {
	label=$1 sig=$2 skey=$3 kw=$4 enc=$5 kkey=$6
	for p in $peers; do
		if can_sign "$p" "$sig" "$skey"; then
			sign_verify danemsg "$p" "$sig" "$skey" "$label"
			sign_verify "$p" danemsg "$sig" "$skey" "$label"
		else
			skip "$label JWS $sig with $p" "$p cannot do it itself: $(why)"
		fi
		if can_encrypt "$p" "$kw" "$enc" "$kkey" "$kkey"; then
			encrypt_decrypt danemsg "$p" "$kw" "$enc" "$label" "$kkey" "$kkey"
			encrypt_decrypt "$p" danemsg "$kw" "$enc" "$label" "$kkey" "$kkey"
		else
			skip "$label JWE $kw $enc with $p" "$p cannot do it itself: $(why)"
			continue
		fi
		if can_sign "$p" "$sig" "$skey"; then
			for from in danemsg "$p"; do
				to=$p
				[ "$from" = "$p" ] && to=danemsg
				peer "$from" sign "$sig" "$tmp/$skey.pem" <"$msg" >"$tmp/nested.jws" 2>"$tmp/err" ||
					{ fail "$label nested: $from sign" "$tmp/err"; continue; }
				nested "$from" "$to" "$sig" "$skey" "$enc" "$kkey" "$label"
			done
		fi
	done
}

say "peers:${peers:- none}"
suite "reference" RS256 rsa RSA-OAEP-256 A256CBC-HS512 rsa
suite "rsa-native" PS256 rsa2 RSA-OAEP-256 A256GCM rsa2
suite "p256" ES256 p256 ECDH-ES+A256KW A256GCM p256
suite "ed25519" EdDSA ed25519 ECDH-ES+A256KW A256GCM x25519

# General JSON serialization, two recipients with different key management algs.
for p in $peers; do
	for pair in "rsa x25519" "p256 rsa2"; do
		# shellcheck disable=SC2086
		if ! can_encrypt "$p" auto A256GCM "${pair%% *}" $pair; then
			skip "general JWE $pair with $p" "$p cannot do it itself: $(why)"
			continue
		fi
		for dk in $pair; do
			# shellcheck disable=SC2086
			encrypt_decrypt danemsg "$p" auto A256GCM "general ($pair)" "$dk" $pair
			# shellcheck disable=SC2086
			encrypt_decrypt "$p" danemsg auto A256GCM "general ($pair)" "$dk" $pair
		done
	done
done

# ECDH-ES PartyUInfo/PartyVInfo (apu/apv) enter the key derivation: both directions.
apu=QWxpY2U apv=Qm9i
for p in $peers; do
	for k in p256 x25519; do
		if ! INTEROP_APU=$apu INTEROP_APV=$apv can_encrypt "$p" ECDH-ES+A256KW A256GCM "$k" "$k"; then
			skip "apu/apv JWE ($k) with $p" "$p cannot do it itself: $(why)"
			continue
		fi
		if peer danemsg encrypt -p "{\"apu\":\"$apu\",\"apv\":\"$apv\"}" A256GCM "$tmp/$k.pub" \
			<"$msg" >"$tmp/jwe" 2>"$tmp/err" &&
			peer "$p" decrypt "$tmp/$k.pem" <"$tmp/jwe" >"$tmp/out" 2>>"$tmp/err" && same "$tmp/out"; then
			pass "apu/apv JWE ($k): danemsg -> $p"
		else
			fail "apu/apv JWE ($k): danemsg -> $p" "$tmp/err"
		fi
		if INTEROP_APU=$apu INTEROP_APV=$apv peer "$p" encrypt ECDH-ES+A256KW A256GCM "$tmp/$k.pub" \
			<"$msg" >"$tmp/jwe" 2>"$tmp/err" && grep -q '"protected"' "$tmp/jwe" &&
			peer danemsg decrypt "$tmp/$k.pem" <"$tmp/jwe" >"$tmp/out" 2>>"$tmp/err" && same "$tmp/out"; then
			pass "apu/apv JWE ($k): $p -> danemsg"
		else
			fail "apu/apv JWE ($k): $p -> danemsg" "$tmp/err"
		fi
	done
done

finish && [ "$passed" -gt 0 ]
