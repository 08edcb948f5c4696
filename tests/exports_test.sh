#!/bin/sh
# The shared library exports exactly the functions that the public headers declare:
# no internal symbol leaks into the ABI, and no declared function is missing.
set -eu
lib=$1
include=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TWiV]$/ {print $3}' | sed 's/@.*//' | sort -u \
	>"$tmp/exported"
# Declared: every danemsg_ name followed by '(' in a header, less the type names
# (function-pointer typedefs such as 'danemsg_err (*fn)(...)').
grep -rhoE '\bdanemsg_[a-z0-9_]+[[:space:]]*\(' "$include" | sed 's/[[:space:](]//g' |
	sort -u >"$tmp/named"
grep -rhoE '(typedef[^;]*\b|\}[[:space:]]*)danemsg_[a-z0-9_]+' "$include" |
	grep -oE 'danemsg_[a-z0-9_]+$' | sort -u >"$tmp/types"
comm -23 "$tmp/named" "$tmp/types" >"$tmp/declared"

failed=0
extra=$(comm -23 "$tmp/exported" "$tmp/declared")
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
if [ -n "$extra" ]; then
	echo "exported but not declared in the public headers:"; echo "$extra" | sed 's/^/  /'
	failed=1
fi
if [ -n "$missing" ]; then
	echo "declared in the public headers but not exported:"; echo "$missing" | sed 's/^/  /'
	failed=1
fi
echo "exports: $(wc -l <"$tmp/exported") symbols, $(wc -l <"$tmp/declared") declared"
[ "$failed" -eq 0 ]
