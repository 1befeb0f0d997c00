#!/bin/sh
# Provisions a host for Girofle, as root: the packages it needs, the binaries
# and the legacy wrappers in $GIROFLE_HOME/operations-std, links in
# /usr/local/bin, the `girofle` user and group, the home with its inventory
# and counter, and the first GitLab instance (none with --no-instance: for a
# host about to receive `girofle-restore --all`). Running it again changes nothing.
#
#   install.sh [--home DIR] [--image REF] [--ip ADDR] [--http-port N] [--https-port N] [--ssh-port N]
#              [--hostname FQDN] [--backup-schedule CRON] [--bin-dir DIR] [--no-instance] [--yes]
#
# Binaries come from dist/ beside this script when it holds them (no Rust needed
# on the host), else they are built here, statically linked.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
home=${GIROFLE_HOME:-${REPERTOIRE_GIROFLE:-/girofle}}
image=${GIROFLE_IMAGE:-gitlab/gitlab-ce:latest}
bin_dir=/usr/local/bin
ip= http_port= https_port= ssh_port= fqdn= schedule= yes=no instance=yes
binaries="girofle-commission girofle-list girofle-backup girofle-restore girofle-decommission girofle-ntp-fix"
wrappers="backup.sh restore.sh lister-instances-gitlab.sh comissioner-instance-gitlab.sh decomissioner-instance-gitlab.sh"

usage() { sed -n '8,9p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--home) home=$2; shift 2 ;;
	--image) image=$2; shift 2 ;;
	--ip) ip=$2; shift 2 ;;
	--http-port) http_port=$2; shift 2 ;;
	--https-port) https_port=$2; shift 2 ;;
	--ssh-port) ssh_port=$2; shift 2 ;;
	--hostname) fqdn=$2; shift 2 ;;
	--backup-schedule) schedule=$2; shift 2 ;;
	--bin-dir) bin_dir=$2; shift 2 ;;
	--no-instance) instance=no; shift ;;
	--yes | -y) yes=yes; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; usage ;;
	esac
done
case $home in /*) ;; *) home=$(pwd)/$home ;; esac

changed=0
step=starting
say() { printf '%s\n' "$*" >&2; }
did() { changed=1; say "   $*"; }
trap 'status=$?; if [ $status -ne 0 ]; then say "install.sh: the step \"$step\" failed (exit $status); what the earlier steps made is in place and working."; fi' EXIT

[ "$(id -u)" = 0 ] || { say "install.sh: run me as root"; exit 2; }

# ---------------------------------------------------------------- packages
step="packages"
say "== $step"
if command -v apt-get >/dev/null 2>&1; then
	manager=apt
elif command -v dnf >/dev/null 2>&1; then
	manager=dnf
elif command -v yum >/dev/null 2>&1; then
	manager=yum
else
	manager=none
fi
apt_updated=no
install_packages() {
	case $manager in
	apt)
		[ $apt_updated = yes ] || { apt-get update -qq; apt_updated=yes; }
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ;;
	dnf | yum) $manager install -y -q "$@" >/dev/null ;;
	*) say "install.sh: no apt-get, dnf or yum here: install $* by hand"; return 1 ;;
	esac
}
if docker info >/dev/null 2>&1; then
	say "   a Docker engine answers"
else
	if ! command -v dockerd >/dev/null 2>&1; then
		case $manager in apt) install_packages docker.io ;; *) install_packages docker ;; esac
		did "installed the Docker engine"
	fi
	systemctl enable --now docker >/dev/null 2>&1 || service docker start >/dev/null 2>&1 ||
		(setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &)
	tries=0
	until docker info >/dev/null 2>&1; do
		tries=$((tries + 1))
		[ $tries -le 60 ] || { say "install.sh: the Docker engine does not answer"; exit 1; }
		sleep 1
	done
	did "started the Docker engine"
fi
if command -v cron >/dev/null 2>&1 || command -v crond >/dev/null 2>&1; then
	say "   cron is installed"
else
	case $manager in apt) install_packages cron ;; *) install_packages cronie ;; esac
	did "installed cron"
fi
running() { grep -qsx "$1" /proc/[0-9]*/comm; }
if ! running cron && ! running crond; then
	systemctl enable --now cron >/dev/null 2>&1 || systemctl enable --now crond >/dev/null 2>&1 ||
		service cron start >/dev/null 2>&1 || service crond start >/dev/null 2>&1 ||
		cron >/dev/null 2>&1 || crond >/dev/null 2>&1 || true
	if running cron || running crond; then
		did "started the cron daemon"
	else
		say "   warning: the cron daemon could not be started; backups will not run on schedule"
	fi
