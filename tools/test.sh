#!/usr/bin/env bash
# Runs every tfprobe test on this machine, installing what a fresh machine lacks:
# `cargo fmt --check` and `cargo clippy --all-targets -- -D warnings` first (either
# failing stops the run), then the tests. This is the README's test command; .ci/run
# calls it and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# Debian packages the tests need (only installed when missing; needs root or sudo).
need_packages=()
for pkg in $(cat tools/debian-packages.txt | sed 's/#.*//'); do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_packages+=("$pkg")
done
if [ ${#need_packages[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_packages[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_packages[@]}"
fi

# Python helpers used by the tests (official TF Serving client, etc.) and the
# TensorFlow runtime are provisioned by the tests themselves into cached folders,
# so a plain `cargo test` works too; see tests/it/support/tf.rs.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# A one-off build (CI) gains nothing from incremental caches but their disk space.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

# Formatting and lints come first and stop the run: CI checks them on every change.
# A minimal rustup profile lacks rustfmt and clippy; add them quietly when missing.
if command -v rustup >/dev/null 2>&1; then
  installed_components="$(rustup component list --installed 2>/dev/null || true)"
  need_components=()
  for component in rustfmt clippy; do
    grep -q "^$component-" <<<"$installed_components" || need_components+=("$component")
  done
  if [ ${#need_components[@]} -gt 0 ]; then
    rustup --quiet component add "${need_components[@]}" ||
      echo "warning: rustup could not add ${need_components[*]}; the next step needs them" >&2
  fi
fi

log "cargo fmt --check"
if ! cargo fmt --check; then
  echo "FAILED: cargo fmt --check: the code above is not formatted; run \`cargo fmt\` and commit the result" >&2
  exit 1
fi

log "cargo clippy --all-targets -- -D warnings"
# All targets (library, binary, tests, benches, build script) with the [lints] of
# Cargo.toml and clippy.toml; any warning fails the run.
if ! cargo clippy --all-targets --quiet -- -D warnings; then
  echo "FAILED: cargo clippy --all-targets -- -D warnings: fix the findings above (or, where a panic truly cannot happen, a local #[allow(..., reason = \"...\")])" >&2
  exit 1
fi

log "cargo test"
# Library, binary and integration tests. Benchmarks (benches/, harness = false) are
# run on purpose with `cargo bench`, not here: they time against Python baselines.
tests_status=0
cargo test --no-fail-fast --lib --bins --tests "$@" || tests_status=$?

# The .deb check installs and removes a system package, so it runs where that is wanted:
# in CI (root on a throw-away machine), or here when asked with TFPROBE_CHECK_DEB=1.
deb_status=0
if [ "${CI:-}" = "true" ] || [ "${TFPROBE_CHECK_DEB:-}" = "1" ]; then
  log "packaging: build, install, run and remove the .deb"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo --preserve-env=PATH,HOME,CARGO_HOME,RUSTUP_HOME,CARGO_INCREMENTAL"
  $sudo_cmd bash packaging/check-deb.sh || deb_status=$?
else
  log "not run: the .deb install check (it installs a system package; CI runs it, or TFPROBE_CHECK_DEB=1 bash tools/test.sh)"
fi

if [ "$tests_status" -ne 0 ] || [ "$deb_status" -ne 0 ]; then
  echo "FAILED: cargo test exit $tests_status, .deb check exit $deb_status" >&2
  exit 1
fi
