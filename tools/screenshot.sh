#!/usr/bin/env bash
# Launches the real tfprobe window on a virtual X display (Xvfb, software OpenGL),
# waits for it to draw, and saves a screenshot of the whole screen.
#
#   tools/screenshot.sh [TFPROBE ARGS...]
#
# Default arguments: assets/models/efficientnet_lite0/1 (that is, `tfprobe PATH`).
# The README's picture:  tools/screenshot.sh gui --serve assets/models/efficientnet_lite0/1 \
#                          assets/images/chelsea.png assets/images/coffee.png assets/images/rocket.jpg
# Environment: TFPROBE_SCREENSHOT_OUT (docs/screenshot.png), TFPROBE_SCREENSHOT_WAIT (seconds
# before the shot, 4), TFPROBE_SCREENSHOT_DISPLAY (:99), TFPROBE_SCREENSHOT_SIZE (1280x800x24),
# TFPROBE_BIN (default: build and use target/debug/tfprobe), TFPROBE_SCREENSHOT_WINDOW (the
# start of a window title: fail unless such a window exists and has drawn its first frame).
# Needs: xvfb, imagemagick (`import`), libgl1-mesa-dri, x11-utils for the window check
# (see tools/debian-packages.txt).
# Uses a throw-away config and cache directory, so saved state never leaks in.
# Prints the app's "first frame N ms after start" log line.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${TFPROBE_SCREENSHOT_OUT:-docs/screenshot.png}"
wait_s="${TFPROBE_SCREENSHOT_WAIT:-4}"
display="${TFPROBE_SCREENSHOT_DISPLAY:-:99}"
size="${TFPROBE_SCREENSHOT_SIZE:-1280x800x24}"
if [ $# -eq 0 ]; then
  set -- assets/models/efficientnet_lite0/1
fi

for tool in Xvfb import; do
  command -v "$tool" >/dev/null || { echo "missing $tool: install the packages in tools/debian-packages.txt" >&2; exit 1; }
done

bin="${TFPROBE_BIN:-target/debug/tfprobe}"
if [ -z "${TFPROBE_BIN:-}" ]; then
  cargo build --quiet --bin tfprobe
fi

scratch="$(mktemp -d)"
xvfb_pid=""
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

Xvfb "$display" -screen 0 "$size" -nolisten tcp >"$scratch/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do
  [ -e "/tmp/.X11-unix/X${display#:}" ] && break
  sleep 0.1
done

# Software GL under Xvfb; a private HOME so no saved window state or recent list applies
# (the cache, where an installed TensorFlow runtime lives, stays the user's).
DISPLAY="$display" LIBGL_ALWAYS_SOFTWARE=1 XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}" \
  HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/config" \
  XDG_DATA_HOME="$scratch/data" TFPROBE_LOG="${TFPROBE_LOG:-info}" \
  "$bin" "$@" >"$scratch/app.log" 2>&1 &
app_pid=$!

sleep "$wait_s"
if ! kill -0 "$app_pid" 2>/dev/null; then
  echo "tfprobe exited early; its log:" >&2
  cat "$scratch/app.log" >&2
  exit 1
fi
if [ -n "${TFPROBE_SCREENSHOT_WINDOW:-}" ]; then
  # xwininfo's tree quotes each title: match its start (the app adds " — MODEL").
  if ! DISPLAY="$display" xwininfo -root -tree | grep -qF "\"${TFPROBE_SCREENSHOT_WINDOW}"; then
    echo "no window titled '${TFPROBE_SCREENSHOT_WINDOW}...' appeared; windows on $display:" >&2
    DISPLAY="$display" xwininfo -root -tree >&2 || true
    cat "$scratch/app.log" >&2
    exit 1
  fi
  grep -q "first frame" "$scratch/app.log" || {
    echo "the window never drew its first frame; app log:" >&2
    cat "$scratch/app.log" >&2
    exit 1
  }
  echo "window '${TFPROBE_SCREENSHOT_WINDOW}' is up"
fi
mkdir -p "$(dirname "$out")"
DISPLAY="$display" import -window root "$out"
grep -h "first frame" "$scratch/app.log" || true
echo "saved $out"