fi
if command -v rsync >/dev/null 2>&1; then
	say "   rsync is installed"
else
	install_packages rsync
	did "installed rsync"
fi

# ---------------------------------------------------------------- image
step="image"
say "== $step $image"
if docker image inspect "$image" >/dev/null 2>&1; then
	say "   present"
else
	case $image in
	girofle-gitlab-standin:*)
		# No registry here: the tests' stand-in GitLab is built from this host's packages.
		if [ $manager = apt ] && ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
			install_packages busybox-static
		fi
		[ -x /usr/lib/git-core/git-http-backend ] || install_packages git
		"$here/tests/standin/build.sh" --tag "$image" >/dev/null
		did "built the stand-in image $image"
		;;
	*) say "   not present: girofle-commission will pull it" ;;
	esac
fi

# ---------------------------------------------------------------- binaries
step="binaries"
say "== $step"
if [ -d "$here/dist" ] && [ -x "$here/dist/girofle-list" ]; then
	source_dir=$here/dist
	say "   taking the prebuilt binaries of $source_dir"
else
	command -v cargo >/dev/null 2>&1 || { say "install.sh: no dist/ beside me and no cargo to build with"; exit 1; }
	say "   building (statically linked, so the binaries run on old C libraries too)"
	target=$(rustc -vV | sed -n 's/^host: //p')
	(cd "$here" && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet --target "$target" --target-dir "$here/target/static")
	source_dir=$here/target/static/$target/release
fi

# ---------------------------------------------------------------- install
step="install"
say "== $step into $home/operations-std, links in $bin_dir"
# What root runs must be root's: operations-std (or serveur/ in it) that
# another user owns, or a symbolic link in its place, is not reused but
# replaced whole (a home made by the previous version was the girofle user's,
# who could have swapped it).
for dir in "$home/operations-std" "$home/operations-std/serveur"; do
	if [ -L "$dir" ] || { [ -e "$dir" ] && [ "$(stat -c %u "$dir")" != 0 ]; }; then
		rm -rf "$dir"
		did "removed $dir: it was not root's, its binaries are installed afresh"
	fi
done
mkdir -p "$home/operations-std/serveur" "$bin_dir"
put() { # source destination mode
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		return 0
	fi
	cp "$1" "$2.new.$$"
	chmod "$3" "$2.new.$$"
	mv -f "$2.new.$$" "$2"
	did "installed $2"
}
for binary in $binaries; do
	[ -x "$source_dir/$binary" ] || continue
	put "$source_dir/$binary" "$home/operations-std/$binary" 0755
	link=$bin_dir/$binary
	if [ "$(readlink "$link" 2>/dev/null)" != "$home/operations-std/$binary" ]; then
		ln -sfn "$home/operations-std/$binary" "$link"
		did "linked $link"
	fi
done
for wrapper in $wrappers; do
	put "$here/operations-std/serveur/$wrapper" "$home/operations-std/serveur/$wrapper" 0755
done

# ---------------------------------------------------------------- users and home
step="users and home"
say "== $step"
if ! getent group girofle >/dev/null 2>&1; then
	groupadd --system girofle
	did "created the group girofle"
fi
if ! id girofle >/dev/null 2>&1; then
	nologin=$(command -v nologin || echo /bin/false)
	useradd --system --gid girofle --home-dir "$home" --no-create-home --shell "$nologin" girofle
	did "created the user girofle"
fi
# Only root writes in the home: it owns the home (root:girofle 0750) and
# everything root writes or runs there; the group may read the inventory
# (root:girofle 0640) to run girofle-list. A home made by the previous
# version (girofle:girofle, inventory 0600 girofle's) is moved to this model.
# A symbolic link where root writes one of its files was planted (only the
# girofle user could, under the previous model): it is removed, never followed.
for name in inventory.girofle .auto-increment.girofle girofle.log girofle.conf inventory.girofle.lock state.key; do
	if [ -L "$home/$name" ]; then
		rm -f "$home/$name"
		did "removed the symbolic link planted at $home/$name (root never follows one)"
	fi
