#!/bin/bash
# kubelet-certd under a real systemd: boots a throwaway Debian bookworm rootfs with
# systemd-nspawn (PID 1 of this machine is not systemd), installs the .deb / .rpm built from
# this tree, runs devapi inside as the API server, and checks what the packaging issue asks
# for. Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed" at the end.
#
# Usage: systemd_e2e.sh <build dir>   (a configured `default` preset build)
# Needs root, systemd-container, mmdebstrap, rpm, Debian's mirror (for the rootfs, cached
# in <build>/e2e/rootfs and rebuilt when the package list changes).
set -u
BUILD=$(cd "${1:?usage: systemd_e2e.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$BUILD/e2e
PKGS=$WORK/pkgs
LOGS=$WORK/logs
mkdir -p "$WORK" "$LOGS"

pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
# check "description" command...: ok when the command succeeds.
check() {
  local d=$1
  shift
  if "$@"; then ok "$d"; else notok "$d"; fi
}
summary() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
die() {
  notok "$*"
  summary
  exit 1
}

if [ "$(id -u)" != 0 ]; then echo "skipped: must run as root (systemd-nspawn)"; exit 77; fi
for tool in systemd-nspawn mmdebstrap nsenter rpm; do
  command -v "$tool" >/dev/null || die "$tool not installed: run packaging/install-build-deps.sh"
done

# ---- packages -----------------------------------------------------------------------------
rm -rf "$PKGS"
if ! "$SRC/packaging/build-packages.sh" "$BUILD" "$PKGS" >"$LOGS/packages.log" 2>&1; then
  cat "$LOGS/packages.log"
  die "packages build and lint (packaging/build-packages.sh)"
fi
ok "packages built; lintian and rpmlint pass ($(cd "$PKGS" && ls kubelet-certd*.deb kubelet-certd*.rpm | tr '\n' ' '))"
DEB=$(cd "$PKGS" && ls kubelet-certd_*.deb)
RPM=$(cd "$PKGS" && ls kubelet-certd-*.rpm)
mkdir -p "$WORK/bin"
cp "$BUILD/tests/kubelet-certd-devapi" "$BUILD/tests/kubelet-certd-fakekubelet" "$WORK/bin/"
rm -rf "$WORK/ansible" && cp -r "$SRC/packaging/ansible" "$WORK/ansible"  # a fresh copy: cp -r into an existing dir nests

# ---- rootfs -------------------------------------------------------------------------------
ROOTFS=$WORK/rootfs
INCLUDE="systemd,systemd-sysv,dbus,procps,openssl,rpm,ansible-core,python3-apt,libfmt9,libspdlog1.10-fmt9,libssl3,libyaml-cpp0.7,libsystemd0"
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [ "$(cat "$ROOTFS.include" 2>/dev/null)" != "$INCLUDE" ]; then
  rm -rf "$ROOTFS" "$ROOTFS.include"
  start=$(date +%s)
  build_rootfs() {
    rm -rf "$ROOTFS"
    timeout 600 mmdebstrap --variant=apt --dpkgopt=force-unsafe-io --include="$INCLUDE" \
      --customize-hook='chroot "$1" systemctl mask getty@tty1.service console-getty.service serial-getty@console.service' \
      --customize-hook='echo e2e-node > "$1/etc/hostname"' \
      bookworm "$ROOTFS" "$MIRROR" >"$LOGS/mmdebstrap.log" 2>&1
  }
  # One retry: the mirror is the only network this test uses.
  if ! build_rootfs && ! { sleep 5 && build_rootfs; }; then
    tail -n 20 "$LOGS/mmdebstrap.log"
    die "rootfs (mmdebstrap bookworm from $MIRROR)"
  fi
  echo "$INCLUDE" >"$ROOTFS.include"
  echo "# rootfs built in $(($(date +%s) - start)) s"
fi

# ---- booting ------------------------------------------------------------------------------
NSPAWN=""
LEADER=""
descendant_systemd() {
  local pid comm ppid p
  for pid in $(pgrep -x systemd); do
    p=$pid
    while [ -n "$p" ] && [ "$p" != 1 ] && [ "$p" != 0 ]; do
      ppid=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)
      if [ "$ppid" = "$NSPAWN" ]; then
        echo "$pid"
        return 0
      fi
      p=$ppid
    done
  done
  return 1
}
boot() {
  local name=$1
  systemd-nspawn -q -b -D "$ROOTFS" -M "$name" --register=no --keep-unit --console=passive \
    --volatile=overlay --private-network --bind-ro="$PKGS":/pkgs --bind-ro="$WORK/bin":/e2e-bin \
    --bind-ro="$WORK/ansible":/ansible >"$LOGS/$name.console" 2>&1 &
  NSPAWN=$!
  LEADER=""
  for _ in $(seq 1 300); do
    LEADER=$(descendant_systemd) && break
    sleep 0.1
  done
  [ -n "$LEADER" ] || return 1
  for _ in $(seq 1 300); do
    state=$(nsenter -t "$LEADER" -a systemctl is-system-running --wait 2>/dev/null)
    [ -n "$state" ] && return 0
    sleep 0.1
  done
  return 1
}
shutdown() {
  [ -n "$NSPAWN" ] || return 0
  nsenter -t "$LEADER" -a systemctl poweroff >/dev/null 2>&1 || kill -TERM "$NSPAWN" 2>/dev/null
  for _ in $(seq 1 100); do
    kill -0 "$NSPAWN" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$NSPAWN" 2>/dev/null
  wait "$NSPAWN" 2>/dev/null
  NSPAWN=""
}
trap shutdown EXIT
in_ct() { nsenter -t "$LEADER" -a "$@"; }
sh_ct() { nsenter -t "$LEADER" -a /bin/sh -c "$1"; }
# eventually SECONDS COMMAND...: retries every 0.2 s.
eventually() {
  local limit=$1
  shift
  local end=$(($(date +%s) + limit))
  while [ "$(date +%s)" -lt "$end" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  "$@" >/dev/null 2>&1
}
prop() { in_ct systemctl show -P "$2" "$1"; }
# logged LOG COMMAND...: the command's output goes to LOG (shown when it fails).
logged() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 && return 0
  sed 's/^/#   /' "$log" | tail -n 20
  return 1
}

