#!/bin/sh
# Builds kubelet-certd_<version>_<arch>.deb and kubelet-certd-<version>.<arch>.rpm into OUT
# (default: build/packages), each from its own Release build with the paths its distribution
# expects (prefix /usr, /etc; the unit under /lib/systemd/system for Debian 12 and
# /usr/lib/systemd/system for RPM distributions). Then lints both.
set -eu
cd "$(dirname "$0")/.."
out=${1:-build/packages}
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

for kind in deb rpm; do
  dir=build/pkg-$kind
  unit=/lib/systemd/system
  [ "$kind" = rpm ] && unit=/usr/lib/systemd/system
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DKCD_BUILD_TESTS=OFF \
    -DKCD_UNIT_DIR="$unit" >/dev/null
  cmake --build "$dir" -j"$jobs"
  gen=DEB
  [ "$kind" = rpm ] && gen=RPM
  (cd "$dir" && cpack -G "$gen" >/dev/null)
  cp "$dir"/kubelet-certd*."$kind" "$out"/
done
ls -l "$out"
echo "== lintian"
lintian --fail-on error "$out"/kubelet-certd_*.deb
echo "== rpmlint"
rpmlint -c packaging/rpmlint.toml -r packaging/rpmlintrc "$out"/kubelet-certd-*.rpm
