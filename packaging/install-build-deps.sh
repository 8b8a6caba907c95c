#!/bin/sh
# Installs everything kubelet-certd needs to build and test, from Debian 12 (bookworm)
# packages only: compilers and libraries, the packaging tools (dpkg-dev, rpm, lintian,
# rpmlint), what the systemd end-to-end test boots its container with
# (systemd-container, mmdebstrap) and gnuplot for the fleet simulator's picture
# (tests/fleetsim/plot-outage.sh), and clang 16 for the format and clang-tidy checks and the
# fuzz targets (libclang-rt-16-dev holds the ASan/UBSan/libFuzzer runtimes clang links them
# with; it is only a recommendation of clang-16, so it is named here), and lld, the linker CI's
# tests/run-all.sh links with (a third of the time of ld.bfd per test executable). Run as root.
# Safe to run again.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates openssl \
  libssl-dev libboost-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libsystemd-dev \
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev \
  dpkg-dev fakeroot file rpm lintian rpmlint \
  systemd-container mmdebstrap util-linux procps gnuplot-nox \
  clang-16 clang-format-16 clang-tidy-16 libfuzzer-16-dev libclang-rt-16-dev lld >/dev/null
echo "build dependencies installed"