# A node: devapi as the API server on 127.0.0.1:6443, a stand-in kubelet (kubelet-certd-fakekubelet:
# reports version ${1:-1.30.4}, refuses seccompDefault without its gate below 1.25 as a real
# kubelet does, serves healthz on 127.0.0.1:10248) with kubeadm's drop-in and kubeadm's config file.
prepare_node() {
  local version=${1:-1.30.4}
  sh_ct "mkdir -p /etc/kubernetes /var/lib/kubelet /var/lib/devapi /etc/systemd/system/kubelet.service.d
    install -m 755 /e2e-bin/kubelet-certd-fakekubelet /usr/bin/kubelet && echo $version >/usr/bin/kubelet.version" || return 1
  sh_ct 'printf "[Unit]\nDescription=stand-in kubelet\n[Service]\nExecStart=/usr/bin/kubelet\nRestart=always\nRestartSec=1\nStartLimitIntervalSec=0\n[Install]\nWantedBy=multi-user.target\n" >/etc/systemd/system/kubelet.service
    cat >/etc/systemd/system/kubelet.service.d/10-kubeadm.conf <<"D"
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
D
    printf "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n# kept by the patch\nrotateCertificates: true\nreadOnlyPort: 10255\n" >/var/lib/kubelet/config.yaml
    systemctl daemon-reload && systemctl enable --now kubelet.service >/dev/null 2>&1
    systemd-run --unit=devapi --quiet /e2e-bin/kubelet-certd-devapi --listen 127.0.0.1:6443 --state-dir /var/lib/devapi --serving-approver none --node e2e-node=127.0.0.1'
  eventually 20 sh_ct 'test -s /var/lib/devapi/approver.conf' || return 1
  # The approver's identity (devapi mints it as the README shows for kubeadm's CA).
  sh_ct 'cp /var/lib/devapi/bootstrap-kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf &&
    install -m 600 /var/lib/devapi/approver.conf /etc/kubernetes/kubelet-certd-approver.conf'
}
# kubelet-certd approve under its own unit: nothing else approves serving CSRs here.
start_approver() {
  sh_ct 'timeout 60 systemctl start kubelet-certd-approver' || return 1
  eventually 20 sh_ct 'journalctl -u kubelet-certd-approver -o cat | grep -q "leading: deciding"'
}
write_settings() {  # extra lines appended
  sh_ct "mkdir -p /etc/kubelet-certd && printf 'apiVersion: kubelet-certd.io/v1alpha1\nkind: KubeletCertdConfiguration\nnodeName: e2e-node\nservingIPs: [127.0.0.1]\nservingDNSNames: []\n$1' >/etc/kubelet-certd/config.yaml"
}
certs_issued() { sh_ct 'test -s /var/lib/kubelet/pki/kubelet-client-current.pem && test -s /var/lib/kubelet/pki/kubelet-server-current.pem'; }
ready_after_start() {
  # Type=notify: systemd logs "Started" only once READY=1 arrived, which the daemon sends
  # after its "starting" line, from the running event loop.
  [ "$(prop kubelet-certd ActiveState)" = active ] && [ "$(prop kubelet-certd SubState)" = running ] || return 1
  local starting started
  starting=$(in_ct journalctl -u kubelet-certd -o short-unix | awk '/kubelet-certd\[[0-9]+\]: starting / {print $1; exit}')
  started=$(in_ct journalctl -u kubelet-certd -o short-unix | awk '/systemd\[1\]: Started kubelet-certd/ {print $1; exit}')
  [ -n "$starting" ] && [ -n "$started" ] && awk -v a="$starting" -v b="$started" 'BEGIN { exit !(a <= b) }'
}

