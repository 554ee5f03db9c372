# shellcheck shell=dash
# Suite: a cgroup-v2-only x86_64 node (Debian's amd64 kernel, cgroup_no_v1=all, reaper as the
# machine's PID 1): the zombies scan, `zombies serve` in accounting (auto) and full mode against zombies
# in a pod cgroup laid out as kubelet's systemd driver does, and a fork bomb at pids.max under reaper
# as a subreaper and as PID 1 of a PID namespace.
# Read by scripts/vm/test.sh:
# vm-arch: x86_64
# vm-kernel-args: vm.pid1=reaper cgroup_no_v1=all
# vm-timeout: 300
# vm-expect: cgroup2-only pod-zombies-made
# vm-expect: scan-counts scan-attributes-pod scan-check-unhealthy
# vm-expect: serve-auto-is-accounting accounting-container-zombies accounting-pod-pids accounting-node
# vm-expect: serve-full-mode full-container-zombies serve-sigterm
# vm-expect: zombies-reaped-by-pid1 accounting-after-reap
# vm-expect: bomb-subreaper-exit bomb-subreaper-hit-limit bomb-subreaper-cgroup-empty bomb-subreaper-no-zombies
# vm-expect: bomb-pidns-exit bomb-pidns-hit-limit bomb-pidns-cgroup-empty bomb-pidns-no-zombies
# shellcheck source=scripts/vm/guest/lib.sh disable=SC2086
. /lib/vm/lib.sh

cg=/sys/fs/cgroup
mount -t cgroup2 cgroup2 $cg
# No v1 hierarchy mounted, and every controller on the v2 hierarchy (hierarchy id 0 in /proc/cgroups).
v1=$(grep -c ' cgroup ' /proc/mounts)
on_v1=$(awk '!/^#/ && $2 != 0 { print $1 }' /proc/cgroups)
if grep -qw pids $cg/cgroup.controllers && [ "$v1" = 0 ] && [ -z "$on_v1" ]; then
  ok cgroup2-only "controllers=$(tr ' ' , <$cg/cgroup.controllers)"
else
  fail cgroup2-only "controllers=$(cat $cg/cgroup.controllers) v1-mounts=$v1 on-v1=$on_v1"
fi
echo +pids >$cg/cgroup.subtree_control

# --- A pod cgroup as kubelet's systemd driver lays it out, its log directories, and a container
# process that never waits for its 3 children.
uid=0b5c5e4e-2f0b-4c44-9d2c-3d1b0e0f4a11
id=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
pod=$cg/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(echo $uid | tr - _).slice
ctr=$pod/cri-containerd-$id.scope
mkdir -p $ctr
for d in $cg/kubepods.slice $cg/kubepods.slice/kubepods-burstable.slice $pod; do echo +pids >$d/cgroup.subtree_control; done
echo 50 >$pod/pids.max
mkdir -p /var/log/pods/shop_cart-7d9f_$uid/app /var/log/containers
: >/var/log/containers/cart-7d9f_shop_app-$id.log
sh -c "echo \$\$ >$ctr/cgroup.procs && { sleep 0 & sleep 0 & sleep 0 & exec sleep 1000; }" </dev/null >/dev/null 2>&1 &
leaker=$!
kids=""
three_zombies() {
  local k
  kids=$(cat /proc/$leaker/task/$leaker/children 2>/dev/null)
  [ "$(echo $kids | wc -w)" = 3 ] || return 1
  for k in $kids; do [ "$(state_of $k)" = Z ] || return 1; done
}
if wait_until 30 three_zombies; then ok pod-zombies-made "parent=$leaker zombies=$(echo "$kids" | tr -s " \n" "  ")"; else fail pod-zombies-made "children of $leaker: $kids"; fi

# --- The scan (zombies --json).
zombies --json >/tmp/z.json 2>/tmp/z.err
st=$?
missing=""
for k in $kids; do grep -q "\"pid\": $k," /tmp/z.json || missing="$missing $k"; done
if [ "$st" = 0 ] && grep -q '^  "zombie_count": 3,' /tmp/z.json && grep -q "\"pid\": $leaker," /tmp/z.json && [ -z "$missing" ]; then
  ok scan-counts "zombies=3 parent=$leaker"
else
  fail scan-counts "status=$st $(grep -m1 '"zombie_count"' /tmp/z.json) missing:$missing $(head -c 300 /tmp/z.err)"
fi
want_json='"container_id": "'$id'"|"pod_uid": "'$uid'"|"qos": "burstable"|"driver": "systemd"|"runtime": "containerd"|"namespace": "shop"|"name": "cart-7d9f"'
missing=""
IFS_save=$IFS
IFS='|'
for w in $want_json; do grep -qF "$w" /tmp/z.json || missing="$missing [$w]"; done
IFS=$IFS_save
if [ -z "$missing" ]; then ok scan-attributes-pod "pod shop/cart-7d9f container $id"; else fail scan-attributes-pod "missing:$missing"; fi
expect_status scan-check-unhealthy 1 zombies check --max-zombies 2

# --- zombies serve: scrape /metrics with busybox wget.
scrape() { # scrape PORT FILE: polls until the agent answers (busybox wget's own -T crashes here)
  wait_until 30 timeout 10 wget -q -O "$2" "http://127.0.0.1:$1/metrics"
}
has() { grep -qxF "$1" "$2"; }
zombies serve --listen 127.0.0.1:9942 >/tmp/serve.log 2>&1 &
agent=$!
ctr_series='{namespace="shop",pod="cart-7d9f",container="app"}'
pod_series='{namespace="shop",pod="cart-7d9f"}'
if scrape 9942 /tmp/m1 && has 'zombies_scrape_mode{mode="accounting"} 1' /tmp/m1; then
  ok serve-auto-is-accounting
