# kubelet-certd (rpm %post): $1 == 1 install, >= 2 upgrade. Enable on install, do not start.
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" -eq 1 ]; then
  systemctl enable kubelet-certd.service >/dev/null 2>&1 || :
fi
