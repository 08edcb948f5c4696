#!/bin/bash
# One version: project() in CMakeLists.txt. What is generated from it (danemsg/version.h,
# danemsg.pc) and what is written by hand beside it (the man pages, debian/changelog)
# must say the same, and so must the tool and the library at run time.
# version_test.sh VERSION SOURCE_DIR BUILD_DIR TOOL
set -u
version=${1:?the project version} src=${2:?source folder} build=${3:?build folder}
tool=${4:?the danemsg binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"

IFS=. read -r major minor patch <<<"$version"
number=$(printf '0x%02x%02x%02x' "$major" "$minor" "$patch")

# same WHAT GOT: GOT is the project's version
same() {
	if [ "$2" = "$version" ]; then pass "$1: $2"; else fail "$1: '$2', not $version"; fi
}

header=$build/include/danemsg/version.h
same "version.h DANEMSG_VERSION_STRING" \
	"$(sed -n 's/^#define DANEMSG_VERSION_STRING "\(.*\)"$/\1/p' "$header")"
# the numeric macro, as the preprocessor sees it (a program's #if)
printf '#include <danemsg/version.h>\n#if DANEMSG_VERSION_NUMBER != %s\n#error\n#endif\n' \
	"$number" >"$work/number.c"
if cc -E -I"$build/include" "$work/number.c" >/dev/null 2>"$work/err"; then
	pass "DANEMSG_VERSION_NUMBER is $number"
else
	fail "DANEMSG_VERSION_NUMBER is not $number" "$work/err"
fi
same "danemsg.pc" "$(sed -n 's/^Version: //p' "$build/danemsg.pc")"
check "danemsg version" 0 "$tool" version
same "danemsg version" "$(sed -n 's/^danemsg //p' "$work/out")"
check "danemsg --version" 0 "$tool" --version
same "danemsg --version" "$(sed -n 's/^danemsg //p' "$work/out")"
for page in "$src"/man/*.1; do
	same "${page##*/} .TH" "$(sed -n 's/^\.TH .*"danemsg \([^"]*\)".*/\1/p' "$page")"
done
# debian/changelog's newest entry: the upstream part (no epoch, no Debian revision)
same "debian/changelog" "$(sed -n '1s/^danemsg (\([0-9]*:\)\{0,1\}\([^)-]*\).*/\2/p' \
	"$src/debian/changelog")"
finish
