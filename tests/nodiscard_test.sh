#!/bin/bash
# A caller that drops the result of a security decision gets a warning: each of these
# functions is declared DANEMSG_NODISCARD, so the compiler says "ignoring return value".
# nodiscard_test.sh INCLUDE_DIR...  (the public headers: the source's and the generated)
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"

decisions=(danemsg_open danemsg_open_at danemsg_tlsa_match_cert danemsg_tlsa_match_cert_pkix
	danemsg_tlsa_match_pkey danemsg_identity_authenticate_cert
	danemsg_identity_authenticate_pkey danemsg_token_check danemsg_token_verify
	danemsg_token_verify_identity danemsg_policy_check_sender danemsg_chain_verify)

includes=() headers=()
for dir in "$@"; do
	includes+=(-I "$dir")
	headers+=("$dir"/danemsg/*.h)
done
# The declarations on one line each, to count a function's parameters.
cat "${headers[@]}" | tr '\n\t' '  ' | sed 's/;/;\n/g' >"$work/decls"
for fn in "${decisions[@]}"; do
	decl=$(grep -o "danemsg_err $fn(.*" "$work/decls" | head -n 1)
	if [ -z "$decl" ]; then
		fail "$fn: not declared"
		continue
	fi
	commas=${decl//[^,]/}
	args=0
	for ((i = 0; i < ${#commas}; i++)); do args+=",0"; done
	printf '#include <danemsg.h>\nvoid drop(void);\nvoid drop(void) { %s(%s); }\n' \
		"$fn" "$args" >"$work/drop.c"
	# shellcheck disable=SC2046
	LC_ALL=C cc -std=c11 -c -o /dev/null "${includes[@]}" $(pkg-config --cflags openssl) \
		"$work/drop.c" 2>"$work/err"
	if grep -q "ignoring return value of .$fn" "$work/err"; then
		pass "$fn: a dropped result warns"
	else
		fail "$fn: a dropped result does not warn" "$work/err"
	fi
done
finish
