#!/usr/bin/env bash
# Starts the packaged unit under a real systemd: boots a minimal Debian 12 container with
# systemd-nspawn, installs the .deb in it while systemd runs (so postinst's start is tried),
# then drives sms-router.service with systemctl and checks what systemd and the service say.
#
#   packaging/boot-test.sh [path/to/sms-router_VERSION_amd64.deb]
#
# Without an argument the newest .deb in $OUT_DIR (default build-deb/) is used, and
# packaging/build-deb.sh is run first if there is none. Needs root; installs
# systemd-container and debootstrap when missing. Nothing is installed on this machine
# besides those two packages: the service runs only inside the container.
#
# Environment:
#   WORK_DIR  scratch directory (default build-boot-test/): debian-12/ is the debootstrap'ed
#             tree, kept and reused by later runs (delete it to refresh); run/ is this run's
#             copy, removed at the end
#   MIRROR    Debian mirror for debootstrap (default: the one apt uses for bookworm main)
#   KEEP=1    keep run/ after the run, for a look inside (the logs in WORK_DIR always stay)
#
# Checks, in order: install in the booted system (postinst enables the unit and tries to
# start it, which fails with exit status 2 and no restart because no token is set); start
# with the token as a LoadCredential= credential (active, StatusText, WatchdogUSec, the
# service user, SCHED_BATCH allowed, READY=1 and WATCHDOG=1 notifications); GET
# /sms-router/health, an unsigned webhook (403) and a signed one (`sms-router simulate`);
# reload (RELOADING=1, then READY=1, same MainPID); watchdog pings with WatchdogSec=3 for
# 8 s (no restart); stop (STOPPING=1, exit status 0); `apt-get remove` stops a running
# service. The container has its own network namespace with only loopback, so port 8000 on
# this machine is not used.
# Every wait has a time limit. Prints "N passed, N failed" and exits 1 if any check failed,
# or 77 when this machine cannot run the test at all (not root, no Debian tree could be
# made, or the container did not boot: no nspawn-capable kernel or cgroups).
set -euo pipefail
cd "$(dirname "$0")/.."

