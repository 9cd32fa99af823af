#!/usr/bin/env bash
# Benchmarks (figures, not pass/fail): the core alone over a capture, and
# tshark over the same capture with and without the plugin.
#
#   scripts/bench.sh [CAPTURE]
#
# Without CAPTURE it uses target/bench/bench_bulk.pcap, generating it first
# with the lab (root: network namespaces) if missing: one 200 MiB file and
# 3000 small files over SMB 3.1.1, wire-sized frames. Results: docs/performance.md.
#
# BENCH_PLUGIN=path/to/libsmbdiag.so measures that build instead (say, one kept
# from before a change) and skips the build and the core-alone figure;
# BENCH_WALL=0 skips the wall-time runs, BENCH_CALLGRIND=0 the instruction counts,
# BENCH_WHOLE=1 counts the whole capture's instructions as well as the two slices.
set -euo pipefail
cd "$(dirname "$0")/.."
CAP=${1:-target/bench/bench_bulk.pcap}
if [ ! -f "$CAP" ]; then
    # A big capture buffer: tcpdump must not drop frames of the bulk transfer.
    SDLAB_OUT="$PWD/target/bench" SDLAB_TCPDUMP_BUFFER_KIB=1048576 tests/lab/make-captures.sh bench_bulk
fi
SO=${BENCH_PLUGIN:-target/release/libsmbdiag.so}
[ -n "${BENCH_PLUGIN:-}" ] || cargo build --release --workspace >/dev/null 2>&1
echo "plugin: $SO"
echo "capture: $CAP ($(du -h "$CAP" | cut -f1), $(capinfos -c -M "$CAP" | awk -F': *' '/Number of packets/ {print $2}') frames)"

if [ -z "${BENCH_PLUGIN:-}" ]; then
    echo "== core alone (smbdiag-cli --bench, best of 5, one core)"
    target/release/smbdiag-cli --bench "$CAP" 5
fi

# tshark as an unprivileged user with a scratch HOME (root ignores personal plugins).
HOMEDIR=$(mktemp -d /tmp/smbdiag-bench.XXXXXX)
trap 'rm -rf "$HOMEDIR"' EXIT
VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
mkdir -p "$HOMEDIR/with/.local/lib/wireshark/plugins/$VER/epan" "$HOMEDIR/without"
cp "$SO" "$HOMEDIR/with/.local/lib/wireshark/plugins/$VER/epan/smbdiag.so"
cp "$CAP" "$HOMEDIR/cap.pcap"
chmod -R a+rwX "$HOMEDIR"
run() { # HOME FILTER -> "seconds peak_kib"
    local out
    out=$( { if [ "$(id -u)" = 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$1" /usr/bin/time -f '%e %M' tshark -r "$HOMEDIR/cap.pcap" -Y "$2" >/dev/null; \
             else HOME="$1" /usr/bin/time -f '%e %M' tshark -r "$HOMEDIR/cap.pcap" -Y "$2" >/dev/null; fi; } 2>&1 | tail -1)
    echo "$out"
}
if [ "${BENCH_WALL:-1}" = 1 ]; then
echo "== tshark -r (one pass, display filter): 5 runs each, alternating"
wo=(); wi=()
for _ in 1 2 3 4 5; do
    wo+=("$(run "$HOMEDIR/without" 'smb2.nt_status == 0xc00000cc')")
    wi+=("$(run "$HOMEDIR/with" 'smbdiag.rule == "tree.share_not_found"')")
done
stats() { # "secs kib"... -> "best median peak_kib"
    printf '%s\n' "$@" | sort -n | awk '{t[NR]=$1; if ($2>m) m=$2} END {print t[1], t[int((NR+1)/2)], m}'
}
read -r wo_best wo_med wo_rss <<<"$(stats "${wo[@]}")"
read -r wi_best wi_med wi_rss <<<"$(stats "${wi[@]}")"
echo "without plugin: best $wo_best s, median $wo_med s, peak RSS $wo_rss KiB"
echo "with plugin:    best $wi_best s, median $wi_med s, peak RSS $wi_rss KiB"
awk -v a="$wi_best" -v b="$wo_best" -v c="$wi_med" -v d="$wo_med" -v ra="$wi_rss" -v rb="$wo_rss" \
    'BEGIN { printf "with/without: time %.3f (best) %.3f (median), peak RSS %.3f\n", a/b, c/d, ra/rb }'
fi

# Instructions, not seconds: wall time on a shared machine varies by more than
# the 5% being measured, so count instructions with callgrind, minus tshark's
# start-up (a one-frame run), with and without the plugin: on the first 20,000
# frames and, for a long capture, on the last 20,000 (on the bench capture:
# the 200 MiB read, then the 3000 small files: SMB-dense traffic).
if command -v valgrind >/dev/null && [ "${BENCH_CALLGRIND:-1}" = 1 ]; then
    total=$(capinfos -c -M "$HOMEDIR/cap.pcap" | awk -F': *' '/Number of packets/ {print $2}')
    editcap -r "$HOMEDIR/cap.pcap" "$HOMEDIR/one.pcap" 1-1 2>/dev/null
    slices=("1-20000")
    if [ "$total" -gt 40000 ]; then slices+=("$((total - 19999))-$total"); fi
    # The whole capture too (BENCH_WHOLE=1): about 15 minutes each way under callgrind.
    if [ "${BENCH_WHOLE:-0}" = 1 ]; then slices+=("1-$total"); fi
    chmod a+r "$HOMEDIR"/*.pcap
    ir() { # HOME FILTER CAPTURE -> instructions
        local log="$HOMEDIR/cg.$RANDOM.log"
        if [ "$(id -u)" = 0 ]; then
            setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$1" TMPDIR="$HOMEDIR" \
                valgrind --tool=callgrind --callgrind-out-file=/dev/null tshark -r "$3" -Y "$2" >/dev/null 2>"$log"
        else
            HOME="$1" TMPDIR="$HOMEDIR" valgrind --tool=callgrind --callgrind-out-file=/dev/null tshark -r "$3" -Y "$2" >/dev/null 2>"$log"
        fi
        awk '/Collected/ {print $NF}' "$log"
    }
    wo_1=$(ir "$HOMEDIR/without" 'smb2.nt_status == 0xc00000cc' "$HOMEDIR/one.pcap")
    wi_1=$(ir "$HOMEDIR/with" 'smbdiag.rule == "tree.share_not_found"' "$HOMEDIR/one.pcap")
    for range in "${slices[@]}"; do
        echo "== instructions (callgrind, frames $range, start-up subtracted)"
        editcap -r "$HOMEDIR/cap.pcap" "$HOMEDIR/n.pcap" "$range" 2>/dev/null
        chmod a+r "$HOMEDIR/n.pcap"
        wo_n=$(ir "$HOMEDIR/without" 'smb2.nt_status == 0xc00000cc' "$HOMEDIR/n.pcap")
        wi_n=$(ir "$HOMEDIR/with" 'smbdiag.rule == "tree.share_not_found"' "$HOMEDIR/n.pcap")
        smb=$(tshark -r "$HOMEDIR/n.pcap" -Y smb2 2>/dev/null | wc -l)
        awk -v a="$wi_n" -v b="$wi_1" -v c="$wo_n" -v d="$wo_1" -v smb="$smb" 'BEGIN {
            printf "%d frames with SMB2; without plugin: %.0f M instructions; with: %.0f M; ratio %.3f\n", smb, (c-d)/1e6, (a-b)/1e6, (a-b)/(c-d) }'
    done
fi
