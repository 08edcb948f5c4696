# bash completion for danemsg and danemsg-lab. Options come from each command's --help,
# so they never go stale; identity names from the identity folder (--dir, DANEMSG_DIR).

# The identities in the folder that --dir (or DANEMSG_DIR, CRYPTO_PATH, ~/.danemsg) names.
_danemsg_identities()
{
	local dir=${DANEMSG_DIR:-${CRYPTO_PATH:-$HOME/.danemsg}} i f
	for ((i = 1; i < ${#words[@]} - 1; i++)); do
		[[ ${words[i]} == --dir ]] && dir=${words[i + 1]}
	done
	for f in "$dir"/*.crt.pem; do
		[[ -e $f ]] || continue
		f=${f##*/}
		f=${f%.crt.pem}
		[[ $f == *.next || $f == *.old || $f == *.x25519 ]] || printf '%s\n' "$f"
	done
}

_danemsg()
{
	local cur prev words cword
	_init_completion || return
	local cmd=${words[1]-} sub=
	[[ $cmd == id && $cword -gt 2 ]] && sub=${words[2]}

	case $prev in
	--dir | --state | --capath) _filedir -d; return ;;
	--config | --in | --out | --trust-anchor | --root-anchor | --zone-file | --ready-file | \
		--cafile | --cert | --chain) _filedir; return ;;
	--as | --from | --to) COMPREPLY=($(compgen -W "$(_danemsg_identities)" -- "$cur")); return ;;
	--format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
	--mqtt) COMPREPLY=($(compgen -W "3.1.1 5" -- "$cur")); return ;;
	--key) [[ $sub == new ]] && COMPREPLY=($(compgen -W "p256 ed25519 rsa2048 rsa3072" -- "$cur"))
		[[ $sub == new ]] || _filedir
		return ;;
	esac
	if [[ $cword -eq 1 ]]; then
		COMPREPLY=($(compgen -W "id seal open send listen version --help --version" -- "$cur"))
	elif [[ $cmd == id && $cword -eq 2 ]]; then
		COMPREPLY=($(compgen -W "show new csr import tlsa publish check rollover fetch verify update" -- "$cur"))
	elif [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$("${words[0]}" $cmd $sub --help 2>/dev/null |
			grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)" -- "$cur"))
	elif [[ $cmd == id ]]; then
		COMPREPLY=($(compgen -W "$(_danemsg_identities)" -- "$cur"))
	fi
} &&
	complete -F _danemsg danemsg

_danemsg_lab()
{
	local cur prev words cword
	_init_completion || return
	case $cword in
	1) COMPREPLY=($(compgen -W "up down status stop start --help" -- "$cur")) ;;
	2) _filedir -d ;;
	3) case ${words[1]} in
		stop | start) COMPREPLY=($(compgen -W "knot mosquitto https" -- "$cur")) ;;
		up) COMPREPLY=($(compgen -W "--zone" -- "$cur")) ;;
		esac ;;
	esac
} &&
	complete -F _danemsg_lab danemsg-lab
