#!/usr/bin/env bash
# Each crate builds, with the committed Cargo.lock, on the Rust it declares
# as its rust-version: installs that toolchain with rustup (minimal profile)
# if missing, then `cargo +<version> build --locked -p <crate>`.
set -euo pipefail
cd "$(dirname "$0")/.."
for manifest in xengnttab/Cargo.toml capi/Cargo.toml vdispl/Cargo.toml; do
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -1)
    version=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$manifest" | head -1)
    [[ -n $version ]] || { echo "check-msrv: $manifest has no rust-version" >&2; exit 1; }
    rustup toolchain list | grep -q "^$version-" ||
        rustup toolchain install "$version" --profile minimal >/dev/null
    echo "check-msrv: $name on Rust $version"
    CARGO_TARGET_DIR=target/msrv-$version cargo "+$version" build --quiet --locked -p "$name"
done