cannot_run() { echo "boot-test: cannot run here: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || cannot_run "must run as root (systemd-nspawn, debootstrap)"

work_dir="$(realpath -m "${WORK_DIR:-build-boot-test}")"
base="$work_dir/debian-12"
run="$work_dir/run"
machine="smsr-boot-test"
token="boot-test-token-0123456789"
start_time=$SECONDS

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() {  # check DESCRIPTION COMMAND...: passes when COMMAND exits 0
  local what="$1"
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
contains() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
not() { ! "$@"; }
step() { printf '\n== %s (%ss)\n' "$*" "$((SECONDS - start_time))"; }

# 1. Tools.
missing=()
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v ps >/dev/null || missing+=(procps)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The package.
deb="${1:-}"
if [ -z "$deb" ]; then
  out_dir="$(realpath -m "${OUT_DIR:-build-deb}")"
  deb="$(ls -t "$out_dir"/sms-router_*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$deb" ]; then
    step "building the package (packaging/build-deb.sh)"
    timeout 3600 packaging/build-deb.sh
    deb="$(ls -t "$out_dir"/sms-router_*.deb | head -1)"
  fi
fi
deb="$(realpath "$deb")"
[ -f "$deb" ] || { echo "boot-test: no such package: $deb" >&2; exit 2; }
echo "package: $deb"

# 3. The Debian 12 tree, made once: minimal, with systemd as init and curl for the checks.
mkdir -p "$work_dir"
if [ ! -f "$base/.boot-test-complete" ]; then
  mirror="${MIRROR:-}"
  if [ -z "$mirror" ]; then
    # shellcheck disable=SC2016 # apt's own $(FIELD) syntax
    mirror="$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' 'Release: bookworm' \
      'Component: main' 2>/dev/null | head -1 || true)"
  fi
  mirror="${mirror:-http://deb.debian.org/debian/}"
  step "debootstrap bookworm from $mirror"
  rm -rf "$base"
  timeout 1200 debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,curl,procps \
    bookworm "$base" "$mirror" >"$work_dir/debootstrap.log" 2>&1 \
    || { tail -20 "$work_dir/debootstrap.log" >&2; cannot_run "debootstrap failed"; }
  # The mirror's bookworm-updates too, so that the container gets what the host has.
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" \
    >"$base/etc/apt/sources.list"
  echo "$machine" >"$base/etc/hostname"
  touch "$base/.boot-test-complete"
fi

# 4. Clean-up, also on failure or interruption: the container, this run's tree and cgroup.
nspawn_pid=""
cgroups=()
run_systemd_nspawn_existed=0
[ -d /run/systemd/nspawn ] && run_systemd_nspawn_existed=1
cleanup() {
  local rc=$?
  set +e
  if [ -n "$nspawn_pid" ] && alive "$nspawn_pid"; then
    echo "stopping the container"
    local ct
    ct="$(container_init)"
    [ -n "$ct" ] && in_ct timeout 10 systemctl --no-block poweroff >/dev/null 2>&1
    wait_gone "$nspawn_pid" 30 || { kill -TERM "$nspawn_pid"; wait_gone "$nspawn_pid" 15; } \
      || kill -KILL "$nspawn_pid"
    wait "$nspawn_pid" 2>/dev/null
  fi
  local cg
  for cg in "${cgroups[@]}"; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$cg" ] && echo "boot-test: could not remove cgroup $cg (processes left?)" >&2
  done
  rm -rf "/run/systemd/nspawn/propagate/$machine"
  if [ "$run_systemd_nspawn_existed" -eq 0 ] && [ -d /run/systemd/nspawn ]; then
    find /run/systemd/nspawn -depth -type d -empty -delete 2>/dev/null
  fi
  if [ "${KEEP:-0}" != 1 ] && [ -d "$run" ]; then
    if findmnt -rn -o TARGET | grep -q "^$run"; then
      echo "boot-test: something is still mounted under $run; not removing it" >&2
    else
      rm -rf "$run"
    fi
  fi
  echo "boot-test: $((SECONDS - start_time)) s in all"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
wait_gone() {  # wait_gone PID SECONDS
  local i
  for ((i = 0; i < $2 * 5; i++)); do alive "$1" || return 0; sleep 0.2; done
  return 1
}

# The container's systemd as this machine sees it: the descendant of systemd-nspawn that is
# PID 1 in its own PID namespace.
container_init() {
  local queue=("$nspawn_pid") p c
  while [ ${#queue[@]} -gt 0 ]; do
    p="${queue[0]}"
    queue=("${queue[@]:1}")
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
      if awk '/^NSpid:/ { exit !(NF > 2 && $NF == 1) }' "/proc/$c/status" 2>/dev/null; then
        echo "$c"
        return 0
      fi
      queue+=("$c")
    done
  done
  return 0
}

# in_ct COMMAND...: runs COMMAND inside the container, as root, with a plain environment.
ct=""
in_ct() {
  nsenter --target "$ct" --mount --uts --ipc --net --pid --cgroup --root --wd -- \
    /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= "$@"
}
show() { in_ct systemctl show -p "$1" --value sms-router.service; }
# The systemd manager's debug log has one line per sd_notify() message.
notifications() {
  in_ct journalctl -b --no-pager -o cat -u sms-router.service \
    | grep -E 'Got notification message from PID' || true
}

# systemd-nspawn puts itself and the container in cgroups below its own. systemd does not
# run on this machine, so nothing gives it a cgroup of its own: make one below this shell's,
# in each hierarchy systemd uses, and move each systemd-nspawn there before it starts.
own_cgroups() {
  local line hier path root
  while IFS= read -r line; do
    hier="${line#*:}"
    hier="${hier%%:*}"
    path="${line#*:*:}"
    case "$hier" in
      name=systemd) root=/sys/fs/cgroup/systemd ;;
      "") if [ -d /sys/fs/cgroup/unified ]; then root=/sys/fs/cgroup/unified; else root=/sys/fs/cgroup; fi ;;
      *) continue ;;
    esac
    [ -w "$root$path" ] || continue
    echo "$root${path%/}/$machine.$$"
  done </proc/self/cgroup
}
# Where systemd does run, systemd-nspawn asks it for a scope unit instead.
nspawn_flags=(--quiet --register=no --machine="$machine")
if [ ! -d /run/systemd/system ]; then
  nspawn_flags+=(--keep-unit)
  for cg in $(own_cgroups); do
    if mkdir "$cg" 2>/dev/null; then cgroups+=("$cg"); fi
  done
fi
in_own_cgroup() {  # in a subshell: move it to the cgroups above
  local cg
  for cg in "${cgroups[@]}"; do echo "$BASHPID" >"$cg/cgroup.procs" 2>/dev/null || true; done
}

# 5. This run's copy of the tree. The .deb's dependencies are downloaded now, with this
#    machine's network; the booted container has only loopback.
step "preparing the container tree"
rm -rf "$run"
cp -a --reflink=auto "$base" "$run"
mkdir -p "$run/srv/boot-test"
cp "$deb" "$run/srv/boot-test/sms-router.deb"
(
  in_own_cgroup
  exec timeout 600 systemd-nspawn "${nspawn_flags[@]}" --directory="$run" --resolv-conf=copy-host --pipe /bin/sh -ec '
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --download-only \
      /srv/boot-test/sms-router.deb >/dev/null
    rm -f /etc/resolv.conf' </dev/null 2>&1
) | { grep -v 'Attempted to remove disk file system' || true; }

# 6. Boot.
step "booting the container"
(
  in_own_cgroup
  # The outer limit ends the container even if this script is killed.
  exec timeout --kill-after=30 1200 systemd-nspawn "${nspawn_flags[@]}" \
    --directory="$run" --private-network --boot --console=read-only \
    >"$work_dir/console.log" 2>&1
) </dev/null &
nspawn_pid=$!

deadline=$((SECONDS + 120))
state=""
while [ $SECONDS -lt $deadline ]; do
  kill -0 "$nspawn_pid" 2>/dev/null || break
  ct="$(container_init)"
  if [ -n "$ct" ]; then
    state="$(in_ct timeout 10 systemctl is-system-running 2>/dev/null || true)"
    case "$state" in running | degraded) break ;; esac
  fi
  sleep 1