# ==== boot 1: the .deb ========================================================================
start=$(date +%s)
boot e2e-deb || die "boot the rootfs with systemd-nspawn"
ok "booted systemd $(in_ct systemctl --version | head -n 1 | awk '{print $2}') in a container ($(($(date +%s) - start)) s)"
prepare_node || die "devapi and the dummy kubelet inside the container"
KUBELET_PID0=$(prop kubelet MainPID)

check "apt-get install of the .deb succeeds" logged "$LOGS/apt-install.log" in_ct timeout 120 apt-get install -y -q "/pkgs/$DEB"
check "installing enables the unit" [ "$(in_ct systemctl is-enabled kubelet-certd)" = enabled ]
check "installing does not start it (configuration management does)" [ "$(prop kubelet-certd ActiveState)" = inactive ]
check "the default config is a conffile" sh_ct 'dpkg-query -W -f="\${Conffiles}" kubelet-certd | grep -q /etc/kubelet-certd/config.yaml'
check "the man page is installed" sh_ct 'test -s /usr/share/man/man8/kubelet-certd.8.gz'
check "the approver's unit is installed disabled" [ "$(in_ct systemctl is-enabled kubelet-certd-approver)" = disabled ]
check "the approver's RBAC is installed" sh_ct 'grep -q kubernetes.io/kubelet-serving /usr/share/kubelet-certd/approver-rbac.yaml'
check "systemctl enable --now kubelet-certd-approver: READY=1, leads on the Lease" sh_ct \
  'timeout 60 systemctl enable --now kubelet-certd-approver && [ "$(systemctl show -P SubState kubelet-certd-approver)" = running ]'
check "... it leads" eventually 20 sh_ct 'journalctl -u kubelet-certd-approver -o cat | grep -q "leading: deciding"'

write_settings 'kubeletRestart: auto\n'
check "systemctl start returns (READY=1 within TimeoutStartSec)" in_ct timeout 60 systemctl start kubelet-certd
check "active (running) after READY=1" ready_after_start
check "client and serving certificates issued by the API server" eventually 30 certs_issued
check "the serving CSR was approved by kubelet-certd approve (no manual approval, devapi approves none)" sh_ct \
  'journalctl -u kubelet-certd-approver -o cat | grep "csr approved" | grep -q "node=e2e-node reason=KubeletCertdApproved"'
