# kubelet-certd (rpm %postun): $1 == 0 removal, >= 1 upgrade. Restart a running service on
# upgrade. RPM has no purge: on removal our own state goes (never the kubelet's certificates
# or kubeconfig; the settings file stays as .rpmsave if it was edited).
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" -ge 1 ]; then
  if [ -d /run/systemd/system ]; then systemctl try-restart kubelet-certd.service kubelet-certd-approver.service >/dev/null 2>&1 || :; fi
else
  for f in kubelet-certd-state.json kubelet-certd-kubelet.json kubelet-certd.lock kubelet-certd.sock \
           kubelet-certd-client-pending.key kubelet-certd-serving-pending.key; do
    rm -f "/var/lib/kubelet/pki/$f"
  done
fi
