#!/usr/bin/env bash
# Builds the Debian package of smbdiag for the Wireshark this machine has
# (the one pkg-config finds), through the CMake install rules:
#   target/debian/smbdiag_<version>+ws<major.minor>_<arch>.deb
# It installs the plugin into Wireshark's global plugin folder and the
# profile into the global profiles folder, and depends on the exact
# libwireshark package (soname) and its major.minor, so apt refuses it on
# any other Wireshark.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
ws="$(pkg-config --modversion wireshark)"
mm="$(echo "$ws" | cut -d. -f1,2)"
next="$(echo "$mm" | awk -F. '{ printf "%d.%d", $1, $2 + 1 }')"
plugindir="$(pkg-config --variable=plugindir wireshark)/epan"
profiledir="$(pkg-config --variable=prefix wireshark)/share/wireshark/profiles/smbdiag"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)+ws$mm"
arch="$(dpkg --print-architecture)"

# The Debian packages holding the libraries the plugin links (libwiresharkNN, libwsutilNN).
libdir="$(pkg-config --variable=libdir wireshark)"
pkg_of() { dpkg-query -S "$(readlink -f "$libdir/$1")" | cut -d: -f1; }
libws="$(pkg_of libwireshark.so)"
libwsutil="$(pkg_of libwsutil.so)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake -S . -B "$tmp/build" -DSMBDIAG_PLUGIN_DIR="$plugindir" -DSMBDIAG_PROFILE_DIR="$profiledir" >/dev/null
cmake --build "$tmp/build" >/dev/null
DESTDIR="$tmp/root" cmake --install "$tmp/build" >/dev/null
# The build keeps debug info for backtraces; the package does not need it.
strip --strip-debug "$tmp/root$plugindir/smbdiag.so"
mkdir -p "$tmp/root/DEBIAN"
cat >"$tmp/root/DEBIAN/control" <<CONTROL
Package: smbdiag
Version: $version
Architecture: $arch
Maintainer: smbdiag developers <smbdiag@invalid>
Depends: $libws (>= $mm.0), $libws (<< $next~), $libwsutil
Section: net
Priority: optional
Description: Wireshark $mm plugin that diagnoses SMB2/3 problems
 smbdiag adds findings (expert items and smbdiag.* fields) that explain SMB2/3
 failures in captures. Built for Wireshark $mm only: the plugin goes into
 $plugindir, the profile into $profiledir
 (start Wireshark with -C smbdiag).
CONTROL
mkdir -p target/debian
out="target/debian/smbdiag_${version}_${arch}.deb"
rm -f target/debian/smbdiag_*.deb
dpkg-deb --root-owner-group --build "$tmp/root" "$out" >/dev/null
echo "$out: Depends: $libws ($mm.x), $libwsutil"
