#!/usr/bin/env bash
# Builds the Debian package from a fresh Release build and checks it with lintian.
#   packaging/build-deb.sh [CMAKE_ARGS...]        e.g. -DSMSR_PACKAGE_RELEASE=2
# Output: build-deb/sms-router_<version>-<release>_<arch>.deb (OUT_DIR overrides
# build-deb/); the CMake tree is OUT_DIR/cmake and is removed first.
# Exits non-zero if the build fails or lintian reports an error.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="$(realpath -m "${OUT_DIR:-build-deb}")"

# 1. What is missing: the build dependencies, then the packaging tools
#    (dpkg-shlibdeps is in dpkg-dev; CPack needs `file` to find the binaries).
scripts/install-deps.sh dpkg-dev file lintian

# 2. A fresh Release build with Debian's hardening flags, without tests or benchmarks.
rm -rf "$out_dir/cmake"
rm -f "$out_dir"/sms-router_*.deb
mkdir -p "$out_dir"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CXXFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" \
LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
  cmake -S . -B "$out_dir/cmake" -DCMAKE_BUILD_TYPE=Release \
    -DSMSR_BUILD_TESTS=OFF -DSMSR_BUILD_BENCH=OFF -DSMSR_BUILD_PACKAGE=ON "$@" >/dev/null
cmake --build "$out_dir/cmake" -j"$(nproc)"

# 3. The package.
(cd "$out_dir/cmake" && cpack -G DEB >/dev/null)
mv "$out_dir"/cmake/sms-router_*.deb "$out_dir"/
deb="$(ls "$out_dir"/sms-router_*.deb)"
echo "built: $deb"
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"

# 4. The unit, when systemd-analyze is installed. verify insists that ExecStart's binary
#    and the Documentation= man page exist, and the package is not installed yet: check
#    a copy whose ExecStart points at the binary just built, with the man page on MANPATH.
if command -v systemd-analyze >/dev/null; then
  check_dir="$out_dir/verify"
  rm -rf "$check_dir"
  mkdir -p "$check_dir/man/man1"
  cp "$out_dir/cmake/packaging/sms-router.1.gz" "$check_dir/man/man1/"
  sed "s|/usr/bin/sms-router|$out_dir/cmake/sms-router|" packaging/sms-router.service \
    > "$check_dir/sms-router.service"
  MANPATH="$check_dir/man:$(manpath 2>/dev/null || true)" \
    systemd-analyze verify "$check_dir/sms-router.service"
  echo "systemd-analyze verify: OK"
  rm -rf "$check_dir"
fi

# 5. lintian. Warnings that stay are explained in packaging/README.md.
lintian --fail-on error "$deb"
echo "lintian: no errors"
