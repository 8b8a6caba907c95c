#!/bin/sh
# Fails when a C++ source differs from what clang-format (the repository's .clang-format) makes
# of it, and names the files. Fix with:
#   find base config kubelet rotation daemon systemd tests -name '*.[ch]pp' | xargs clang-format-16 -i
set -eu
cd "$(dirname "$0")/../.."
fmt=${CLANG_FORMAT:-clang-format-16}
if ! command -v "$fmt" >/dev/null 2>&1; then
  echo "check_format: $fmt not found; install it with ./packaging/install-build-deps.sh" >&2
  exit 1
fi
files=$(find base config kubelet rotation daemon systemd tests -name '*.cpp' -o -name '*.hpp' | sort)
bad=0
for f in $files; do
  if ! "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f" >&2
    bad=$((bad + 1))
  fi
done
if [ "$bad" -ne 0 ]; then
  echo "check_format: $bad file(s) differ from .clang-format; run: find base config kubelet rotation daemon systemd tests -name '*.[ch]pp' | xargs $fmt -i" >&2
  exit 1
fi
echo "check_format: $(echo "$files" | wc -l) files formatted"
