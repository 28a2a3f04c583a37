#!/usr/bin/env bash
# Builds the Debian package from an existing build tree and checks it: lintian, control
# fields, contents (paths, owners, modes), the conffile, the unit, and, when it is safe,
# an install and a purge on this machine. scripts/test.sh runs it on the tree it built.
#
#   packaging/check-deb.sh [BUILD_DIR]      default: build/ (the tree scripts/build.sh makes)
#   packaging/check-deb.sh --deb FILE.deb   check a package built elsewhere (build-deb.sh)
#
# The package is built with `cpack` in BUILD_DIR (output: BUILD_DIR/deb-check/). That tree
# is compiled with the project's flags, not the Release + dpkg-buildflags hardening of
# build-deb.sh, which is what a release ships; the package's files, metadata and scripts
# are the same.
#
# Install test: `dpkg -i`, owners and modes, `check-config` as the service user, then
# `dpkg --purge`; only as root, and only when there is no sms-router package (in any
# state), /usr/bin/sms-router, /etc/sms-router or /var/lib/sms-router, because purge
# deletes those directories. A sms-router user or group created by the install is deleted
# again afterwards (purge keeps them). SKIP_INSTALL_TEST=1 skips it.
#
# Exit status: 0 when every check passed, 1 otherwise (each failure is printed).
set -euo pipefail

deb=""
build_dir=""
case "${1:-}" in
  --deb) deb="$(realpath "${2:?--deb needs a file}")" ;;
  -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
  "") ;;
  *) build_dir="$(realpath "$1")" ;;
esac
cd "$(dirname "$0")/.."
if [ -z "$deb" ] && [ -z "$build_dir" ]; then build_dir="$(pwd)/build"; fi

failures=0
fail() { echo "check-deb: FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "check-deb: ok: $*"; }
expect_eq() {  # WHAT ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then ok "$1: $2"; else fail "$1: got '$2', expected '$3'"; fi
}

# 1. Tools: dpkg-shlibdeps (dpkg-dev) and `file` for CPack, lintian; adduser for the
#    install test (the package depends on it); systemd-analyze (systemd) and man-db for
#    `verify`, which looks up the unit's Documentation= man page.
scripts/install-deps.sh dpkg-dev file lintian adduser systemd man-db

# Leaves the machine as it was: the package purged (if a check stopped the script
# half-way) and the user and group gone if the install created them (purge keeps them,
# as is Debian practice).
attempted=0 installed=0 had_user=0 had_group=0
undo_install() {
  if [ "$attempted" = 0 ]; then return 0; fi
  if [ "$installed" = 1 ]; then dpkg --purge sms-router >/dev/null 2>&1 || true; installed=0; fi
  if [ "$had_user" = 0 ] && getent passwd sms-router >/dev/null; then userdel sms-router; fi
  if [ "$had_group" = 0 ] && getent group sms-router >/dev/null; then groupdel sms-router; fi
  attempted=0
}
work=""
trap 'undo_install; if [ -n "$work" ]; then rm -rf "$work"; fi' EXIT

# 2. The package.
if [ -z "$deb" ]; then
  if [ ! -f "$build_dir/CPackConfig.cmake" ]; then
    echo "check-deb: $build_dir is not a configured build tree with packaging (SMSR_BUILD_PACKAGE=ON)" >&2
    exit 1
  fi
  out_dir="$build_dir/deb-check"
  rm -rf "$out_dir"
  mkdir -p "$out_dir"
  (cd "$build_dir" && cpack -G DEB -B "$out_dir" >/dev/null)
  deb="$(ls "$out_dir"/sms-router_*.deb)"
  work="$out_dir/work"
else
  work="$(mktemp -d)"
fi
echo "check-deb: checking $deb"
rm -rf "$work"
mkdir -p "$work"

# 3. lintian: no errors. The warnings that stay are explained in packaging/README.md.
if lintian --fail-on error "$deb"; then ok "lintian: no errors"; else fail "lintian reported errors"; fi

# 4. Control fields.
field() { dpkg-deb --field "$deb" "$1"; }
project_version="$(sed -n 's/^project(sms-router VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
expect_eq "Package" "$(field Package)" "sms-router"
version="$(field Version)"
if [[ "$version" == "$project_version"-* ]]; then ok "Version: $version"; else
  fail "Version: got '$version', expected $project_version-<release>"; fi
expect_eq "Architecture" "$(field Architecture)" "$(dpkg --print-architecture)"
expect_eq "Section" "$(field Section)" "net"
expect_eq "Priority" "$(field Priority)" "optional"
[ -n "$(field Maintainer)" ] && ok "Maintainer: $(field Maintainer)" || fail "no Maintainer"
depends="$(field Depends)"
echo "check-deb: Depends: $depends"
# adduser by hand, the libraries from dpkg-shlibdeps.
dep_names="$(sed 's/ *([^)]*)//g; s/ *[,|] */\n/g' <<<"$depends")"
for dep in adduser libc6 libstdc++6 libsqlite3-0 libssl3 libsystemd0; do
  if grep -qxF "$dep" <<<"$dep_names"; then ok "Depends names $dep"; else fail "Depends lacks $dep"; fi
done

# 5. Contents: exactly these files, with these owners and modes (packaging/README.md).
#    /var/lib/sms-router is not in the package (postinst and StateDirectory= make it).
expected_files="$(cat <<'LIST'
./etc/sms-router/config.json -rw-r----- root/root
./lib/systemd/system/sms-router.service -rw-r--r-- root/root
./usr/bin/sms-router -rwxr-xr-x root/root
./usr/share/doc/sms-router/README.Debian -rw-r--r-- root/root
./usr/share/doc/sms-router/changelog.Debian.gz -rw-r--r-- root/root
./usr/share/doc/sms-router/copyright -rw-r--r-- root/root
./usr/share/man/man1/sms-router.1.gz -rw-r--r-- root/root
LIST
)"
contents="$(dpkg-deb --contents "$deb")"
actual_files="$(awk '$1 !~ /^d/ {print $6, $1, $2}' <<<"$contents" | LC_ALL=C sort)"
if [ "$actual_files" = "$expected_files" ]; then ok "files, owners and modes as intended"; else
  fail "files, owners or modes differ from the intended list:"
  diff <(echo "$expected_files") <(echo "$actual_files") >&2 || true