done
echo "container PID 1 is PID ${ct:-none} here; is-system-running: ${state:-no answer}"
if [ "$state" != running ] && [ "$state" != degraded ]; then
  tail -30 "$work_dir/console.log" >&2
  cannot_run "the container did not boot within 120 s"
fi
ok "the container booted (systemd $(in_ct systemctl --version | head -1 | awk '{print $2}'), $state)"
[ "$state" = degraded ] && in_ct systemctl --failed --no-pager
# Debug level for the manager only: it logs each notification the service sends.
in_ct systemctl log-level debug

# 7. Install while systemd runs: postinst enables the unit and tries to start it.
step "apt-get install ./sms-router.deb in the booted container"
if in_ct timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  /srv/boot-test/sms-router.deb >"$work_dir/install.log" 2>&1; then
  ok "the package installed with systemd running"
else
  bad "the package installed with systemd running"
  tail -20 "$work_dir/install.log"
fi
grep -iE 'sms-router|token|systemd' "$work_dir/install.log" | grep -v '^Get:\|^Unpacking\|^Selecting\|^Preparing' || true
check "the unit is enabled" test "$(in_ct systemctl is-enabled sms-router.service)" = enabled
for _ in $(seq 1 30); do
  case "$(show ActiveState)" in activating | deactivating) sleep 0.5 ;; *) break ;; esac
done
echo "after install: ActiveState=$(show ActiveState) Result=$(show Result) ExecMainStatus=$(show ExecMainStatus) NRestarts=$(show NRestarts)"
check "without a token the start failed with exit status 2 and was not restarted" \
  test "$(show ActiveState)/$(show ExecMainStatus)/$(show NRestarts)" = "failed/2/0"
