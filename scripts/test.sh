#!/usr/bin/env bash
# Runs every test: unit tests of the core, then the end-to-end tests through
# the real tshark with the built plugin (as an unprivileged user when root).
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && ! command -v tshark >/dev/null; then
    bash scripts/deps.sh
fi
cargo build --release --workspace
cargo test --release --workspace
# The CMake install path, into a scratch folder.
tmp="$(mktemp -d)"
cmake -S . -B "$tmp/build" -DSMBDIAG_PLUGIN_DIR="$tmp/inst" -DSMBDIAG_PROFILE_DIR="$tmp/profile" >/dev/null
cmake --build "$tmp/build" >/dev/null
cmake --install "$tmp/build" | tail -1
test -x "$tmp/inst/smbdiag.so"
test -s "$tmp/profile/colorfilters"
echo "cmake install: ok"
rm -rf "$tmp"
# Fuzz smoke run: every cargo-fuzz target for 20 s on seeds from the real captures.
bash scripts/fuzz.sh smoke
