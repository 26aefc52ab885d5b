#!/usr/bin/env bash
# Builds the .deb and checks it the way a user meets it: installs it with dpkg, runs the
# installed binary on the installed demo model, validates the desktop entry, opens the
# installed app on a virtual X display and confirms its window appeared (screenshot in
# target/packaging/installed-app.png), then removes the package and checks nothing is left.
#
#   sudo packaging/check-deb.sh
#
# Needs root (dpkg), and the packages in tools/debian-packages.txt (Xvfb, imagemagick,
# x11-utils, desktop-file-utils). CI runs it from tools/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== deb check: %s\n' "$*"; }
fail() {
  echo "deb check FAILED: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "installing a package needs root: sudo $0"
if dpkg -s tfprobe >/dev/null 2>&1; then
  fail "tfprobe is already installed here; this check installs and removes it, so remove it first (dpkg -r tfprobe)"
fi

bash packaging/build-deb.sh
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
deb="target/debian/tfprobe_${version}-1_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || fail "$deb was not built"
ls -l "$deb"

step "dpkg -i"
if ! dpkg -i "$deb"; then
  # Missing dependencies leave the package unconfigured; apt pulls them in and finishes.
  DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq --no-install-recommends
fi
dpkg -s tfprobe | grep -qx "Status: install ok installed" || fail "dpkg did not configure tfprobe"
removed=0
remove_package() {
  if [ "$removed" -eq 0 ]; then
    removed=1
    dpkg -P tfprobe >/dev/null 2>&1 || true
  fi
}
trap remove_package EXIT

step "installed files"
for path in /usr/bin/tfprobe \
  /usr/share/applications/tfprobe.desktop \
  /usr/share/icons/hicolor/scalable/apps/tfprobe.svg \
  /usr/share/icons/hicolor/48x48/apps/tfprobe.png \
  /usr/share/icons/hicolor/512x512/apps/tfprobe.png \
  /usr/share/mime/packages/tfprobe.xml \
  /usr/share/man/man1/tfprobe.1.gz \
  /usr/share/bash-completion/completions/tfprobe \
  /usr/share/tfprobe/models/efficientnet_lite0/1/saved_model.pb \
  /usr/share/tfprobe/models/efficientnet_lite0/1/variables/variables.index \
  /usr/share/tfprobe/models/efficientnet_lite0/1/assets/imagenet_1001.txt \
  /usr/share/tfprobe/images/rocket.jpg; do
  [ -s "$path" ] || fail "the package did not install $path"
done
zcat /usr/share/man/man1/tfprobe.1.gz | grep -q '^\.TH tfprobe' || fail "the man page has no .TH header"
desktop-file-validate /usr/share/applications/tfprobe.desktop

step "Open with: the desktop and MIME databases know tfprobe"
# dpkg triggers of desktop-file-utils and shared-mime-info refresh these on install.
for mime in inode/directory application/x-tensorflow-saved-model image/jpeg; do
  grep -q "^${mime}=.*tfprobe.desktop" /usr/share/applications/mimeinfo.cache ||
    fail "/usr/share/applications/mimeinfo.cache does not offer tfprobe for $mime"
done
[ -f /usr/share/mime/application/x-tensorflow-saved-model.xml ] ||
  fail "the MIME database has no application/x-tensorflow-saved-model type (shared-mime-info trigger)"
echo "tfprobe is offered for folders, saved_model.pb and images"

step "tfprobe --version"
got="$(/usr/bin/tfprobe --version)"
[ "$got" = "tfprobe $version" ] || fail "tfprobe --version printed '$got', expected 'tfprobe $version'"
echo "$got"

step "tfprobe show on the installed demo model"
installed_show="$(/usr/bin/tfprobe show --dir /usr/share/tfprobe/models/efficientnet_lite0/1 --all)"
repo_show="$(target/release/tfprobe show --dir assets/models/efficientnet_lite0/1 --all)"
echo "$installed_show" | grep -q "signature_def\['serving_default'\]:" || fail "show lists no serving_default signature:
$installed_show"
[ "$installed_show" = "$repo_show" ] || fail "show on the installed model differs from the repository's model"
echo "$installed_show" | head -12

step "tfprobe predict on the installed demo model and photo"
if /usr/bin/tfprobe runtime status >/dev/null 2>&1; then
  predicted="$(/usr/bin/tfprobe predict --model /usr/share/tfprobe/models/efficientnet_lite0 \
    --image /usr/share/tfprobe/images/rocket.jpg --top-k 1)"
  echo "$predicted"
  echo "$predicted" | grep -q "missile" || fail "the demo model did not see a missile in rocket.jpg"
else
  echo "no TensorFlow runtime on this machine (tfprobe runtime install); predict not checked"
fi

step "the installed app opens a window"
export TFPROBE_SCREENSHOT_OUT=target/packaging/installed-app.png
export TFPROBE_SCREENSHOT_WINDOW=tfprobe
TFPROBE_BIN=/usr/bin/tfprobe bash tools/screenshot.sh /usr/share/tfprobe/models/efficientnet_lite0/1

step "dpkg -P"
remove_package
dpkg -s tfprobe >/dev/null 2>&1 && fail "tfprobe is still installed after dpkg -P"
for path in /usr/bin/tfprobe /usr/share/tfprobe /usr/share/applications/tfprobe.desktop \
  /usr/share/icons/hicolor/scalable/apps/tfprobe.svg /usr/share/man/man1/tfprobe.1.gz; do
  [ ! -e "$path" ] || fail "$path is left after removing the package"
done
echo "deb check passed: $deb"
