#!/usr/bin/env bash
# Builds target/debian/tfprobe_<version>_<arch>.deb: the release binary, desktop entry,
# MIME type, icons, man page, shell completions, demo model, labels and sample photos.
# Needs cargo-deb (installed here on first use) and, for the man page and completions,
# the binary itself (`tfprobe man`, `tfprobe completions`).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
  echo "== installing cargo-deb"
  cargo install cargo-deb --locked --version 3.8.0
fi

echo "== release build"
cargo build --release --locked

echo "== man page and shell completions"
out=target/packaging
rm -rf "$out" && mkdir -p "$out/completions"
target/release/tfprobe man > "$out/tfprobe.1"
gzip -9 -n -f "$out/tfprobe.1"
target/release/tfprobe completions bash > "$out/completions/tfprobe.bash"
target/release/tfprobe completions zsh > "$out/completions/_tfprobe"
target/release/tfprobe completions fish > "$out/completions/tfprobe.fish"

echo "== desktop file"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate packaging/tfprobe.desktop
fi

echo "== cargo deb"
cargo deb --no-build --no-strip
ls -l target/debian/*.deb