done
if [ ! -e "$home/inventory.girofle" ]; then
	printf 'number,name,container,state,ip,http_port,https_port,ssh_port,hostname,image,dir,backup_schedule,created,note\n' \
		> "$home/inventory.girofle.new.$$"
	chmod 0640 "$home/inventory.girofle.new.$$"
	chown root:girofle "$home/inventory.girofle.new.$$"
	mv "$home/inventory.girofle.new.$$" "$home/inventory.girofle"
	did "created $home/inventory.girofle"
fi
if [ ! -e "$home/.auto-increment.girofle" ]; then
	echo 0 > "$home/.auto-increment.girofle.new.$$"
	chmod 0600 "$home/.auto-increment.girofle.new.$$"
	mv "$home/.auto-increment.girofle.new.$$" "$home/.auto-increment.girofle"
	did "created $home/.auto-increment.girofle"
fi
ensure() { # path owner:group mode (- keeps the mode)
	[ -e "$1" ] || return 0
	if [ "$(stat -c %U:%G "$1")" != "$2" ]; then
		was=$(stat -c %U:%G "$1")
		chown -h "$2" "$1"
		did "gave $1 (was $was) to $2: only root writes what root runs and reads"
	fi
	if [ "$3" != - ] && [ "$(stat -c %a "$1")" != "$3" ]; then
		was=$(stat -c %a "$1")
		chmod "$3" "$1"
		did "made $1 mode $3 (was $was)"
	fi
}
ensure "$home" root:girofle 750
ensure "$home/inventory.girofle" root:girofle 640
ensure "$home/.auto-increment.girofle" root:root 600
ensure "$home/inventory.girofle.lock" root:root 600
ensure "$home/girofle.log" root:root 640
ensure "$home/girofle.conf" root:root 600
# The state key authenticates Girofle's state backups (a MAC of each one's
# MANIFEST, written beside it), so that a copy changed on a target is refused
# by girofle-restore --all. Made once, linked into place (never over a file
# or through a link), and printed once: kept off this host, it is what
# `girofle-restore --all --state-key FILE` needs on a new host.
key=$home/state.key
if [ ! -e "$key" ]; then
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$key.new.$$" && echo >>"$key.new.$$")
	chown root:root "$key.new.$$"
	if ln "$key.new.$$" "$key" 2>/dev/null; then
		did "created $key, the key that authenticates this home's state backups."
		say "   Keep a copy of it in a safe place, off this host: on a new host,"
		say "   girofle-restore --all --from TARGET --source HOST --state-key FILE asks for it."
		say "   It is printed this once:"
		say "   $(cat "$key")"
	fi
	rm -f "$key.new.$$"
fi
ensure "$key" root:root 600
ensure "$home/sauvegardes" root:root 700
ensure "$home/operations-std" root:root 755
ensure "$home/operations-std/serveur" root:root 755
for binary in $binaries; do
	ensure "$home/operations-std/$binary" root:root 755
done
for wrapper in $wrappers; do
	ensure "$home/operations-std/serveur/$wrapper" root:root 755
done
for instance_dir in "$home"/noeud-gitlab-*; do
	[ -d "$instance_dir" ] && [ ! -L "$instance_dir" ] || continue
	ensure "$instance_dir" root:root -
	ensure "$instance_dir/bckups" root:root 700
done

# ---------------------------------------------------------------- first instance
step="first instance"
say "== $step"
commission=$home/operations-std/girofle-commission
if [ $instance = no ]; then
	say "   none (--no-instance): bring the lost host's instances back with"
	say "   girofle-restore --all --from TARGET --source HOST"
elif GIROFLE_HOME=$home "$home/operations-std/girofle-list" --format csv 2>/dev/null | grep -q ',commissioned,'; then
	say "   an instance is already commissioned"
