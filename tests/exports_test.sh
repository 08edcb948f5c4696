#!/bin/bash
# The shared library exports exactly the functions that the public headers declare:
# no internal symbol leaks into the ABI, and no declared function is missing.
set -eu
lib=$1
include=$2
. "$(dirname "$0")/lib.sh"
tmp=$work

nm -D --defined-only "$lib" | awk '$2 ~ /^[TWiV]$/ {print $3}' | sed 's/@.*//' | sort -u \
	>"$tmp/exported"
# Declared: every danemsg_ name followed by '(' in a header, less the type names
# (function-pointer typedefs such as 'danemsg_err (*fn)(...)').
grep -rhoE '\bdanemsg_[a-z0-9_]+[[:space:]]*\(' "$include" | sed 's/[[:space:](]//g' |
	sort -u >"$tmp/named"
grep -rhoE '(typedef[^;]*\b|\}[[:space:]]*)danemsg_[a-z0-9_]+' "$include" |
	grep -oE 'danemsg_[a-z0-9_]+$' | sort -u >"$tmp/types"
comm -23 "$tmp/named" "$tmp/types" >"$tmp/declared"

comm -23 "$tmp/exported" "$tmp/declared" >"$tmp/extra"
comm -13 "$tmp/exported" "$tmp/declared" >"$tmp/missing"
if [ -s "$tmp/extra" ]; then
	fail "exported but not declared in the public headers:" "$tmp/extra"
else
	pass "every exported symbol is declared ($(wc -l <"$tmp/exported") exported)"
fi
if [ -s "$tmp/missing" ]; then
	fail "declared in the public headers but not exported:" "$tmp/missing"
else
	pass "every declared function is exported ($(wc -l <"$tmp/declared") declared)"
fi
finish
