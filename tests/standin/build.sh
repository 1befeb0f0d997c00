#!/bin/sh
# Builds the stand-in GitLab image (tests only) from this host's Debian packages,
# with no registry: busybox-static for the shell and the network tools, git for
# git-http-backend, then `docker import`.
#
#   tests/standin/build.sh [--tag REF] [--gitlab-version X.Y.Z] [--boot-delay SECS]
#
# --boot-delay bakes STANDIN_BOOT_DELAY into the image, to imitate GitLab's slow
# first boot (a container can also be given the variable at `docker run`).
set -eu

tag=girofle-gitlab-standin:latest
gitlab_version=17.5.1
boot_delay=0
while [ $# -gt 0 ]; do
	case $1 in
	--tag) tag=$2; shift 2 ;;
	--gitlab-version) gitlab_version=$2; shift 2 ;;
	--boot-delay) boot_delay=$2; shift 2 ;;
	-h | --help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "build.sh: $busybox missing: apt-get install busybox-static" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$busybox" 2>&1 | grep -q 'not a dynamic' ||
	{ echo "build.sh: $busybox is not static: apt-get install busybox-static" >&2; exit 1; }
git=/usr/bin/git
backend=/usr/lib/git-core/git-http-backend
[ -x "$backend" ] || { echo "build.sh: $backend missing: apt-get install git" >&2; exit 1; }
# The TLS terminator standing for omnibus' nginx when external_url is https.
socat=/usr/bin/socat
[ -x "$socat" ] || { echo "build.sh: $socat missing: apt-get install socat" >&2; exit 1; }
# The ACME client standing for omnibus' Let's Encrypt integration (letsencrypt['enable']).
lego=/usr/bin/lego
[ -x "$lego" ] || { echo "build.sh: $lego missing: apt-get install lego" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/bin" "$root/usr/bin" "$root/usr/lib/git-core" "$root/etc" "$root/tmp" "$root/run" \
	"$root/etc/gitlab" "$root/var/opt/gitlab" "$root/var/log/gitlab" "$root/opt/gitlab/embedded/service/gitlab-rails"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
cp "$git" "$root/usr/bin/git"
ln -s ../../bin/git "$root/usr/lib/git-core/git"
cp "$backend" "$root/usr/lib/git-core/git-http-backend"
cp "$socat" "$root/usr/bin/socat"
cp "$lego" "$root/usr/bin/lego"
# The shared libraries git loads, found as the loader would find them.
for library in $(ldd "$git" "$backend" "$socat" "$lego" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' | sort -u); do
	mkdir -p "$root$(dirname "$library")"
	cp -L "$library" "$root$library"
done

cat > "$root/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/bin/sh
git:x:998:998::/var/opt/gitlab:/bin/sh
gitlab-www:x:999:999::/var/opt/gitlab/nginx:/bin/false
gitlab-redis:x:997:997::/var/opt/gitlab/redis:/bin/false
gitlab-psql:x:996:996::/var/opt/gitlab/postgresql:/bin/sh
PASSWD
cat > "$root/etc/group" <<GROUP
root:x:0:
git:x:998:
gitlab-www:x:999:
gitlab-redis:x:997:
gitlab-psql:x:996:
GROUP
echo "$gitlab_version" > "$root/opt/gitlab/embedded/service/gitlab-rails/VERSION"
cp -R "$here/rootfs/opt/standin" "$root/opt/standin"
mkdir -p "$root/opt/gitlab/bin"
mv "$root/opt/standin/gitlab-ctl" "$root/opt/gitlab/bin/gitlab-ctl"
chmod 0755 "$root/opt/gitlab/bin/gitlab-ctl"
chmod 0755 "$root/opt/standin/init" "$root/opt/standin/serve" "$root/opt/standin/database" "$root/opt/standin/healthcheck" \
	"$root/opt/standin/redirect" "$root/opt/standin/hooks/pre-receive" "$root/opt/standin/acme"

tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
	docker import \
		--change 'ENTRYPOINT ["/opt/standin/init"]' \
		--change 'EXPOSE 80 443 22' \
		--change 'ENV PATH=/bin:/usr/bin:/usr/lib/git-core' \
		--change "ENV STANDIN_BOOT_DELAY=$boot_delay" \
		--change 'VOLUME ["/etc/gitlab", "/var/opt/gitlab", "/var/log/gitlab"]' \
		--change 'HEALTHCHECK --interval=1s --timeout=10s --retries=3 CMD ["/opt/standin/healthcheck"]' \
		--change "LABEL org.opencontainers.image.title=girofle-gitlab-standin girofle.gitlab.version=$gitlab_version" \
		- "$tag" >/dev/null
echo "built $tag (GitLab $gitlab_version stand-in)"
