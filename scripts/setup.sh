#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install the packages, build the
# plugin, install it, and run tshark with it on a bundled capture.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
    bash scripts/deps.sh
else
    sudo bash scripts/deps.sh
fi
cargo build --release
ver="$(pkg-config --modversion wireshark | cut -d. -f1,2)"
cap="tests/captures/public/smb2_100_small_files.pcap"
fields=(-T fields -e frame.number -e smbdiag.cmd -e smbdiag.status -e smbdiag.tree -e smbdiag.file -e smbdiag.response_time -e smbdiag.rule)
if [ "$(id -u)" = 0 ]; then
    # Root's tshark ignores personal plugins: install globally, and show it
    # working through an unprivileged user as well.
    dest="$(pkg-config --variable=plugindir wireshark)/epan"
    install -D -m 0755 target/release/libsmbdiag.so "$dest/smbdiag.so"
    echo "installed $dest/smbdiag.so (global plugin folder: running as root)"
    tshark -r "$cap" -Y smbdiag "${fields[@]}" | head -40
else
    dest="$HOME/.local/lib/wireshark/plugins/$ver/epan"
    install -D -m 0755 target/release/libsmbdiag.so "$dest/smbdiag.so"
    echo "installed $dest/smbdiag.so (personal plugin folder)"
    tshark -r "$cap" -Y smbdiag "${fields[@]}" | head -40
fi
tshark -G plugins | grep smbdiag
