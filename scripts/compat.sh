#!/usr/bin/env bash
# Compatibility run: for each Wireshark version, builds smbdiag against it in
# a Debian chroot that has that version, runs the cargo test suite there
# (unit tests and the end-to-end tests through that version's tshark, as an
# unprivileged user), builds the version's .deb, installs it with apt and
# checks that tshark as root (global plugin folder) gives the seed finding.
# Ends with a matrix.
#
#   bash scripts/compat.sh            # 4.0, 4.4 and 4.6
#   bash scripts/compat.sh 4.4 4.6    # only these (what .ci/run does after the host suite)
#   bash scripts/compat.sh --prepare 4.4 4.6   # only make the chroots
#
# 4.0 comes from Debian 12 (bookworm), 4.4 from Debian 13 (trixie), 4.6 from
# sid. Each chroot lives in $SMBDIAG_COMPAT_DIR/<suite> (default
# /var/cache/smbdiag-compat), made with debootstrap from the Debian mirror this
# machine's apt uses (or $SMBDIAG_COMPAT_MIRROR), kept and reused; the source
# tree is copied in (no ../shared beside it) and its target/ kept there for
# the next run. The Rust toolchain (~/.cargo, ~/.rustup) is bind-mounted.
# Only `cargo test` runs in the chroots: the fuzz smoke run of
# scripts/test.sh needs a nightly toolchain and cargo-fuzz, and tests
# nothing version-specific, so it runs on the host only.
# Run as root (debootstrap, chroot, mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
base="${SMBDIAG_COMPAT_DIR:-/var/cache/smbdiag-compat}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(4.0 4.4 4.6)
[ "$(id -u)" = 0 ] || { echo "compat.sh: run as root (debootstrap, chroot, mounts)" >&2; exit 1; }

# What a chroot needs to build the plugin, run the tests and build the .deb.
# (bindgen needs libclang only; the shim is compiled with gcc.)
chroot_pkgs="tshark libwireshark-dev libglib2.0-dev pkg-config libclang-dev cmake gcc libc6-dev ca-certificates util-linux dpkg-dev"
# Shell run in the chroot after installing the .deb: tshark as root (global
# plugin and profile) must put tree.share_not_found on the first TREE_CONNECT
# response with STATUS_BAD_NETWORK_NAME (as Wireshark's own SMB2 dissector
# sees it), naming the share.
seed_check() {
    cat <<'CHECK'
want=$(tshark -r tests/captures/lab/share_not_found.pcap -Y 'smb2.cmd == 3 && smb2.nt_status == 0xc00000cc' -T fields -e frame.number 2>/dev/null | head -1)
got=$(tshark -r tests/captures/lab/share_not_found.pcap -C smbdiag -Y 'smbdiag.rule == "tree.share_not_found"' -T fields -e frame.number -e smbdiag.finding)
echo "seed: expected frame $want; got: $got"
[ -n "$want" ] && [ "$(echo "$got" | cut -f1)" = "$want" ] && echo "$got" | grep -q 'STATUS_BAD_NETWORK_NAME' && echo "$got" | grep -q 'projects'
CHECK
}

suite_of() {
    case "$1" in
        4.0) echo bookworm ;;
        4.4) echo trixie ;;
        4.6) echo sid ;;
        *) echo "compat.sh: no Debian suite known for Wireshark $1 (known: 4.0, 4.4, 4.6)" >&2; return 1 ;;
    esac
}

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
host_mirror() {
    local m
    m="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)"
    [ -n "$m" ] || m="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1)"
    [ -n "$m" ] || { echo "compat.sh: no Debian mirror in /etc/apt; set SMBDIAG_COMPAT_MIRROR" >&2; return 1; }
    echo "$m"
}

mount_chroot() {
    local dir="$base/$1"
    mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
    mountpoint -q "$dir/dev" || mount --bind /dev "$dir/dev"
    mkdir -p "$dir/root/.cargo" "$dir/root/.rustup"
    mountpoint -q "$dir/root/.cargo" || mount --bind "$HOME/.cargo" "$dir/root/.cargo"
    mountpoint -q "$dir/root/.rustup" || mount --bind "$HOME/.rustup" "$dir/root/.rustup"
}