in_ct journalctl -b --no-pager -o cat -u sms-router.service | grep -i 'auth_token' | head -3

# 8. Start with the token as a credential, as README.Debian describes.
step "systemctl start with LoadCredential=twilio.auth_token"
in_ct sh -ec "
  install -m 0600 -o root -g root /dev/null /etc/sms-router/twilio.auth_token
  printf '%s\n' '$token' >/etc/sms-router/twilio.auth_token
  mkdir -p /etc/systemd/system/sms-router.service.d
  printf '[Service]\nLoadCredential=twilio.auth_token:/etc/sms-router/twilio.auth_token\n' \
    >/etc/systemd/system/sms-router.service.d/credential.conf
  systemctl daemon-reload
  systemctl reset-failed sms-router.service"
if in_ct timeout 60 systemctl start sms-router.service; then ok "systemctl start"; else bad "systemctl start"; fi
in_ct systemctl status --no-pager --lines=0 sms-router.service || true
main_pid="$(show MainPID)"
status_text="$(show StatusText)"
echo "is-active: $(in_ct systemctl is-active sms-router.service)"
in_ct systemctl show -p StatusText,WatchdogUSec,MainPID,NRestarts,User sms-router.service
check "is-active is active" test "$(in_ct systemctl is-active sms-router.service)" = active
check "StatusText is 'serving on 0.0.0.0:8000'" test "$status_text" = "serving on 0.0.0.0:8000"
check "WatchdogUSec is 30s" test "$(show WatchdogUSec)" = 30s
check "MainPID runs as sms-router" \
  test "$(in_ct ps -o user= -p "$main_pid" 2>/dev/null | tr -d ' ')" = sms-router
check "the unit lets the service run its threads under SCHED_BATCH" \
  contains "$(in_ct chrt -p "$main_pid" 2>&1)" "SCHED_BATCH"
check "the database is in the state directory, owned by sms-router" \
  test "$(in_ct stat -c %U:%a /var/lib/sms-router/sms-router.db 2>/dev/null)" = sms-router:600
sleep 1
notifications
check "READY=1 was sent" contains "$(notifications)" "READY=1"
check "WATCHDOG=1 was sent" contains "$(notifications)" "WATCHDOG=1"
in_ct journalctl -b --no-pager -o cat -u sms-router.service | grep -E 'serve\.ready' | tail -1

# 9. HTTP from inside the container.
step "HTTP"
health="$(in_ct curl -sS --max-time 5 -w ' HTTP %{http_code}' http://127.0.0.1:8000/sms-router/health || true)"
echo "GET /sms-router/health: $health"
check "health answers 200 with status ok" contains "$health" '"status":"ok"'
check "health answers HTTP 200" contains "$health" "HTTP 200"
code="$(in_ct curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -d 'From=%2B15551230001&Body=hi&MessageSid=SMx' \
  http://127.0.0.1:8000/sms-router/webhook/sms || true)"
echo "unsigned POST /sms-router/webhook/sms: HTTP $code"
check "an unsigned webhook is refused with 403" test "$code" = 403
in_ct runuser -u sms-router -- env SMS_ROUTER_TWILIO_AUTH_TOKEN="$token" \
  sms-router users add --phone +15145550001 --name "Boot Test" || true
if reply="$(in_ct env SMS_ROUTER_TWILIO_AUTH_TOKEN="$token" timeout 30 \
  sms-router simulate --from +15145550001 hello from the boot test 2>&1)"; then
  ok "a signed webhook is answered"
else
  bad "a signed webhook is answered"
fi
echo "signed webhook (sms-router simulate): $reply"

# 10. Reload: SIGHUP, RELOADING=1 then READY=1, same process.
step "systemctl reload"
if in_ct timeout 30 systemctl reload sms-router.service; then ok "systemctl reload"; else bad "systemctl reload"; fi
sleep 1
in_ct systemctl show -p StatusText,MainPID sms-router.service
check "StatusText after reload is 'serving; configuration reloaded'" \
  test "$(show StatusText)" = "serving; configuration reloaded"
