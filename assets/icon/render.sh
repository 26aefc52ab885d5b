#!/usr/bin/env bash
# Renders the PNG icon sizes (hicolor theme sizes) from tfprobe.svg.
# Needs rsvg-convert (Debian package librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"
for size in 16 24 32 48 64 128 256 512; do
  rsvg-convert -w "$size" -h "$size" tfprobe.svg -o "tfprobe-$size.png"
done
