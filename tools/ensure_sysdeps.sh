#!/usr/bin/env bash
# Install the Debian packages the test suite uses when they are missing: RTKLIB (oracle and
# third-party NTRIP peer), Chromium (dashboard browser test), PostgreSQL (API tests on PostgreSQL).
# Needs root (CI and the dev machines run as root); otherwise it only warns. Idempotent and quiet.
set -u
need=()
command -v rnx2rtkp >/dev/null 2>&1 || need+=(rtklib)
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "warning: missing ${need[*]} (not root, not installing); the tests that need them will skip" >&2
  exit 0
fi
echo "installing ${need[*]} from Debian" >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null \
  || echo "warning: could not install ${need[*]}" >&2
exit 0
