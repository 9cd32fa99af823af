#!/usr/bin/env bash
# Takes screenshots of the real Wireshark GUI with the built plugin loaded:
#   docs/screenshots/packet-list.png  main window, display filter "smbdiag"
#   docs/screenshots/expert-info.png  Analyze > Expert Information
# Builds nothing: expects target/release/libsmbdiag.so (cargo build --release).
# Needs: wireshark xvfb x11-apps imagemagick xdotool.
# Wireshark ignores personal plugins when run as root, so as root it runs
# as "nobody" with a scratch HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

plugin="$repo/target/release/libsmbdiag.so"
capture="$repo/tests/captures/lab/share_not_found.pcap"
outdir="$repo/docs/screenshots"
display="${SMBDIAG_DISPLAY:-:99}"
timeout_s="${SMBDIAG_GUI_TIMEOUT:-60}"

for tool in wireshark Xvfb xdotool import identify convert; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
[ -f "$plugin" ] || { echo "missing $plugin (run cargo build --release)" >&2; exit 1; }
[ -f "$capture" ] || { echo "missing $capture" >&2; exit 1; }
mkdir -p "$outdir"
rm -f "$outdir/packet-list.png" "$outdir/expert-info.png"

scratch="$(mktemp -d /tmp/smbdiag-gui.XXXXXX)"
chmod 0777 "$scratch"
home="$scratch/home"
mkdir -p "$home/.local/lib/wireshark/plugins/4.0/epan"
cp "$plugin" "$home/.local/lib/wireshark/plugins/4.0/epan/smbdiag.so"
cp "$capture" "$scratch/capture.pcap"
profile_args=()
if [ -d "$repo/profiles/smbdiag" ]; then
    mkdir -p "$home/.config/wireshark/profiles"
    cp -r "$repo/profiles/smbdiag" "$home/.config/wireshark/profiles/smbdiag"
    profile_args=(-C smbdiag)
fi
# Skip the first-start dialogs that could hide the main window.
mkdir -p "$home/.config/wireshark"
printf 'gui.update.enabled: FALSE\ngui.ask_unsaved: FALSE\n' \
    >"$home/.config/wireshark/preferences"
chmod -R a+rwX "$scratch"

if [ "$(id -u)" = 0 ]; then
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
    as_user=()
fi

xvfb_pid=""
ws_pid=""
cleanup() {
    [ -n "$ws_pid" ] && kill "$ws_pid" 2>/dev/null || true
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$scratch/xvfb.log" 2>&1 &
xvfb_pid=$!
export DISPLAY="$display"
for _ in $(seq 50); do
    xdpyinfo >/dev/null 2>&1 && break
    kill -0 "$xvfb_pid" 2>/dev/null || { cat "$scratch/xvfb.log" >&2; exit 1; }
    sleep 0.2
done
xdpyinfo >/dev/null 2>&1 || { echo "Xvfb did not start" >&2; exit 1; }

# Waits until a window whose name matches $1 is mapped; prints its id.
wait_window() {
    local pattern="$1" id
    for _ in $(seq $((timeout_s * 2))); do
        id="$(xdotool search --onlyvisible --name "$pattern" 2>/dev/null | head -1 || true)"
        if [ -n "$id" ]; then echo "$id"; return 0; fi
        kill -0 "$ws_pid" 2>/dev/null || { echo "wireshark exited" >&2; return 1; }
        sleep 0.5
    done
    echo "timed out waiting for window '$pattern'" >&2
    return 1
}

# Fails unless $1 exists and is not a single flat colour.
check_png() {
    local f="$1" sd
    [ -s "$f" ] || { echo "screenshot missing: $f" >&2; return 1; }
    sd="$(convert "$f" -colorspace Gray -format '%[fx:standard_deviation]' info:)"
    awk -v sd="$sd" 'BEGIN { exit !(sd > 0.02) }' \
        || { echo "screenshot blank (stddev $sd): $f" >&2; return 1; }
    echo "ok: $f ($(identify -format '%wx%h' "$f"), stddev $sd)"
}

# -z expert opens the Expert Information dialog once the file is loaded.
"${as_user[@]}" env HOME="$home" DISPLAY="$display" \
    XDG_RUNTIME_DIR="$scratch" QT_QPA_PLATFORM=xcb NO_AT_BRIDGE=1 \
    wireshark "${profile_args[@]}" -Y smbdiag -g 19 -z expert \
    -r "$scratch/capture.pcap" >"$scratch/wireshark.log" 2>&1 &
ws_pid=$!

main_id="$(wait_window 'capture\.pcap')" || { cat "$scratch/wireshark.log" >&2; exit 1; }
expert_id="$(wait_window 'Expert Information')" || { cat "$scratch/wireshark.log" >&2; exit 1; }
sleep 3  # let the packet list and the dialog finish painting

# Xvfb runs no window manager: place and size the windows ourselves.
xdotool windowmove "$main_id" 0 0 windowsize "$main_id" 1600 1000
# Main window first: park the dialog off screen.
xdotool windowmove "$expert_id" 1700 0
sleep 3
# View > Resize Columns, so the smbdiag rule and Info texts are not cut.
xdotool windowfocus "$main_id" key ctrl+shift+r
sleep 1
# Frame 19 is selected (-g 19): focus the details pane (click below its
# rows), walk down to its last top-level item, the "SMB Diagnostics"
# subtree (extra Downs stay there), and expand it. End/Ctrl+End are taken
# by the packet list, hence the Downs.
xdotool mousemove --window "$main_id" 300 900 click 1
sleep 0.5
xdotool key --delay 80 Down Down Down Down Down Down Down Down Down Down Down Down
xdotool key Right
xdotool mousemove 1599 999
sleep 2
import -window root "$outdir/packet-list.png"

# Then the Expert Information dialog on top, its warning group expanded.
xdotool windowmove "$expert_id" 150 120 windowsize "$expert_id" 1300 560
xdotool windowraise "$expert_id"
sleep 2
xdotool mousemove --window "$expert_id" 120 42 click 1
sleep 0.5
xdotool windowfocus "$expert_id" key Right
xdotool mousemove 0 999
sleep 2
import -window root "$outdir/expert-info.png"

check_png "$outdir/packet-list.png"
check_png "$outdir/expert-info.png"