else
	if [ $yes = no ] && [ -t 0 ]; then
		ask() { # variable prompt default
			printf '%s [%s]: ' "$2" "$3" >&2
			read -r answer || answer=
			eval "$1=\${answer:-\$3}"
		}
		ask ip "Address to publish GitLab on" "${ip:-0.0.0.0}"
		ask fqdn "Host name of its URL" "${fqdn:-$(hostname -f 2>/dev/null || hostname)}"
		ask http_port "HTTP port (empty: next free from 8080)" "$http_port"
		ask https_port "HTTPS port (empty: next free from 8443)" "$https_port"
		ask ssh_port "SSH port (empty: next free from 2222)" "$ssh_port"
		ask image "Image" "$image"
		ask schedule "Backup schedule (cron)" "${schedule:-0 */4 * * *}"
	fi
	set --
	[ -n "$ip" ] && set -- "$@" --ip "$ip"
	[ -n "$http_port" ] && set -- "$@" --http-port "$http_port"
	[ -n "$https_port" ] && set -- "$@" --https-port "$https_port"
	[ -n "$ssh_port" ] && set -- "$@" --ssh-port "$ssh_port"
	[ -n "$fqdn" ] && set -- "$@" --hostname "$fqdn"
	[ -n "$schedule" ] && set -- "$@" --backup-schedule "$schedule"
	url=$(GIROFLE_HOME=$home "$commission" --image "$image" "$@")
	did "commissioned the first instance: $url"
	echo "$url"
fi

# ---------------------------------------------------------------- completions, man pages, log rotation
# Completions and man pages come from the installed binaries themselves (their
# hidden `--generate`), so a host that has only dist/ gets them too. The log is
# rotated weekly; Girofle opens girofle.log for each line it appends, so plain
# rotation is right (no copytruncate). GIROFLE_SHARE_ROOT, for tests only, puts
# every file of this block under that directory instead of / (the host's /usr
# and /etc stay untouched).
step="completions, man pages, log rotation"
say "== $step"
share_root=${GIROFLE_SHARE_ROOT:-}
replace() { # candidate destination: moves candidate over destination unless equal
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		rm -f "$1"
		return 0
	fi
	chmod 0644 "$1"
	mv -f "$1" "$2"
	did "installed $2"
}
bash_dir=$share_root/usr/share/bash-completion/completions
zsh_dir=$share_root/usr/local/share/zsh/site-functions
fish_dir=$share_root/usr/share/fish/vendor_completions.d
man_dir=$share_root/usr/local/share/man/man1
mkdir -p "$bash_dir" "$zsh_dir" "$fish_dir" "$man_dir"
for binary in $binaries; do
	[ -x "$home/operations-std/$binary" ] || continue
	for kind in "completion-bash:$bash_dir/$binary" "completion-zsh:$zsh_dir/_$binary" \
		"completion-fish:$fish_dir/$binary.fish" "man:$man_dir/$binary.1"; do
		destination=${kind#*:}
		"$home/operations-std/$binary" --generate "${kind%%:*}" > "$destination.new.$$"
		replace "$destination.new.$$" "$destination"
	done
done
if ! command -v logrotate >/dev/null 2>&1; then
	if install_packages logrotate; then
		did "installed logrotate"
	else
		say "   warning: logrotate could not be installed; $home/girofle.log will not be rotated"
	fi
fi
# One file per home: named after its prefix when it has its own, else after its path.
if [ -n "${GIROFLE_PREFIX:-}" ] && [ "$GIROFLE_PREFIX" != girofle ]; then
	rotate_name=girofle-$GIROFLE_PREFIX
elif [ "$home" != /girofle ]; then
	rotate_name=girofle-$(printf '%s' "${home#/}" | tr -c 'A-Za-z0-9_-' '-')
else
	rotate_name=girofle
fi
mkdir -p "$share_root/etc/logrotate.d"
rotate_conf=$share_root/etc/logrotate.d/$rotate_name
cat > "$rotate_conf.new.$$" <<EOF
# Written by Girofle's install.sh: the operations log of the home $home.
"$home/girofle.log" {
	weekly
	rotate 12
	compress
	missingok
	notifempty
	create 0640 root girofle
}
EOF
replace "$rotate_conf.new.$$" "$rotate_conf"

step="done"
if [ $changed = 0 ]; then
	say "== nothing to do: Girofle is installed in $home, nothing was changed"
else
	say "== Girofle is installed in $home"
fi