else
  fail serve-auto-is-accounting "$(grep '^zombies_scrape_mode' /tmp/m1 | tr '\n' ' ') $(head -c 300 /tmp/serve.log)"
fi
if has "zombies_zombie_processes$ctr_series 3" /tmp/m1 && has "zombies_observed_total$ctr_series 3" /tmp/m1; then
  ok accounting-container-zombies "shop/cart-7d9f/app=3"
else
  fail accounting-container-zombies "$(grep -E '^zombies_(zombie_processes|observed_total)' /tmp/m1 | tr '\n' ' ')"
fi
if has "zombies_pod_pids_current$pod_series 4" /tmp/m1 && has "zombies_pod_pids_max$pod_series 50" /tmp/m1; then
  ok accounting-pod-pids "current=4 max=50"
else
  fail accounting-pod-pids "$(grep -E '^zombies_pod_pids' /tmp/m1 | tr '\n' ' ')"
fi
if has 'zombies_zombie_processes{namespace="",pod="",container=""} 0' /tmp/m1 && grep -q '^zombies_node_tasks [1-9]' /tmp/m1 && grep -q '^zombies_scanned_cgroups [1-9]' /tmp/m1; then
  ok accounting-node "$(grep -E '^zombies_(node_tasks|scanned_cgroups) ' /tmp/m1 | tr '\n' ' ')"
else
  fail accounting-node "$(grep -E '^zombies_(zombie_processes|node_tasks|scanned_cgroups)' /tmp/m1 | tr '\n' ' ')"
fi

zombies serve --scan full --listen 127.0.0.1:9943 >/tmp/serve-full.log 2>&1 &
full=$!
if scrape 9943 /tmp/m2 && has 'zombies_scrape_mode{mode="full"} 1' /tmp/m2; then ok serve-full-mode; else fail serve-full-mode "$(grep '^zombies_scrape_mode' /tmp/m2 | tr '\n' ' ') $(head -c 300 /tmp/serve-full.log)"; fi
if has "zombies_zombie_processes$ctr_series 3" /tmp/m2; then ok full-container-zombies "shop/cart-7d9f/app=3"; else fail full-container-zombies "$(grep '^zombies_zombie_processes' /tmp/m2 | tr '\n' ' ')"; fi
kill -TERM $full
wait $full
st=$?
if [ "$st" = 0 ]; then ok serve-sigterm "status=0"; else fail serve-sigterm "status=$st $(head -c 300 /tmp/serve-full.log)"; fi

# The parent dies: its zombies go to PID 1 (reaper), which reaps them; the accounting sees 0 and the
# counter keeps what it observed.
kill $leaker
wait $leaker 2>/dev/null
if wait_until 30 gone $kids; then ok zombies-reaped-by-pid1; else fail zombies-reaped-by-pid1 "left: $kids"; fi
if scrape 9942 /tmp/m3 && has "zombies_zombie_processes$ctr_series 0" /tmp/m3 && has "zombies_observed_total$ctr_series 3" /tmp/m3; then
  ok accounting-after-reap
else
  fail accounting-after-reap "$(grep -E "^zombies_(zombie_processes|observed_total)" /tmp/m3 | tr '\n' ' ')"
fi
kill -TERM $agent
wait $agent

# --- A fork bomb at pids.max=64 under reaper: PROGRAM starts the bomb, exits 0 after 3 s; reaper
# drains the cgroup (SIGTERM, 1 s grace, SIGKILL rounds) and exits 0. Nothing may be left: no process
# in the cgroup, no zombie on the node.
cat >/tmp/bomb.sh <<'BOMB'
sleep 3 &
t=$!
b() { while :; do b & done; }
(b) >/dev/null 2>&1 &
wait $t
exit 0
BOMB
cgroup_empty() { [ "$(cat "$1/pids.current")" = 0 ]; }
for mode in subreaper pidns; do
  bomb=$cg/bomb-$mode
  mkdir $bomb
  echo 64 >$bomb/pids.max
  if [ "$mode" = pidns ]; then run="unshare -p -f --mount-proc reaper"; else run=reaper; fi
  t0=$(date +%s)
  timeout 180 sh -c "echo \$\$ >$bomb/cgroup.procs && exec $run -t 1s -- sh /tmp/bomb.sh" </dev/null >/tmp/bomb.out 2>&1
  st=$?
  t1=$(date +%s)
  if [ "$st" = 0 ]; then ok bomb-$mode-exit "status=0 seconds=$((t1 - t0))"; else fail bomb-$mode-exit "status=$st seconds=$((t1 - t0)) $(tail -c 300 /tmp/bomb.out | tr '\n' '|')"; fi
  hits=$(sed -n 's/^max //p' $bomb/pids.events)
  if [ "${hits:-0}" -gt 0 ]; then ok bomb-$mode-hit-limit "refused-forks=$hits"; else fail bomb-$mode-hit-limit "pids.events: $(cat $bomb/pids.events)"; fi
  if wait_until 30 cgroup_empty "$bomb"; then ok bomb-$mode-cgroup-empty; else fail bomb-$mode-cgroup-empty "pids.current=$(cat $bomb/pids.current) procs=$(cat $bomb/cgroup.procs | tr '\n' ' ')"; fi
  if wait_until 30 no_zombies; then ok bomb-$mode-no-zombies "zombies=0"; else fail bomb-$mode-no-zombies "zombies=$(zombie_count)"; fi
done
