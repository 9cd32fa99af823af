#!/usr/bin/env bash
# tshark with the plugin under valgrind (memcheck) over the lab captures and
# a few public ones: any invalid read/write or leak definitely lost in
# smbdiag's code is reported. Slow: minutes per capture.
#
#   scripts/valgrind.sh [CAPTURE...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release >/dev/null 2>&1
H=$(mktemp -d /tmp/vgrun.XXXXXX)
trap 'rm -rf "$H"' EXIT
VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
mkdir -p "$H/.local/lib/wireshark/plugins/$VER/epan" "$H/caps" "$H/noglobal"
cp target/release/libsmbdiag.so "$H/.local/lib/wireshark/plugins/$VER/epan/smbdiag.so"
if [ $# -eq 0 ]; then
    set -- tests/captures/lab/*.pcap tests/captures/edited/*.pcap \
        tests/captures/public/zeek-zeek/smb2.pcap tests/captures/public/zeek-zeek/smb3.pcap \
        tests/captures/public/OISF-suricata-verify/smb2-frames-gap-payload-logging__smb2-peter-minus-p191.pcap \
        tests/captures/public/zeek-zeek/smb1-OSS-fuzz-54883.pcap tests/captures/public/zeek-zeek/smb2_krb.pcap
fi
chmod -R a+rwX "$H"
fail=0
for c in "$@"; do
    cp "$c" "$H/caps/x.pcap"; chmod a+r "$H/caps/x.pcap"
    log="$H/vg.log"
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$H" WIRESHARK_PLUGIN_DIR="$H/noglobal" \
        TMPDIR="$H" valgrind --error-exitcode=99 --leak-check=no --log-file="$log" \
        tshark -r "$H/caps/x.pcap" -2 -V -Y smbdiag >/dev/null 2>&1 || true
    errs=$(grep -oE "ERROR SUMMARY: [0-9]+" "$log" | awk '{print $3}')
    ours=$(grep -cE "smbdiag_core|libsmbdiag|smbdiag\.so" "$log" || true)
    echo "$(basename "$c"): valgrind errors $errs, stack frames in smbdiag $ours"
    if [ "${errs:-1}" != 0 ] && [ "$ours" != 0 ]; then fail=1; grep -A20 "Invalid\|uninitialised" "$log" | head -60; fi
done
exit $fail
