#!/usr/bin/env bash
# The long reliability run (figures for docs/fuzzing.md, not part of the test
# command): every capture of the repository (public corpus and lab), as it is
# and mutated with `editcap -E` (random byte errors), through `tshark -V` with
# the plugin at several `gui.max_tree_items` limits and at the default one.
# Each run is bounded; a run counts as a problem when it
#   - does not end within the bound (a hang),
#   - exits non-zero or dies on a signal (a crash),
#   - prints a "Dissector bug" of SMBDIAG other than Wireshark's own tree
#     limit report ("would put more than N items in the tree"),
#   - prints a Rust panic (caught at the FFI boundary, but still a bug).
# tests/tree_limit.rs and tests/robustness.rs run slices of this on every CI
# run; this is the whole cross product.
#
#   scripts/mutation-run.sh [-j JOBS] [-t SECONDS] [-s "SEEDS"] [-l "LIMITS"]
#
# Defaults: 2 jobs, 120 s per run, seeds "1 2 3", limits "50 130 250 500 default".
# Problems are listed with the command that reproduces them; the last line is a
# summary. Exit status 1 when any problem was found.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=2 BOUND=120 SEEDS="1 2 3" LIMITS="50 130 250 500 default"
while getopts "j:t:s:l:" o; do
    case $o in
        j) JOBS=$OPTARG ;; t) BOUND=$OPTARG ;; s) SEEDS=$OPTARG ;; l) LIMITS=$OPTARG ;;
        *) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
cargo build --release --workspace >/dev/null

# tshark loads personal plugins only when not root: run it as nobody with a
# scratch HOME holding the plugin.
WORK=$(mktemp -d /tmp/smbdiag-mutation.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
mkdir -p "$WORK/home/.local/lib/wireshark/plugins/$VER/epan" "$WORK/caps" "$WORK/out"
cp target/release/libsmbdiag.so "$WORK/home/.local/lib/wireshark/plugins/$VER/epan/smbdiag.so"

# The inputs: each capture as it is and once per seed.
mapfile -t CAPS < <(find tests/captures/public tests/captures/lab -type f \
    \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort)
i=0
for c in "${CAPS[@]}"; do
    case $c in *[[:space:]]*) echo "capture name with a blank: $c" >&2; exit 2 ;; esac
    i=$((i + 1))
    base="$WORK/caps/$i.$(basename "$c")"
    cp "$c" "$base"
    for s in $SEEDS; do
        editcap -E 0.02 --seed "$s" "$c" "$base.E$s.pcapng" >/dev/null 2>&1 || true
    done
done
chmod -R a+rwX "$WORK"
chmod o+x /tmp

one() { # CAPTURE LIMIT -> one line: "ok|PROBLEM <what> :: <reproduce>"
    local cap=$1 lim=$2 opt=() out rc
    [ "$lim" = default ] || opt=(-o "gui.max_tree_items:$lim")
    out="$WORK/out/$(basename "$cap").$lim"
    rc=0
    if [ "$(id -u)" = 0 ]; then
        timeout -k 5 "$BOUND" setpriv --reuid=65534 --regid=65534 --clear-groups \
            env HOME="$WORK/home" tshark -r "$cap" "${opt[@]}" -V >"$out" 2>&1 || rc=$?
    else
        timeout -k 5 "$BOUND" env HOME="$WORK/home" tshark -r "$cap" "${opt[@]}" -V >"$out" 2>&1 || rc=$?
    fi
    local what=""
    if [ $rc = 124 ] || [ $rc = 137 ]; then
        what="no end within ${BOUND} s (hang)"
    elif [ $rc != 0 ]; then
        what="exit status $rc"
    elif grep -a "Dissector bug, protocol SMBDIAG" "$out" | grep -qv "would put more than $lim items in the tree"; then
        what="$(grep -a "Dissector bug, protocol SMBDIAG" "$out" | grep -v "would put more than $lim items" | head -1 | head -c 200)"
    elif grep -aq "panicked at" "$out"; then
        what="Rust panic: $(grep -a -m1 "panicked at" "$out" | head -c 200)"
    fi
    local limit_hit=0
    grep -aq "Dissector bug, protocol SMBDIAG.*would put more than" "$out" && limit_hit=1
    rm -f "$out"
    if [ -n "$what" ]; then
        echo "PROBLEM $(basename "$cap") at $lim: $what :: tshark -r <capture> ${opt[*]} -V"
    else
        echo "ok $limit_hit"
    fi
}
export -f one
export WORK BOUND

START=$(date +%s)
# Names hold no blanks (checked below), so xargs may split on them.
find "$WORK/caps" -type f | sort | while read -r c; do
    for l in $LIMITS; do echo "$c $l"; done
done | xargs -P "$JOBS" -n 2 bash -c 'one "$0" "$1"' \
    >"$WORK/results"
END=$(date +%s)

grep '^PROBLEM' "$WORK/results" || true
runs=$(wc -l <"$WORK/results")
problems=$(grep -c '^PROBLEM' "$WORK/results" || true)
hits=$(grep -c '^ok 1' "$WORK/results" || true)
echo "summary: $(find "$WORK/caps" -type f | wc -l) inputs (${#CAPS[@]} captures; seeds: $SEEDS), limits: $LIMITS;" \
    "$runs runs in $((END - START)) s, $hits stopped by Wireshark's tree limit inside smbdiag, $problems problems"
[ "$problems" = 0 ]
