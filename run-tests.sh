#!/bin/sh
# The test command (README, .ci/run): on a fresh Debian 12 machine, as root,
# installs and starts what the tests need, builds the stand-in GitLab images,
# checks formatting and lints, and runs every test against the real engine.
set -eu
cd "$(dirname "$0")"

say() { printf '== %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
	echo "run-tests.sh: run me as root (the tests start containers and own files as 998/996)" >&2
	exit 2
fi

# Debian packages the tests use: the engine only when none answers.
packages="busybox-static git socat openssl cron openssh-server rsync b3sum chrony faketime curl ca-certificates strace time python3 python3-prometheus-client chromium chromium-driver logrotate groff-base man-db restic rclone lego pebble"
docker info >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1 || packages="docker.io $packages"
missing=
for package in $packages; do
	dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $package"
done
if [ -n "$missing" ]; then
	say "installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
	say "starting dockerd"
	setsid dockerd >/var/log/girofle-tests-dockerd.log 2>&1 < /dev/null &
	tries=0
	until docker info >/dev/null 2>&1; do
		tries=$((tries + 1))
		if [ $tries -gt 120 ]; then
			echo "run-tests.sh: dockerd did not answer within 60 s; its log:" >&2
			tail -n 30 /var/log/girofle-tests-dockerd.log >&2
			exit 1
		fi
		sleep 0.5
	done
fi

say "building the stand-in GitLab images"
tests/standin/build.sh
tests/standin/build.sh --tag girofle-gitlab-standin:slow-boot --boot-delay 3600
tests/standin/build.sh --tag girofle-gitlab-standin:17.6.0 --gitlab-version 17.6.0

test_root="${TMPDIR:-/tmp}/girofle-tests/"
remove_test_containers() {
	docker ps --all --filter label=girofle.home --format '{{.ID}} {{.Label "girofle.home"}}' |
		awk -v root="$test_root" 'index($2, root) == 1 { print $1 }' |
		xargs -r docker rm --force --volumes >/dev/null 2>&1 || true
}
trap remove_test_containers EXIT

say "cargo fmt --all --check"
cargo fmt --all --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "a small run of the benchmarks, so that the harness cannot rot"
cargo bench --quiet --bench girofle -- --size 4M --rounds 1 --containers 3 --rows 50 \
	--work "${TMPDIR:-/tmp}/girofle-bench-smoke" --output /dev/null

say "tests"
if cargo nextest --version >/dev/null 2>&1; then
	cargo nextest run --workspace --no-fail-fast
else
	cargo test --workspace --no-fail-fast
fi