check "the approver's metrics count the approval" in_ct bash -c 'exec 3<>/dev/tcp/127.0.0.1/10272 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3 | grep -q "^kubelet_certd_approver_decisions_total{result=\"approve\",rule=\"KubeletCertdApproved\"} 1"'
check "journal entries of the approver carry CERTD_CSR= and CERTD_NODE=" sh_ct 'journalctl -u kubelet-certd-approver -o verbose | grep -q "CERTD_NODE=e2e-node"'
check "kubelet-certd status is healthy" eventually 10 in_ct kubelet-certd status
check "STATUS= tells what it is doing" sh_ct '[ -n "$(systemctl show -P StatusText kubelet-certd)" ]'
check "kubelet-config.yaml patched (serving certificate, CA, hardening; comments kept)" eventually 30 sh_ct \
  'grep -q "tlsCertFile: /var/lib/kubelet/pki/kubelet-server-current.pem" /var/lib/kubelet/config.yaml &&
   grep -q "readOnlyPort: 0" /var/lib/kubelet/config.yaml && ! grep -q rotateCertificates /var/lib/kubelet/config.yaml &&
   grep -q "# kept by the patch" /var/lib/kubelet/config.yaml && test -s /etc/kubernetes/pki/ca.crt'
check "kubelet v1.30 (from the running process) gets seccompDefault: true" sh_ct 'grep -q "^seccompDefault: true" /var/lib/kubelet/config.yaml'
check "kubelet-certd check: every CIS kubelet check passes" logged "$LOGS/check.json" in_ct kubelet-certd check -o json
check "the kubelet restarts were checked: active (running) and healthz ok" eventually 30 sh_ct \
  'journalctl -u kubelet-certd -o cat | grep -q "kubelet restarted and healthy" && [ "$(systemctl show -P SubState kubelet)" = running ]'
check "check --fix --dry-run shows nothing to change on a patched node" sh_ct \
  'kubelet-certd check --fix --dry-run >/tmp/dry.txt; ! grep -q "would write" /tmp/dry.txt' 
check "the dummy kubelet.service was restarted over D-Bus" eventually 10 sh_ct "[ \"\$(systemctl show -P MainPID kubelet)\" != $KUBELET_PID0 ]"
KUBELET_PID1=$(prop kubelet MainPID)
check "renew serving --once rotates through the running daemon" logged "$LOGS/renew.log" in_ct timeout 60 kubelet-certd renew serving --once
check "a serving rotation restarts the kubelet (v1.30 < 1.31, kubeletRestart: auto)" eventually 10 sh_ct "[ \"\$(systemctl show -P MainPID kubelet)\" != $KUBELET_PID1 ]"
check "journal entries carry CERTD_CERT=serving" sh_ct 'journalctl -u kubelet-certd CERTD_CERT=serving -o cat | grep -q .'
check "journal entries carry CERTD_CSR= and priorities" sh_ct 'journalctl -u kubelet-certd -o verbose | grep -q "CERTD_CSR=" && journalctl -u kubelet-certd -p info -o cat | grep -q .'

# Reload: a good config applies, a broken one is refused and the service keeps running.
PID=$(prop kubelet-certd MainPID)
write_settings 'kubeletRestart: auto\nlogLevel: debug\n'
check "systemctl reload applies a changed config" sh_ct 'systemctl reload kubelet-certd && sleep 1 && journalctl -u kubelet-certd -o cat | grep -q "configuration reloaded"'
write_settings 'kubeletRestart: auto\nlogLevle: debug\n'
in_ct systemctl reload kubelet-certd >/dev/null 2>&1
sleep 1
check "a broken config is rejected on reload" sh_ct 'journalctl -u kubelet-certd -o cat | grep -q "configuration reload failed"'
check "... and the service keeps running, same process" [ "$(prop kubelet-certd ActiveState)" = active ] && [ "$(prop kubelet-certd MainPID)" = "$PID" ]
write_settings 'kubeletRestart: auto\n'
in_ct systemctl reload kubelet-certd >/dev/null 2>&1

