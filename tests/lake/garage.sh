#!/usr/bin/env bash
# Installs Garage (https://garagehq.deuxfleurs.fr, crates.io `garage`), the
# S3-compatible object store tests/tests/lake.rs starts on 127.0.0.1, into
# DIR/bin/garage (the tests pass target/lake-tools/garage). A debug build
# without default features (SQLite metadata, bundled C libraries): ~4 min
# and ~290 s of CPU on 2 cores, against ~3x that for a release build. No
# debug info: the build stays small on disk.
# Idempotent: a second run finds the binary and builds nothing; runs at once
# (test binaries, CI) wait for one another on a lock.
set -euo pipefail
dir="${1:?usage: garage.sh DIR}"
version=2.5.0
mkdir -p "$dir"
exec 9>"$dir/.install.lock"
flock 9
if "$dir/bin/garage" --version 2>/dev/null | grep -q "$version"; then
  exit 0
fi
CARGO_PROFILE_DEV_DEBUG=false cargo install garage --version "$version" --locked --debug --quiet \
  --no-default-features --features bundled-libs,sqlite --root "$dir"
"$dir/bin/garage" --version
