#!/bin/sh
# The layering, enforced: each library folder may include only the folders below it, and the
# pure parts (decisions, editors, tables) include no I/O header. Prints one line per breach
# (file:line: what it includes and why that is not allowed) and "N passed, N failed".
# Usage: check_layers.sh <source dir>
set -u
SRC=${1:?usage: check_layers.sh SOURCE_DIR}
cd "$SRC" || exit 2
fail=0
pass=0
breach() { echo "$1"; fail=$((fail + 1)); }

# folder: the project folders its code may include (besides its own).
allowed() {
  case $1 in
    base) echo "" ;;
    config) echo "base" ;;
    kubelet) echo "base config" ;;
    rotation) echo "base" ;;
    systemd) echo "base" ;;
    daemon) echo "base config kubelet rotation systemd" ;;
  esac
}
for layer in base config kubelet rotation systemd daemon; do
  ok_dirs=$(allowed "$layer")
  for f in $(find "$layer" -name '*.cpp' -o -name '*.hpp' | sort); do
    grep -n '^#include "' "$f" | while IFS= read -r line; do
      n=${line%%:*}
      inc=$(printf '%s' "$line" | sed 's/.*#include "\([^"]*\)".*/\1/')
      top=${inc%%/*}
      [ "$top" = "$layer" ] && continue
      case " $ok_dirs " in *" $top "*) continue ;; esac
      echo "$f:$n: includes $inc, but $layer/ may include only: $layer ${ok_dirs:-(nothing else)}"
    done
  done
done >/tmp/kcd-layers.$$
if [ -s /tmp/kcd-layers.$$ ]; then
  while IFS= read -r l; do breach "$l"; done </tmp/kcd-layers.$$
else
  pass=$((pass + 1))
  echo "ok - every library includes only the libraries below it"
fi
rm -f /tmp/kcd-layers.$$

# The pure units: no file, process, socket, event-loop or user-database header, nothing of the
# store, and not the CIS fact collection (the CIS engine's only I/O); of daemon/ and systemd/
# only other pure units.
PURE="rotation/backoff rotation/certificate rotation/csr rotation/csr_name rotation/deadline rotation/key
      rotation/lifecycle rotation/node_request rotation/serving_approval rotation/state rotation/validate rotation/cert_kind
      kubelet/version kubelet/key_rules kubelet/kubelet_config kubelet/yaml_edit kubelet/diff kubelet/change_state
      kubelet/cis_definitions kubelet/cis_kube_bench kubelet/cis_facts kubelet/cis_evaluate
      base/expected base/base64 base/rfc3339 base/duration base/number base/suggest base/yaml
      daemon/exit_verdict daemon/control_protocol daemon/kubelet_restart_policy daemon/event_correlator
      daemon/api/cluster_types daemon/api/types"
IO='<fstream>|<unistd.h>|<fcntl.h>|<netdb.h>|<spawn.h>|<sys/socket.h>|<sys/stat.h>|<poll.h>|<pwd.h>|<grp.h>|<boost/asio|"base/files.hpp"|"rotation/store/|"kubelet/cis_collect.hpp"|"kubelet/cis.hpp"|"daemon/|"systemd/'
for unit in $PURE; do
  for f in "$unit.hpp" "$unit.cpp"; do
    [ -f "$f" ] || continue
    hits=$(grep -nE "^#include ($IO)" "$f" | while IFS= read -r h; do
      inc=$(printf '%s' "$h" | sed -n 's/.*#include "\([^"]*\)\.hpp".*/\1/p')
      case " $(echo $PURE) " in *" $inc "*) ;; *) printf '%s\n' "$h" ;; esac
    done)
    if [ -n "$hits" ]; then
      printf '%s\n' "$hits" | while IFS= read -r h; do echo "$f:${h%%:*}: pure unit includes ${h#*:}"; done
      fail=$((fail + 1))
    else
      pass=$((pass + 1))
    fi
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