fi
bad_dirs="$(awk '$1 ~ /^d/ && ($1 != "drwxr-xr-x" || $2 != "root/root")' <<<"$contents")"
[ -z "$bad_dirs" ] && ok "directories root/root 0755" || fail "directories not root/root 0755: $bad_dirs"

dpkg-deb -x "$deb" "$work/root"
dpkg-deb -e "$deb" "$work/control"
expect_eq "conffiles" "$(cat "$work/control/conffiles")" "/etc/sms-router/config.json"
for script in postinst prerm postrm; do
  if [ -x "$work/control/$script" ]; then ok "$script present, executable"
  else fail "$script missing or not executable"; fi
done
cmp -s "$work/root/etc/sms-router/config.json" packaging/config.json \
  && ok "config.json is packaging/config.json" || fail "config.json differs from packaging/config.json"
cmp -s "$work/root/lib/systemd/system/sms-router.service" packaging/sms-router.service \
  && ok "the unit is packaging/sms-router.service" || fail "the unit differs from packaging/sms-router.service"
if zcat "$work/root/usr/share/man/man1/sms-router.1.gz" | grep -q '^\.TH'; then ok "man page is gzipped roff"
else fail "man page is not a gzipped roff page"; fi
binary="$work/root/usr/bin/sms-router"
file_type="$(file -b "$binary")"
[[ "$file_type" == *ELF*", stripped"* ]] && ok "binary is a stripped ELF" || fail "binary: $file_type"
expect_eq "sms-router version" "$("$binary" version)" "sms-router $project_version"

# 6. The unit, as build-deb.sh checks it: verify needs ExecStart's binary and the man page.
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/sms-router|$binary|" packaging/sms-router.service > "$work/sms-router.service"
  if verify_out="$(MANPATH="$work/root/usr/share/man:$(manpath 2>/dev/null || true)" \
                   systemd-analyze verify "$work/sms-router.service" 2>&1)" && [ -z "$verify_out" ]; then
    ok "systemd-analyze verify"
  else
    fail "systemd-analyze verify: $verify_out"
  fi
