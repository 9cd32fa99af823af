#!/usr/bin/env bash
# Runs every test: unit tests of the core, then the end-to-end tests through
# the real tshark with the built plugin (as an unprivileged user when root).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && ! command -v tshark >/dev/null; then
    bash scripts/deps.sh
fi
cargo build --release --workspace
cargo test --release --workspace
