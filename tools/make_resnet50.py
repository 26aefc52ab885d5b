#!/usr/bin/env python3
"""Writes a Keras ResNet50 SavedModel (random weights) for the graph benchmarks and
the ResNet50 checks of the graph inspector. Not committed: it is about 100 MB.

    python3 -m venv .venv-resnet && .venv-resnet/bin/pip install tensorflow-cpu==2.21.0
    .venv-resnet/bin/python tools/make_resnet50.py target/resnet50   # -> target/resnet50/1

It prints Keras's own parameter counts, which `tfprobe summary` must reproduce.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

base = sys.argv[1] if len(sys.argv) > 1 else "target/resnet50"
model = keras.applications.ResNet50(weights=None)
version_dir = os.path.join(base, "1")
model.export(version_dir)
trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
counts = {
    "total": int(model.count_params()),
    "trainable": trainable,
    "non_trainable": int(model.count_params()) - trainable,
    "conv2d_layers": sum(1 for layer in model.layers if isinstance(layer, keras.layers.Conv2D)),
}
with open(os.path.join(base, "keras_counts.json"), "w") as out:
    json.dump(counts, out)
print(json.dumps(counts))
