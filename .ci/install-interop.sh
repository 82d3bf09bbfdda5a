#!/bin/sh
# Install the real mail software the interop tests (tests/interop/) drive.
#
# Idempotent: re-running it only re-checks the packages. Debian/Ubuntu only. Postfix is used as a
# private instance started by the test fixture (own config, queue and ports in a temp directory);
# the system instance that the package may start is not needed, and under CI it is stopped so no
# stray MTA listens on port 25 of the runner.
set -eu

# libnet-ssleay-perl is only a Recommends of swaks, but swaks needs it for any TLS.
# util-linux (unshare, nsenter) and mount: the relay's disk-full test mounts a tmpfs in a private
# mount namespace (tests/relay/test_disk_full.py).
# postgresql: tests/relay_pg start a private cluster (initdb + pg_ctl in a temp directory).
PACKAGES="postfix swaks libnet-ssleay-perl msmtp curl openssl libsasl2-modules sasl2-bin util-linux mount postgresql"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-interop.sh: need root (or sudo) to run apt-get" >&2
    exit 1
fi

# Choose the "Internet Site" answer up front so debconf never prompts; the fixture writes its
# own main.cf, so the system configuration's contents do not matter.
echo "postfix postfix/main_mailer_type select Internet Site" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string interop.example.test" | $SUDO debconf-set-selections

$SUDO apt-get update
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES

if [ "${CI:-}" = "true" ] && $SUDO /usr/sbin/postfix status >/dev/null 2>&1; then
    echo "install-interop.sh: stopping the system Postfix (the tests use a private instance)"
    $SUDO /usr/sbin/postfix stop || true
fi

if [ "${CI:-}" = "true" ] && command -v pg_lsclusters >/dev/null 2>&1; then
    # The package's own cluster is not used (the tests start a private one); stop it.
    $SUDO pg_ctlcluster --force 15 main stop >/dev/null 2>&1 || true
fi

for program in /usr/lib/postgresql/15/bin/initdb /usr/lib/postgresql/15/bin/pg_ctl /usr/sbin/postfix /usr/sbin/postconf /usr/sbin/saslpasswd2 swaks msmtp curl openssl unshare nsenter mount; do
    command -v "$program" >/dev/null 2>&1 || { echo "install-interop.sh: $program missing" >&2; exit 1; }
done
echo "install-interop.sh: interop programs ready"
