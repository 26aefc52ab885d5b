#!/usr/bin/env bash
# Makes (or reuses) a Keras ResNet50 SavedModel with random weights for the graph
# inspector's ResNet50 checks and benchmarks (tests/it/graph_cli.rs, benches/graph.rs):
#
#   bash tests/compat/resnet50.sh      # -> target/resnet50/1 and target/resnet50/keras_counts.json
#
# It installs tensorflow-cpu into .venv-resnet (once) and runs tools/make_resnet50.py,
# which also records Keras's own count_params(). The model (about 100 MB) is not committed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${TFPROBE_RESNET_VENV:-$root/.venv-resnet}"
out="$root/target/resnet50"
python="${PYTHON:-python3}"

if [[ -f "$out/keras_counts.json" && -f "$out/1/saved_model.pb" ]]; then
    echo "ResNet50 export ready: $out"
    exit 0
fi
if [[ ! -f "$venv/.tfprobe-resnet-v1" ]]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check tensorflow-cpu==2.21.0
    touch "$venv/.tfprobe-resnet-v1"
fi
rm -rf "$out"
TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" "$root/tools/make_resnet50.py" "$out"
