#!/bin/sh
# Builds kubelet-certd_<version>_<arch>.deb and kubelet-certd-<version>.<arch>.rpm from a
# configured build directory (default: build, the `default` preset: prefix /usr) into OUT
# (default: <build>/packages), then lints both.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-$build/packages}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cmake --build "$build" --target kubelet-certd kcd_package_docs -j"$(nproc 2>/dev/null || echo 2)"
(cd "$build" && cpack -G "DEB;RPM" -B "$out/cpack" >/dev/null)
mv "$out"/cpack/kubelet-certd*.deb "$out"/cpack/kubelet-certd*.rpm "$out"/
rm -rf "$out/cpack"
ls -l "$out"
echo "== lintian"
lintian --fail-on error "$out"/kubelet-certd_*.deb
echo "== rpmlint"
rpmlint -c packaging/rpmlint.toml -r packaging/rpmlintrc "$out"/kubelet-certd-*.rpm