# Watchdog: a stopped main process stops the pings; systemd kills and restarts it.
in_ct systemctl kill -s SIGSTOP --kill-whom=main kubelet-certd 2>/dev/null || in_ct systemctl kill -s SIGSTOP --kill-who=main kubelet-certd
check "SIGSTOP of the main process leads to a watchdog restart" eventually 60 sh_ct \
  "journalctl -u kubelet-certd -o cat | grep -q 'Watchdog timeout' && [ \"\$(systemctl show -P MainPID kubelet-certd)\" != $PID ] && [ \"\$(systemctl show -P ActiveState kubelet-certd)\" = active ]"

EXPOSURE=$(in_ct systemd-analyze security kubelet-certd.service 2>/dev/null | sed -n 's/.*Overall exposure level for kubelet-certd.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security exposure ${EXPOSURE:-?} <= 2.0" awk -v e="${EXPOSURE:-99}" 'BEGIN { exit !(e <= 2.0) }'
EXPOSURE=$(in_ct systemd-analyze security kubelet-certd-approver.service 2>/dev/null | sed -n 's/.*Overall exposure level for kubelet-certd-approver.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security exposure of the approver ${EXPOSURE:-?} <= 2.0" awk -v e="${EXPOSURE:-99}" 'BEGIN { exit !(e <= 2.0) }'
check "a stop of the approver gives the Lease up" sh_ct 'timeout 60 systemctl stop kubelet-certd-approver && journalctl -u kubelet-certd-approver -o cat | grep -q "lease released"'
in_ct journalctl -u kubelet-certd-approver --no-pager >"$LOGS/deb-approver-journal.log" 2>&1

CLIENT_BEFORE=$(sh_ct 'readlink -f /var/lib/kubelet/pki/kubelet-client-current.pem')
check "apt-get purge succeeds" logged "$LOGS/apt-purge.log" in_ct timeout 60 apt-get purge -y -q kubelet-certd
check "purge leaves the kubelet's certificates and kubeconfig" sh_ct \
  "test -s $CLIENT_BEFORE && test -L /var/lib/kubelet/pki/kubelet-client-current.pem && test -L /var/lib/kubelet/pki/kubelet-server-current.pem && test -s /etc/kubernetes/kubelet.conf"
check "purge removes our own state and settings" sh_ct \
  'test ! -e /var/lib/kubelet/pki/kubelet-certd-state.json && test ! -e /etc/kubelet-certd && test ! -e /lib/systemd/system/kubelet-certd.service'
check "the kubelet keeps running" [ "$(prop kubelet ActiveState)" = active ]
in_ct journalctl -u kubelet-certd --no-pager >"$LOGS/deb-journal.log" 2>&1
shutdown

# ==== boot 2: a v1.24 kubelet: what it refuses is never written; a bad change is rolled back ====
boot e2e-v124 || die "boot for the v1.24 kubelet"
prepare_node 1.24.17 || die "devapi and the v1.24 stand-in kubelet"
in_ct timeout 120 apt-get install -y -q "/pkgs/$DEB" >"$LOGS/apt-install-v124.log" 2>&1 || die "apt-get install on the v1.24 node"
write_settings 'kubeletRestart: auto\n'
start_approver || die "the approver on the v1.24 node"
check "v1.24: the service starts" sh_ct 'timeout 60 systemctl start kubelet-certd'
check "v1.24: the certificates are issued" eventually 30 certs_issued
check "v1.24: the config is patched without seccompDefault" eventually 30 sh_ct \
  'grep -q "readOnlyPort: 0" /var/lib/kubelet/config.yaml && grep -q tlsCertFile /var/lib/kubelet/config.yaml && ! grep -q seccompDefault /var/lib/kubelet/config.yaml'
check "v1.24: the running kubelet (the unit's MainPID) is the one asked" sh_ct \
  'journalctl -u kubelet-certd -o cat | grep "kubelet-config.yaml patch " | head -n 1 | grep -q "kubelet=\"v1.24.17 (running kubelet (pid"'
check "v1.24: the held-back key is logged with its reason" sh_ct \
  'journalctl -u kubelet-certd -o cat | grep -q "seccompDefault needs the SeccompDefault feature gate on kubelet 1.24"'
check "v1.24: the kubelet runs (never restarted into a failure)" sh_ct \
  '[ "$(systemctl show -P SubState kubelet)" = running ] && [ "$(systemctl show -P NRestarts kubelet)" = 0 ]'
check "v1.24: check reports 4.2.14 as WARN with the reason" sh_ct \
  'kubelet-certd check -o json >/tmp/c.json; grep -A6 "\"4.2.14\"" /tmp/c.json | grep -q "\"WARN\"" && grep -q "needs the SeccompDefault feature gate on kubelet 1.24" /tmp/c.json'
check "v1.24: check --fix --dry-run names the held-back key and changes nothing" sh_ct \
  'sha=$(sha256sum /var/lib/kubelet/config.yaml); kubelet-certd check --fix --dry-run >/tmp/dry.txt; grep -q "seccompDefault (CIS 4.2.14): seccompDefault needs" /tmp/dry.txt && [ "$(sha256sum /var/lib/kubelet/config.yaml)" = "$sha" ]'
# Force a change this kubelet refuses: kubeletPath names a binary that says 1.30, the kubelet that
# runs is still 1.24. The daemon writes seccompDefault, the kubelet crash-loops, the daemon rolls back.
sh_ct 'mkdir -p /opt/new && install -m 755 /e2e-bin/kubelet-certd-fakekubelet /opt/new/kubelet && echo 1.30.4 >/opt/new/kubelet.version
  cp /var/lib/kubelet/config.yaml /tmp/config-before.yaml'
KPID=$(prop kubelet MainPID)
write_settings 'kubeletRestart: auto\nkubeletPath: /opt/new/kubelet\nkubeletHealthTimeout: 30s\n'
in_ct systemctl reload kubelet-certd >/dev/null 2>&1
check "forced bad change: rolled back, logged with the key and the kubelet's own error" eventually 60 sh_ct \
  'journalctl -u kubelet-certd -o cat | grep "kubelet config change rolled back" | grep -q "seccompDefault" &&
   journalctl -u kubelet-certd -o verbose | grep -q "CERTD_KUBELET_JOURNAL=.*SeccompDefault feature gate must be enabled"'
check "... the kubelet did fail on it (it was really tried)" sh_ct "journalctl -u kubelet -o cat | grep -q 'SeccompDefault feature gate must be enabled'"
check "... the original file is back" sh_ct 'cmp -s /tmp/config-before.yaml /var/lib/kubelet/config.yaml'
check "... the kubelet ends active (running), with a new process" eventually 30 sh_ct \
  "[ \"\$(systemctl show -P ActiveState kubelet)\" = active ] && [ \"\$(systemctl show -P SubState kubelet)\" = running ] && [ \"\$(systemctl show -P MainPID kubelet)\" != $KPID ]"
check "... the refusal is recorded in the state" sh_ct \
  'grep -q "\"rollbacks\": 1" /var/lib/kubelet/pki/kubelet-certd-kubelet.json && grep -A8 "\"refused\"" /var/lib/kubelet/pki/kubelet-certd-kubelet.json | grep -q "\"seccompDefault\": \"the kubelet did not come back"'
check "... status shows it" sh_ct 'kubelet-certd status | grep -q "refused       seccompDefault" && kubelet-certd status | grep -q "rollbacks     1"'
check "... the metrics show it" in_ct bash -c 'exec 3<>/dev/tcp/127.0.0.1/10271 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3 | grep -q "^kubelet_certd_kubelet_config_rollbacks_total 1"'
KPID=$(prop kubelet MainPID)
KRESTARTS=$(prop kubelet NRestarts)
check "a second start does not try the refused change again" sh_ct \
  "timeout 60 systemctl restart kubelet-certd && sleep 5 && cmp -s /tmp/config-before.yaml /var/lib/kubelet/config.yaml &&
   [ \"\$(systemctl show -P MainPID kubelet)\" = $KPID ] && [ \"\$(systemctl show -P NRestarts kubelet)\" = $KRESTARTS ] &&
   [ \"\$(journalctl -u kubelet-certd -o cat | grep -c 'kubelet config change rolled back')\" = 1 ]"
in_ct journalctl -u kubelet-certd --no-pager >"$LOGS/v124-journal.log" 2>&1
in_ct journalctl -u kubelet --no-pager >"$LOGS/v124-kubelet.log" 2>&1
shutdown

# ==== boot 3: the .rpm, its scriptlets against the real systemd ===============================
boot e2e-rpm || die "second boot"
prepare_node || die "devapi and the dummy kubelet inside the second container"
check "rpm -i --nodeps of the .rpm succeeds" logged "$LOGS/rpm-install.log" in_ct timeout 120 rpm -i --nodeps "/pkgs/$RPM"
check "%post enables the unit" [ "$(in_ct systemctl is-enabled kubelet-certd)" = enabled ]
check "%post does not start it" [ "$(prop kubelet-certd ActiveState)" = inactive ]
write_settings 'kubeletRestart: never\n'
check "the rpm ships the approver's unit, disabled" sh_ct '[ "$(systemctl is-enabled kubelet-certd-approver)" = disabled ]'
check "the rpm's approver starts and leads" start_approver
check "the rpm's service starts" sh_ct 'timeout 60 systemctl start kubelet-certd && [ "$(systemctl show -P ActiveState kubelet-certd)" = active ]'
check "... and issues the certificates" eventually 30 certs_issued
check "rpm -e succeeds" logged "$LOGS/rpm-erase.log" in_ct timeout 60 rpm -e kubelet-certd
check "%preun stopped and disabled it, and the approver" sh_ct '[ "$(systemctl show -P ActiveState kubelet-certd)" != active ] && ! systemctl is-enabled kubelet-certd >/dev/null 2>&1 && [ "$(systemctl show -P ActiveState kubelet-certd-approver)" != active ]'
check "erasing leaves the kubelet's certificates" sh_ct 'test -L /var/lib/kubelet/pki/kubelet-client-current.pem'
shutdown

# ==== boot 4: the Ansible role =================================================================
boot e2e-ansible || die "third boot"
prepare_node || die "devapi and the dummy kubelet inside the third container"
sh_ct 'printf "[control_plane]\nlocalhost ansible_connection=local\n" >/tmp/inventory'
sh_ct "cat >/tmp/play.yml <<P
- hosts: localhost
  connection: local
  gather_facts: true
  roles:
    - role: /ansible/roles/kubelet_certd
      vars:
        kubelet_certd_package_file: /pkgs/$DEB
        kubelet_certd_health_retries: 15
        kubelet_certd_health_delay: 2
        kubelet_certd_settings:
          nodeName: e2e-node
          servingIPs: [127.0.0.1]
          servingDNSNames: []
          kubeletRestart: never
P"
check "ansible-playbook applies the role" sh_ct 'cd /tmp && timeout 300 ansible-playbook -i /tmp/inventory /tmp/play.yml >/tmp/ansible.log 2>&1'
check "... and leaves the service running and healthy" sh_ct '[ "$(systemctl show -P ActiveState kubelet-certd)" = active ] && kubelet-certd status >/dev/null'
check "... and the approver enabled and running on the control_plane host" sh_ct \
  '[ "$(systemctl is-enabled kubelet-certd-approver)" = enabled ] && [ "$(systemctl show -P ActiveState kubelet-certd-approver)" = active ]'
check "a second run changes nothing" sh_ct 'cd /tmp && timeout 300 ansible-playbook -i /tmp/inventory /tmp/play.yml >/tmp/ansible2.log 2>&1 && grep -q "changed=0" /tmp/ansible2.log'
sh_ct "sed -i 's/kubeletRestart: never/kubeletRestart: never\n          logLevel: debug/' /tmp/play.yml"
check "a changed setting is templated, validated and reloaded" sh_ct \
  'cd /tmp && timeout 300 ansible-playbook -i /tmp/inventory /tmp/play.yml >/tmp/ansible3.log 2>&1 && grep -q "RUNNING HANDLER \[.*kubelet_certd : Reload kubelet-certd\]" /tmp/ansible3.log && grep -q "logLevel: debug" /etc/kubelet-certd/config.yaml'
for f in ansible.log ansible2.log ansible3.log; do in_ct cat "/tmp/$f" >"$LOGS/$f" 2>/dev/null; done
shutdown
trap - EXIT

echo "# logs in $LOGS"
summary