fi

# 7. Install and purge on this machine, when that is safe and can be undone.
install_test() {
  if [ "${SKIP_INSTALL_TEST:-0}" = 1 ]; then
    echo "check-deb: SKIP install test: SKIP_INSTALL_TEST=1"; return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "check-deb: SKIP install test: needs root (dpkg -i, dpkg --purge)"; return 0
  fi
  local state
  state="$(dpkg-query -W -f='${db:Status-Abbrev}' sms-router 2>/dev/null || true)"
  if [ -n "$state" ] && [ "${state:1:1}" != "n" ]; then
    echo "check-deb: SKIP install test: the sms-router package is on this machine (state '$state')"; return 0
  fi
  local d
  for d in /etc/sms-router /var/lib/sms-router /usr/bin/sms-router; do
    if [ -e "$d" ]; then echo "check-deb: SKIP install test: $d exists (purge would delete it)"; return 0; fi
  done
  getent passwd sms-router >/dev/null && had_user=1
  getent group sms-router >/dev/null && had_group=1

  attempted=1 installed=1
  if dpkg -i "$deb" >"$work/dpkg-install.log" 2>&1; then ok "dpkg -i"; else
    cat "$work/dpkg-install.log" >&2; fail "dpkg -i"; fi
  expect_eq "installed state" "$(dpkg-query -W -f='${Status}' sms-router 2>/dev/null)" "install ok installed"
  local conffiles
  conffiles="$(dpkg-query -W -f='${Conffiles}\n' sms-router | sed 's/^ //')"
  grep -qx "/etc/sms-router/config.json [0-9a-f]*" <<<"$conffiles" \
    && ok "dpkg lists the conffile" || fail "dpkg does not list /etc/sms-router/config.json as a conffile"
  expect_eq "service user" "$(getent passwd sms-router | cut -d: -f6,7)" "/var/lib/sms-router:/usr/sbin/nologin"
  expect_eq "/usr/bin/sms-router" "$(stat -c '%U:%G %a' /usr/bin/sms-router 2>&1)" "root:root 755"
  expect_eq "/etc/sms-router/config.json" "$(stat -c '%U:%G %a' /etc/sms-router/config.json 2>&1)" \
    "root:sms-router 640"
  expect_eq "/var/lib/sms-router" "$(stat -c '%U:%G %a' /var/lib/sms-router 2>&1)" "sms-router:sms-router 750"
  # The service user can read the configuration: without a token it is refused (exit 2)...
  local status=0
  runuser -u sms-router -- /usr/bin/sms-router check-config --config /etc/sms-router/config.json \
    >/dev/null 2>"$work/check-config.err" || status=$?
  if [ "$status" = 2 ] && grep -q "twilio.auth_token is not set" "$work/check-config.err"; then
    ok "check-config as sms-router: exit 2, token not set"
  else
    fail "check-config as sms-router: exit $status: $(cat "$work/check-config.err")"
  fi
  # ...and with one it is valid.
  status=0
  runuser -u sms-router -- env SMS_ROUTER_TWILIO_AUTH_TOKEN=check-deb-token \
    /usr/bin/sms-router check-config --config /etc/sms-router/config.json >/dev/null 2>&1 || status=$?
  expect_eq "check-config as sms-router with a token: exit" "$status" "0"

  if dpkg --purge sms-router >"$work/dpkg-purge.log" 2>&1; then ok "dpkg --purge"; else
    cat "$work/dpkg-purge.log" >&2; fail "dpkg --purge"; fi
  installed=0
  for d in /etc/sms-router /var/lib/sms-router /usr/bin/sms-router /lib/systemd/system/sms-router.service; do
    [ ! -e "$d" ] && ok "purged: $d" || fail "still there after purge: $d"
  done
  local links
  links="$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled -name 'sms-router*' \
           2>/dev/null || true)"
  [ -z "$links" ] && ok "no unit links left" || fail "unit links left after purge: $links"
  undo_install
}
install_test

if [ "$failures" -gt 0 ]; then
  echo "check-deb: $failures check(s) failed" >&2
  exit 1
fi
echo "check-deb: all checks passed"
