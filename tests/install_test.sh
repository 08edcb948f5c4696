#!/bin/bash
# cmake --install puts library, headers, pkg-config file, tool, lab and man page in
# place, and a program builds against the installed library with pkg-config alone.
set -euo pipefail
build=$1
cflags=${2:-}
. "$(dirname "$0")/lib.sh"
prefix=$work

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name danemsg.pc)")/..
assert "library" eval '[ -f "$libdir/libdanemsg.a" ] && [ -e "$libdir/libdanemsg.so" ]'
assert "headers" eval '[ -f "$prefix/include/danemsg.h" ] && [ -f "$prefix/include/danemsg/envelope.h" ] &&
	[ -f "$prefix/include/danemsg/policy.h" ] && [ -f "$prefix/include/danemsg/locator.h" ]'
assert "tool" eval '"$prefix/bin/danemsg" version | grep -q "^danemsg "'
assert "lab" eval '[ -x "$prefix/bin/danemsg-lab" ]'
assert "man page" eval '[ -f "$prefix/share/man/man1/danemsg.1" ]'
assert "service unit, its tool path" eval 'grep -qx "ExecStart=$prefix/bin/danemsg listen .*" \
	"$prefix/lib/systemd/system/danemsg-listen@.service"'
assert "system user" eval '[ -f "$prefix/lib/sysusers.d/danemsg.conf" ]'
assert "bash completion" eval '[ -f "$prefix/share/bash-completion/completions/danemsg" ] &&
	[ -f "$prefix/share/bash-completion/completions/danemsg-lab" ]'
cat >"$prefix/use.c" <<'C'
#include <danemsg.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	printf("%s %s\n", danemsg_version(), danemsg_err_name(DANEMSG_ERR_DNS_BOGUS));
	/* the library found at run time is the one the headers describe */
	return strcmp(danemsg_version(), DANEMSG_VERSION_STRING) ||
	       danemsg_version_number() != DANEMSG_VERSION_NUMBER;
}
C
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046,SC2086
assert "a program builds with pkg-config" eval 'cc -std=c11 -Wall -Wextra -Werror $cflags "$prefix/use.c" \
	$(pkg-config --cflags --libs danemsg) -Wl,-rpath,"$libdir" -o "$prefix/use"'
assert "and runs" eval '"$prefix/use" | grep -q "dns-bogus"'
# Each public header includes what it uses: a program may include any one of them alone.
for header in "$prefix"/include/danemsg/*.h; do
	h=danemsg/${header##*/}
	# shellcheck disable=SC2046,SC2086
	assert "$h alone" eval 'printf "#include <%s>\n" "$h" | cc -std=c11 -Wall -Wextra -Werror $cflags \
		-fsyntax-only $(pkg-config --cflags danemsg) -x c -'
done
finish
