#!/usr/bin/env bash
# Installs what building and testing smbdiag needs on Debian 12 (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
pkgs="tshark libwireshark-dev libglib2.0-dev pkg-config cmake clang libclang-dev util-linux python3 curl ca-certificates time"
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$here/tests/lab/packages.txt" ]; then
    pkgs="$pkgs $(grep -v '^#' "$here/tests/lab/packages.txt" | tr '\n' ' ')"
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
    # A fresh Debian 12 has no Rust new enough for the crates: take rustup's stable.
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >/dev/null
    export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo --version
