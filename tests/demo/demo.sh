#!/bin/sh
# The README's demo: the whole client-certificate bootstrap against the embedded development
# API server (kubelet-certd-devapi) in a temporary directory. No cluster, no root paths touched.
# Usage: demo.sh <kubelet-certd binary> <kubelet-certd-devapi binary>
set -eu
CERTD=${1:?usage: demo.sh KUBELET_CERTD DEVAPI}
DEVAPI=${2:?usage: demo.sh KUBELET_CERTD DEVAPI}

work=$(mktemp -d "${TMPDIR:-/tmp}/kubelet-certd-demo.XXXXXX")
devapi_pid=""
approver_pid=""
cleanup() {
  [ -n "$approver_pid" ] && kill "$approver_pid" 2>/dev/null && wait "$approver_pid" 2>/dev/null
  [ -n "$devapi_pid" ] && kill "$devapi_pid" 2>/dev/null && wait "$devapi_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ms() { date +%s%3N; }
step() { printf '\n== %s\n' "$*"; }

step "1. starting the development API server (kube-apiserver CSR subset, Nodes, Leases, Events, client CSR auto-approver, signer; no serving approver of its own) on 127.0.0.1"
mkdir -p "$work/devapi" "$work/etc/kubelet-certd" "$work/etc/kubernetes" "$work/var/lib/kubelet/pki"
# Node demo-node is registered with the address its kubelet would report (InternalIP 127.0.0.1).
"$DEVAPI" --listen 127.0.0.1:0 --state-dir "$work/devapi" --serving-approver none --node demo-node=127.0.0.1 \
  >"$work/devapi.out" 2>"$work/devapi.log" &
devapi_pid=$!
i=0
while [ ! -s "$work/devapi/devapi.json" ]; do
  i=$((i + 1))
  if [ "$i" -gt 500 ] || ! kill -0 "$devapi_pid" 2>/dev/null; then
    echo "devapi did not start:" >&2; cat "$work/devapi.log" >&2; exit 1
  fi
  sleep 0.01
done
head -n 1 "$work/devapi.out"
cp "$work/devapi/bootstrap-kubelet.conf" "$work/etc/kubernetes/bootstrap-kubelet.conf"
echo "bootstrap kubeconfig (CA + bootstrap token) at $work/etc/kubernetes/bootstrap-kubelet.conf"

step "2. our settings file"
cat >"$work/etc/kubelet-certd/config.yaml" <<CONF
apiVersion: kubelet-certd.io/v1alpha1
kind: KubeletCertdConfiguration
nodeName: demo-node
bootstrapKubeconfig: $work/etc/kubernetes/bootstrap-kubelet.conf
kubeconfig: $work/etc/kubernetes/kubelet.conf
certDir: $work/var/lib/kubelet/pki
kubeletConfig: $work/var/lib/kubelet/config.yaml
clientCAFile: $work/etc/kubernetes/pki/ca.crt
keyAlgorithm: ECDSA-P256
# The serving certificate's SANs (defaults: the host's addresses and name).
servingIPs: [127.0.0.1]
servingDNSNames: []
# Not a real node: there is no kubelet.service to restart after the serving certificate changes.
kubeletRestart: never
# kubelet-certd approve (on control-plane nodes): its own identity, no metrics endpoint here.
approverKubeconfig: $work/devapi/approver.conf
approverMetricsAddress: ""
CONF
sed 's/^/    /' "$work/etc/kubelet-certd/config.yaml"
"$CERTD" check-config --config "$work/etc/kubelet-certd/config.yaml"

step "2b. kubelet-certd approve: the serving CSR approver (leader on the Lease kube-system/kubelet-certd-approver)"
"$CERTD" approve --config "$work/etc/kubelet-certd/config.yaml" 2>"$work/approver.log" &
approver_pid=$!
i=0
while ! grep -q 'leading' "$work/approver.log"; do
  i=$((i + 1))
  if [ "$i" -gt 1000 ] || ! kill -0 "$approver_pid" 2>/dev/null; then
    echo "the approver did not take the Lease:" >&2; cat "$work/approver.log" >&2; exit 1
  fi
  sleep 0.01
done
sed 's/^/    /' "$work/approver.log"

step "3. kubelet-certd run --once: keys on the node, client CSR (bootstrap token), then serving CSR (as the node), approval, validation, install"
t0=$(ms)
"$CERTD" run --once --config "$work/etc/kubelet-certd/config.yaml" 2>"$work/run1.log"
t1=$(ms)
sed 's/^/    /' "$work/run1.log"
echo "bootstrap took $((t1 - t0)) ms (process start to both certificates installed + kubelet.conf)"

echo "the approver's decision (checked against Node demo-node's addresses):"
grep -E 'csr (approved|denied)' "$work/approver.log" | sed 's/^/    /'

step "4. what is on disk now (the kubelet's own layout)"
ls -l "$work/var/lib/kubelet/pki" | sed "s|$work|.|g; s/^/    /"
echo "    kubelet-client-current.pem -> $(readlink "$work/var/lib/kubelet/pki/kubelet-client-current.pem")"
echo "    kubelet-server-current.pem -> $(readlink "$work/var/lib/kubelet/pki/kubelet-server-current.pem")"
for c in client server; do
  echo "    kubelet-$c-current.pem:"
  openssl x509 -in "$work/var/lib/kubelet/pki/kubelet-$c-current.pem" -noout -subject -issuer -enddate \
    -ext extendedKeyUsage,subjectAltName 2>/dev/null | sed 's/^/      /'
done
echo "    kubelet.conf ($(stat -c %a "$work/etc/kubernetes/kubelet.conf")) points the kubelet at:"
grep -E 'server:|client-(certificate|key):' "$work/etc/kubernetes/kubelet.conf" | sed "s|$work|.|g; s/^/    /"

step "4b. the kubelet's config file, patched (serving certificate, client CA, CIS hardening), and the CIS checks"
sed "s|$work|.|g; s/^/    /" "$work/var/lib/kubelet/config.yaml"
"$CERTD" check --config "$work/etc/kubelet-certd/config.yaml" | grep -E '^\[(PASS|FAIL|WARN)\]|checks (PASS|FAIL|WARN)' | sed 's/^/    /'

step "5. run --once again: the certificates are valid, so no request at all"
t0=$(ms)
"$CERTD" run --once --config "$work/etc/kubelet-certd/config.yaml" 2>"$work/run2.log"
t1=$(ms)
grep -E 'certificate valid' "$work/run2.log" | sed 's/^/    /'
echo "second run took $((t1 - t0)) ms"
csrs=$(grep -c 'POST /apis/certificates.k8s.io/v1/certificatesigningrequests ' "$work/devapi.log" || true)
echo "CSRs filed in total: $csrs"

step "6. kubelet-certd renew client --once: rotation with a new key, authenticated as the node"
t0=$(ms)
"$CERTD" renew client --once --config "$work/etc/kubelet-certd/config.yaml" 2>"$work/run3.log"
t1=$(ms)
grep -E 'csr filed|certificate installed' "$work/run3.log" | sed 's/^/    /'
echo "renewal took $((t1 - t0)) ms; now $(ls "$work/var/lib/kubelet/pki" | grep -c 'kubelet-client-2') client certificate files"
csrs=$(grep -c 'POST /apis/certificates.k8s.io/v1/certificatesigningrequests 201' "$work/devapi.log" || true)
echo "CSRs filed in total: $csrs (client bootstrap, serving, client renewal)"

step "7. stopping the approver: it gives the Lease up for the next replica"
kill "$approver_pid" && wait "$approver_pid" && approver_pid=""
grep -E 'lease released' "$work/approver.log" | sed 's/^/    /'

step "demo finished: the kubelet's certificates were bootstrapped and rotated end to end"