umount_chroot() {
    local dir="$base/$1" m
    for m in root/.rustup root/.cargo dev proc; do
        if mountpoint -q "$dir/$m"; then umount "$dir/$m"; fi
    done
}

# Runs a shell command in the chroot, as root, with the host's toolchain.
in_chroot() {
    local suite="$1"; shift
    mount_chroot "$suite"
    local rc=0
    chroot "$base/$suite" /usr/bin/env -i HOME=/root PATH=/root/.cargo/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive bash -c "$*" || rc=$?
    umount_chroot "$suite"
    return $rc
}

# Creates the chroot for a suite unless it is there (.ready marks it complete).
make_chroot() {
    local suite="$1" dir="$base/$1" mirror
    [ -f "$dir/.ready" ] && return 0
    mirror="${SMBDIAG_COMPAT_MIRROR:-$(host_mirror)}"
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    # A half-made chroot is started again; never delete through a bind mount
    # (that would delete the host's toolchain).
    if [ -d "$dir" ]; then
        umount_chroot "$suite"
        if grep -q " $dir/" /proc/mounts; then echo "compat.sh: something is still mounted under $dir" >&2; return 1; fi
        rm -rf "$dir"
    fi
    mkdir -p "$dir"
    echo "== $suite: debootstrap into $dir"
    debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 \
        || { tail -20 "$dir.debootstrap.log" >&2; return 1; }
    echo "deb $mirror $suite main" >"$dir/etc/apt/sources.list"
    # sid's Release file can be past its validity date on a snapshot mirror.
    echo 'Acquire::Check-Valid-Until "false";' >"$dir/etc/apt/apt.conf.d/99smbdiag-compat"
    echo "wireshark-common wireshark-common/install-setuid boolean false" | chroot "$dir" debconf-set-selections
    # A throwaway chroot needs no fsync after every file: much faster installs.
    echo force-unsafe-io >"$dir/etc/dpkg/dpkg.cfg.d/99smbdiag-compat"
    # sid's debootstrap'd set sometimes needs a second pass (apt-get -f install).
    in_chroot "$suite" "apt-get update -qq && apt-get install -y -qq --no-install-recommends $chroot_pkgs >/dev/null" \
        || in_chroot "$suite" "apt-get -f install -y -qq >/dev/null && apt-get install -y -qq --no-install-recommends $chroot_pkgs >/dev/null"
    touch "$dir/.ready"
}

# Copies the working tree (tracked and new files, not target/) into the chroot.
sync_source() {
    local dst="$base/$1/build/smbdiag"
    mkdir -p "$dst"
    find "$dst" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
    git -C "$repo" ls-files -co --exclude-standard -z \
        | while IFS= read -r -d '' f; do [ -e "$repo/$f" ] && printf '%s\0' "$f"; done \
        | tar -C "$repo" --null -T - -cf - | tar -C "$dst" -xf -
}

