#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install the packages, build the
# plugin, install it, and run tshark with it on a bundled capture.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
    bash scripts/deps.sh
else
    sudo bash scripts/deps.sh
fi
cargo build --release
ver="$(pkg-config --modversion wireshark | cut -d. -f1,2)"
if [ "$(id -u)" = 0 ]; then
    # Root's tshark ignores personal plugins: install in the global folders.
    dest="$(pkg-config --variable=plugindir wireshark)/epan"
    profiles="$(pkg-config --variable=prefix wireshark)/share/wireshark/profiles"
    where="global plugin folder: running as root"
else
    dest="$HOME/.local/lib/wireshark/plugins/$ver/epan"
    profiles="$HOME/.config/wireshark/profiles"
    where="personal plugin folder"
fi
install -D -m 0755 target/release/libsmbdiag.so "$dest/smbdiag.so"
mkdir -p "$profiles" && cp -r profiles/smbdiag "$profiles/"
echo "installed $dest/smbdiag.so ($where) and the profile in $profiles/smbdiag"
tshark -G plugins | grep smbdiag
# The main job: the seed article's cases, diagnosed from bundled lab captures.
for cap in share_not_found port_blocked smb2_disabled_rst small_files_loss; do
    echo
    echo "=== tests/captures/lab/$cap.pcap"
    tshark -r "tests/captures/lab/$cap.pcap" -Y 'smbdiag.rule && !(smbdiag.rule matches "^security")' \
        -T fields -E occurrence=f -e frame.number -e smbdiag.rule -e smbdiag.finding | cut -c1-400
done
echo
tshark -r tests/captures/lab/small_files_loss.pcap -q -z smbdiag,summary