check "MainPID unchanged by reload" test "$(show MainPID)" = "$main_pid"
notifications | grep -E 'RELOADING=1|READY=1' | tail -2
check "RELOADING=1 was sent" contains "$(notifications)" "RELOADING=1"
in_ct journalctl -b --no-pager -o cat -u sms-router.service | grep -E 'Reloading|Reloaded|config\.reloaded' | tail -3

# 11. Watchdog: with WatchdogSec=3 a service that does not ping is killed after 3 s.
step "watchdog with WatchdogSec=3 for 8 s"
in_ct sh -ec "
  printf '[Service]\nWatchdogSec=3\n' >/etc/systemd/system/sms-router.service.d/watchdog.conf
  systemctl daemon-reload"
if in_ct timeout 60 systemctl restart sms-router.service; then ok "systemctl restart"; else bad "systemctl restart"; fi
wd_pid="$(show MainPID)"
sleep 8
echo "after 8 s: ActiveState=$(show ActiveState) MainPID=$(show MainPID) (was $wd_pid) NRestarts=$(show NRestarts) WatchdogUSec=$(show WatchdogUSec)"
pings="$(notifications | grep -c "PID $wd_pid (WATCHDOG=1)" || true)"
echo "WATCHDOG=1 notifications from PID $wd_pid in 8 s: $pings"
check "at least 4 watchdog pings in 8 s" test "$pings" -ge 4
check "no watchdog timeout in 8 s" \
  test "$(show ActiveState)/$(show MainPID)/$(show NRestarts)" = "active/$wd_pid/0"
check "the journal has no watchdog timeout" \
  not contains "$(in_ct journalctl -b --no-pager -o cat -u sms-router.service)" "atchdog timeout"
in_ct sh -ec "rm /etc/systemd/system/sms-router.service.d/watchdog.conf; systemctl daemon-reload"

# 12. Stop: SIGTERM, STOPPING=1, exit status 0.
step "systemctl stop"
t0=$SECONDS
if in_ct timeout 30 systemctl stop sms-router.service; then ok "systemctl stop"; else bad "systemctl stop"; fi
echo "stopped in $((SECONDS - t0)) s: ActiveState=$(show ActiveState) Result=$(show Result) ExecMainCode=$(show ExecMainCode) ExecMainStatus=$(show ExecMainStatus)"
check "clean exit: inactive, Result=success, exit status 0" \
  test "$(show ActiveState)/$(show Result)/$(show ExecMainStatus)" = "inactive/success/0"
notifications | grep -E 'STOPPING=1' | tail -1
check "STOPPING=1 was sent" contains "$(notifications)" "STOPPING=1"
in_ct journalctl -b --no-pager -o cat -u sms-router.service | grep -E 'serve\.stopping|serve\.stopped|Deactivated|Stopped' | tail -4

# 13. Removing the package stops a running service (prerm).
step "apt-get remove with the service running"
in_ct timeout 60 systemctl start sms-router.service || true
if in_ct timeout 120 env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q sms-router \
  >"$work_dir/remove.log" 2>&1; then
  ok "apt-get remove"
else
  bad "apt-get remove"
  tail -10 "$work_dir/remove.log"
fi
check "the service was stopped by remove" test "$(in_ct systemctl is-active sms-router.service || true)" != active

step "the service's journal"
in_ct journalctl -b --no-pager -o short-precise -u sms-router.service \
  | grep -E 'Starting|Started|Reloading|Reloaded|Stopping|Stopped|Deactivated|Main process exited|Failed with result|atchdog|serve\.|config\.|auth_token|notification message' \
  | grep -v 'WATCHDOG=1' || true

step "powering off the container"
in_ct systemctl --no-block poweroff >/dev/null 2>&1 || true
if wait_gone "$nspawn_pid" 60; then
  if wait "$nspawn_pid"; then ok "the container powered off cleanly"; else bad "the container powered off cleanly"; fi
else
  bad "the container powered off within 60 s"
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
