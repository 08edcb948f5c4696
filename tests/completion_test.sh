#!/bin/bash
# The bash completion: subcommands, options read from each command's --help, values of
# --format/--key, identity names from the identity folder, and danemsg-lab's commands.
# completion_test.sh TOOL COMPLETION_FILE
set -u
tool=${1:?the danemsg binary} completion=${2:?the completion file}
# shellcheck disable=SC1091
. /usr/share/bash-completion/bash_completion || exit 1
# shellcheck disable=SC1090
. "$completion"
PATH=$(dirname "$tool"):$PATH
. "$(dirname "$0")/lib.sh"
ids=$work/ids other=$work/other
mkdir "$ids" "$other"
touch "$ids/alice.example.net.crt.pem" "$ids/alice.example.net.next.crt.pem" \
	"$ids/alice.example.net.x25519.crt.pem" "$ids/bob.example.net.crt.pem" \
	"$other/carol.example.net.crt.pem"
export DANEMSG_DIR=$ids

# offers FUNCTION WANTED UNWANTED WORDS...: completing the last word offers every word of
# WANTED and none of UNWANTED
offers() {
	local fn=$1 want=$2 unwanted=$3 w got
	shift 3
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	"$fn" "$1" 2>/dev/null
	got=" ${COMPREPLY[*]} "
	for w in $want; do [[ $got == *" $w "* ]] || { fail "'$*': no $w in:$got"; return; }; done
	for w in $unwanted; do [[ $got != *" $w "* ]] || { fail "'$*': $w in:$got"; return; }; done
	pass "'$*'"
}

# function      wanted                              unwanted        the words
offers _danemsg "id seal open send listen version"  ""              danemsg ""
offers _danemsg "rollover"                          "show"          danemsg id r
offers _danemsg "--ready-file --resolver"           "--as"          danemsg listen --re
offers _danemsg "--warn-days"                       "--ready-file"  danemsg id check x --w
offers _danemsg "json text"                         ""              danemsg listen --format ""
offers _danemsg "ed25519"                           "p256"          danemsg id new x --key e
offers _danemsg "alice.example.net bob.example.net" \
	"alice.example.net.next alice.example.net.x25519 carol.example.net" \
	danemsg listen --as ""
offers _danemsg "carol.example.net"                 "alice.example.net" \
	danemsg id show --dir "$other" ""
offers _danemsg "bob.example.net"                   "alice.example.net" danemsg send --to b
offers _danemsg_lab "up down status stop start"     ""              danemsg-lab ""
offers _danemsg_lab "knot mosquitto https"          ""              danemsg-lab stop /tmp ""

finish
