# kubelet-certd (rpm %postun): $1 == 0 removal, >= 1 upgrade. Restart a running service on
# upgrade. RPM has no purge: on removal our own state goes (never the kubelet's certificates).
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" -ge 1 ]; then
  if [ -d /run/systemd/system ]; then systemctl try-restart kubelet-certd.service >/dev/null 2>&1 || :; fi
else
  rm -f /var/lib/kubelet/pki/kubelet-certd-state.json /var/lib/kubelet/pki/kubelet-certd.lock \
        /var/lib/kubelet/pki/kubelet-certd-client-pending.key /var/lib/kubelet/pki/kubelet-certd-serving-pending.key
  rm -rf /run/kubelet-certd
fi
