#!/usr/bin/env bash
# Every finding tshark with the plugin shows on every capture in the
# repository, one line per frame: capture, frame, rules, related frames,
# finding sentences (occurrences joined by 0x1f). For comparing the findings
# before and after a change:
#
#   scripts/findings.sh OUT [PLUGIN.so]      # dump (default: target/release/libsmbdiag.so)
#   diff -r BEFORE AFTER                     # one file per capture
#
# tshark runs as nobody with a scratch HOME when run as root (root ignores
# personal plugins), as tests/common/mod.rs does.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/findings.sh OUT [PLUGIN.so]}
SO=${2:-target/release/libsmbdiag.so}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HOMEDIR=$(mktemp -d /tmp/smbdiag-findings.XXXXXX)
trap 'rm -rf "$HOMEDIR"' EXIT
VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
mkdir -p "$HOMEDIR/.local/lib/wireshark/plugins/$VER/epan" "$HOMEDIR/no-global" "$HOMEDIR/caps"
cp "$SO" "$HOMEDIR/.local/lib/wireshark/plugins/$VER/epan/smbdiag.so"
chmod -R a+rwX "$HOMEDIR"
run_tshark() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$HOMEDIR" WIRESHARK_PLUGIN_DIR="$HOMEDIR/no-global" tshark "$@"
    else
        HOME="$HOMEDIR" WIRESHARK_PLUGIN_DIR="$HOMEDIR/no-global" tshark "$@"
    fi
}
find tests/captures -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort | while read -r cap; do
    name=$(echo "$cap" | sed 's|^tests/captures/||; s|/|__|g')
    cp "$cap" "$HOMEDIR/caps/$name"; chmod a+r "$HOMEDIR/caps/$name"
    run_tshark -r "$HOMEDIR/caps/$name" -Y smbdiag.rule -T fields -E separator=/t -E occurrence=a \
        -E aggregator=$'\x1f' -E quote=n -e frame.number -e smbdiag.rule -e smbdiag.related_frame \
        -e smbdiag.finding >"$OUT/$name.txt" 2>"$OUT/$name.err" || echo "tshark failed on $cap" >&2
    [ -s "$OUT/$name.err" ] || rm -f "$OUT/$name.err"
    rm -f "$HOMEDIR/caps/$name"
done
echo "$(ls "$OUT"/*.txt | wc -l) captures, $(cat "$OUT"/*.txt | wc -l) frames with findings in $OUT"
