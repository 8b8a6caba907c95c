#!/bin/sh
# Runs clang-tidy (the repository's .clang-tidy) over every production source of a configured
# build and fails on any finding; also fails on a NOLINT that does not name its check.
# Usage: run_tidy.sh <source dir> <build dir with compile_commands.json>
set -eu
src=${1:?usage: run_tidy.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: run_tidy.sh SOURCE_DIR BUILD_DIR}
tidy=${CLANG_TIDY:-clang-tidy-16}
cd "$src"
if ! command -v "$tidy" >/dev/null 2>&1; then
  echo "run_tidy: $tidy not found; install it with ./packaging/install-build-deps.sh" >&2
  exit 1
fi
bare=$(grep -rn 'NOLINT' base config kubelet rotation daemon systemd tests --include='*.cpp' --include='*.hpp' \
  | grep -v 'NOLINT\(NEXTLINE\)\?(' | grep -v 'tests/tidy/' || true)
if [ -n "$bare" ]; then
  echo "run_tidy: every NOLINT must name its check, e.g. NOLINT(google-explicit-constructor):" >&2
  echo "$bare" >&2
  exit 1
fi
files=$(find base config kubelet rotation daemon systemd -name '*.cpp' | sort)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Boost 1.74 enables its coroutine support only for GCC or libc++ (clang with libstdc++ has it too);
# SD_BUS_ERROR_NULL is a compound literal, which clang calls a C99 extension.
echo "$files" | xargs -P "$(nproc 2>/dev/null || echo 2)" -n 4 "$tidy" -p "$build" --quiet \
  --extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1 --extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE=1 \
  --extra-arg=-Wno-c99-extensions >"$out" 2>&1 || true
if grep -qE '(warning|error): ' "$out"; then
  grep -E -A3 '(warning|error): ' "$out" >&2
  echo "run_tidy: findings above (fix them, or NOLINT(<check>) with a reason)" >&2
  exit 1
fi
echo "run_tidy: $(echo "$files" | wc -l) files clean"
