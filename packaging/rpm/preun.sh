# kubelet-certd (rpm %preun): $1 == 0 removal, >= 1 upgrade. Stop and disable on removal only.
if [ "$1" -eq 0 ]; then
  if [ -d /run/systemd/system ]; then systemctl stop kubelet-certd.service kubelet-certd-approver.service >/dev/null 2>&1 || :; fi
  systemctl disable kubelet-certd.service kubelet-certd-approver.service >/dev/null 2>&1 || :
fi