declare -A r_wireshark r_build r_tests r_deb
run_version() {
    local ver="$1" suite log
    suite="$(suite_of "$ver")"
    log="$base/$suite.log"
    r_wireshark[$ver]="-"; r_build[$ver]="not run"; r_tests[$ver]="not run"; r_deb[$ver]="not run"
    if ! make_chroot "$suite"; then r_build[$ver]="no chroot"; return; fi
    r_wireshark[$ver]="$(chroot "$base/$suite" pkg-config --modversion wireshark)"
    sync_source "$suite"
    echo "== Wireshark ${r_wireshark[$ver]} ($suite): build, tests, package (log: $log)"
    if ! in_chroot "$suite" "cd /build/smbdiag && cargo build --release --workspace" >"$log" 2>&1; then
        r_build[$ver]="FAILED"; tail -30 "$log"; return
    fi
    r_build[$ver]="ok"
    if in_chroot "$suite" "cd /build/smbdiag && cargo test --release --workspace --no-fail-fast" >>"$log" 2>&1; then
        r_tests[$ver]="passed ($(count_tests "$log"))"
    else
        r_tests[$ver]="FAILED ($(count_tests "$log"))"
        grep -E "^test .* FAILED|panicked at|^---- " "$log" | head -40
    fi
    # The package: built, installed with apt, then tshark as root (global
    # plugin folder, global profile) on the seed capture.
    if in_chroot "$suite" "set -e; cd /build/smbdiag; bash scripts/deb.sh; apt-get install -y -qq ./target/debian/*.deb >/dev/null
        $(seed_check) || exit 1
        apt-get remove -y -qq smbdiag >/dev/null" >>"$log" 2>&1; then
        r_deb[$ver]="ok: $(basename "$(ls "$base/$suite"/build/smbdiag/target/debian/*.deb)")"
    else
        r_deb[$ver]="FAILED"; tail -15 "$log"; return
    fi
    # apt must refuse the package of the version before this one here.
    if [ -n "$prev_deb" ]; then
        cp "$prev_deb" "$base/$suite/tmp/"
        if in_chroot "$suite" "apt-get install -s ./tmp/$(basename "$prev_deb")" >>"$log" 2>&1; then
            r_deb[$ver]+=", but apt accepts $(basename "$prev_deb") too: FAILED"
        else
            r_deb[$ver]+=", apt refuses $(basename "$prev_deb")"
        fi
        rm -f "$base/$suite/tmp/$(basename "$prev_deb")"
    fi
    prev_deb="$(ls "$base/$suite"/build/smbdiag/target/debian/*.deb)"
}
prev_deb=""

# Wireshark's development branch (new plugin ABI, WIRESHARK_PLUGIN_REGISTER in
# wsutil/plugins.h) must be refused when the shim is compiled, with a sentence.
# Checked with a stand-in header in front of this machine's Wireshark headers.
check_new_abi_refused() {
    local d out
    d="$(mktemp -d)"
    mkdir -p "$d/wsutil"
    echo '#define WIRESHARK_PLUGIN_REGISTER(type, ptr_, api_level_)' >"$d/wsutil/plugins.h"
    # shellcheck disable=SC2046
    out="$(gcc -fsyntax-only -DSMBDIAG_WS_MAJOR=4 -DSMBDIAG_WS_MINOR=7 -I"$d" $(pkg-config --cflags wireshark) ffi/shim.c 2>&1 || true)"
    rm -rf "$d"
    grep -q "has the new plugin ABI (wireshark_load_module) that smbdiag does not support yet" <<<"$out"
}

# "N passed, M failed" summed over the test binaries in a cargo test log.
count_tests() {
    awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$1"
}

# --prepare: only make the chroots (.ci/run does this while the host suite runs).
if [ "${versions[0]}" = --prepare ]; then
    for v in "${versions[@]:1}"; do make_chroot "$(suite_of "$v")"; done
    exit 0
fi

start=$(date +%s)
for v in "${versions[@]}"; do run_version "$v"; done

echo
printf '%-10s %-10s %-8s %-28s %s\n' "Wireshark" "release" "build" "tests (cargo test)" ".deb (apt install + seed finding as root)"
rc=0
for v in "${versions[@]}"; do
    printf '%-10s %-10s %-8s %-28s %s\n' "$v" "${r_wireshark[$v]}" "${r_build[$v]}" "${r_tests[$v]}" "${r_deb[$v]}"
    [ "${r_build[$v]}" = ok ] && [[ "${r_tests[$v]}" == passed* ]] && [[ "${r_deb[$v]}" == ok* ]] && [[ "${r_deb[$v]}" != *FAILED* ]] || rc=1
done
if check_new_abi_refused; then
    echo "development Wireshark (new plugin ABI): refused at build time with a sentence: ok"
else
    echo "development Wireshark (new plugin ABI): NOT refused at build time"; rc=1
fi
echo "compat.sh took $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"
exit $rc
