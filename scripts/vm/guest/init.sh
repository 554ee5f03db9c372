#!/bin/sh
# shellcheck shell=dash
# /init of the test VMs (scripts/vm/build-initramfs.sh puts it there). Mounts what the checks read,
# runs /suite.sh (a file of scripts/vm/suites/) and powers the machine off. Every result is one line on
# the serial console, read by scripts/vm/test.sh:
#   VMTEST ok NAME [DETAIL]      VMTEST FAIL NAME DETAIL      VMTEST done
# A suite that dies, hangs or panics the kernel never prints `VMTEST done`: the host test fails.
#
# With `vm.pid1=reaper` on the kernel command line, this script execs /bin/reaper as the machine's
# PID 1 once the file systems are mounted, and reaper runs this script again as its PROGRAM: the
# suite then runs under reaper as the kernel's init (every orphan of the machine is reparented to it),
# which forwards signals to this script's process group (-g).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
if [ -z "$VM_INIT_DONE" ]; then
  /bin/busybox mkdir -p /proc /sys /dev /tmp /run /usr/bin /sbin /usr/sbin
  /bin/busybox --install -s
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
  mount -t tmpfs tmpfs /tmp
  mount -t tmpfs tmpfs /run
  ip link set lo up
  echo "VMTEST boot kernel=$(uname -r) machine=$(uname -m)"
  export VM_INIT_DONE=1
  if grep -qw 'vm.pid1=reaper' /proc/cmdline; then
    exec /bin/reaper -g -- /bin/sh /init
  fi
fi
# Under reaper -g, signals sent to PID 1 reach this shell's whole group: the suite traps them; this
# shell only must not die of them.
trap : USR1 USR2
/bin/sh /suite.sh
echo "VMTEST suite-exit $?"
echo "VMTEST uptime $(cut -d' ' -f1 /proc/uptime)"
echo "VMTEST done"
sync
poweroff -f
# poweroff -f returns only when it failed; as PID 1 this shell must not exit (that panics the kernel).
while :; do sleep 1; done
