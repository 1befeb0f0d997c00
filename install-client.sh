#!/bin/sh
# Installs girofle-client for one person (no root needed) and sets this machine up.
#
#   install-client.sh [--bin-dir DIR] [--server URL] [--token-file FILE | --token-stdin]
#                     [--machine NAME] [--config FILE] [--no-setup]
#
# The binary comes from dist/ beside this script when it holds one (no Rust needed), else
# it is built here, statically linked. It goes to ~/.local/bin by default. Then
# `girofle-client setup` runs: with the flags given, or asking on the terminal for what is
# missing (the server's address, your access token, this machine's name).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin_dir=${HOME:?HOME is not set}/.local/bin
setup=yes
setup_args=
config=

usage() { sed -n '4,5p' "$0" | sed 's/^# *//' >&2; exit 2; }
add() { setup_args="$setup_args
$1"; }
while [ $# -gt 0 ]; do
	case $1 in
	--bin-dir) [ $# -ge 2 ] || usage; bin_dir=$2; shift 2 ;;
	--server | --token-file | --machine) [ $# -ge 2 ] || usage; add "$1"; add "$2"; shift 2 ;;
	--token-stdin) add "$1"; shift ;;
	--config) [ $# -ge 2 ] || usage; config=$2; shift 2 ;;
	--no-setup) setup=no; shift ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "install-client.sh: unknown argument $1" >&2; usage ;;
	esac
done

say() { printf '%s\n' "$*" >&2; }

# The client runs git: 2.20 or newer (Debian 10, Ubuntu 20.04 and later have one).
command -v git >/dev/null 2>&1 ||
	{ say "install-client.sh: git is not installed: install it first (for example: sudo apt install git), then run this again."; exit 1; }
git_version=$(git --version 2>/dev/null | sed -n 's/^git version \([0-9][0-9]*\.[0-9][0-9]*[0-9.]*\).*/\1/p')
git_major=${git_version%%.*}
git_minor=${git_version#*.}
git_minor=${git_minor%%.*}
if [ -z "$git_version" ] || [ "$git_major" -lt 2 ] || { [ "$git_major" -eq 2 ] && [ "$git_minor" -lt 20 ]; }; then
	say "install-client.sh: git ${git_version:-of an unknown version} is too old: girofle-client needs git 2.20 or newer. Install a newer git, then run this again. Nothing was installed."
	exit 1
fi
say "Found git $git_version."

if [ -x "$here/dist/girofle-client" ]; then
	source=$here/dist/girofle-client
else
	command -v cargo >/dev/null 2>&1 || { say "install-client.sh: no dist/girofle-client beside me and no cargo to build it with"; exit 1; }
	say "Building girofle-client (statically linked, so it runs on older systems too)..."
	target=$(rustc -vV | sed -n 's/^host: //p')
	(cd "$here" && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet --package girofle-client --bin girofle-client --target "$target" --target-dir "$here/target/static")
	source=$here/target/static/$target/release/girofle-client
fi

mkdir -p "$bin_dir"
if [ -f "$bin_dir/girofle-client" ] && cmp -s "$source" "$bin_dir/girofle-client"; then
	say "girofle-client is already installed in $bin_dir."
else
	# Copied beside, then renamed: a running client is never left with half a file.
	cp "$source" "$bin_dir/.girofle-client.new"
	chmod 0755 "$bin_dir/.girofle-client.new"
	mv -f "$bin_dir/.girofle-client.new" "$bin_dir/girofle-client"
	say "Installed girofle-client in $bin_dir."
fi
case ":${PATH:-}:" in
*":$bin_dir:"*) ;;
*) say "Note: $bin_dir is not in your PATH; add it (for example in ~/.profile) to type girofle-client anywhere." ;;
esac

[ "$setup" = yes ] || exit 0
# Word splitting on new lines only, so that names with spaces pass whole.
old_ifs=$IFS
IFS='
'
# shellcheck disable=SC2086
if [ -n "$config" ]; then
	set -- --config "$config" setup $setup_args
else
	set -- setup $setup_args
fi
IFS=$old_ifs
exec "$bin_dir/girofle-client" "$@"
