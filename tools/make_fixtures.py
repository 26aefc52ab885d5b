#!/usr/bin/env python3
"""Regenerate every test fixture under ``tests/fixtures/`` from scratch.

What it writes (all paths relative to the repository root):

``tests/fixtures/models/``
    Small TensorFlow SavedModels made with ``tf.saved_model.save`` of
    ``tf.Module`` objects holding ``tf.Variable``s (the kind the TensorFlow C
    session loader can load), one Keras 3 ``model.export()``, and a set of
    deliberately broken model directories:

    * ``dtypes/1``        one signature per dtype (float32, float64, int32,
                          int64, uint8, bool, string) plus a multi-input /
                          multi-output ``serving_default``.
    * ``shapes/1``        scalar, partially known, fully known and
                          unknown-rank shapes over several signatures.
    * ``keras_export/1``  a tiny Keras 3 Dense model saved with ``export``.
    * ``keras_image/1``   a small Keras 3 conv net image classifier saved with
                          ``export``: ``images`` DT_FLOAT (-1, 64, 64, 3), values
                          0..1 -> ``output_0`` DT_FLOAT (-1, 10) softmax, with
                          ``assets/labels.txt`` (10 lines).
    * ``seedlike/1538687457``  mimics the seed post's ResNet: ``image_bytes``
                          (DT_STRING, (-1)) -> ``classes`` (DT_INT64, (-1)) and
                          ``probabilities`` (DT_FLOAT, (-1, 1001)) under the
                          keys ``serving_default`` and ``predict``, with
                          ``assets/labels.txt`` (1001 lines).
    * ``two_versions/1`` and ``two_versions/2``  the same linear model with
                          different weights (for version picking / reload).
    * ``classify_regress/1``  a TF1-style graph (``tf.compat.v1`` Builder)
                          with a classification (``serving_default``), a
                          regression (``regress``) and a predict
                          (``predict``) signature over serialized tf.Example.
    * ``broken/truncated``, ``broken/garbage``, ``broken/empty_pb``,
      ``broken/no_variables``, ``broken/not_a_model``.  An empty directory
      cannot be committed to git, so ``broken/empty_dir`` is NOT kept: tests
      must create it themselves.  (This script creates it only while it records
      ``saved_model_cli``'s output for it, then removes it again.)

``tests/fixtures/cli/<D>/``
    ``saved_model_cli`` output recorded for the model directory
    ``tests/fixtures/models/<D>`` (``<D>`` includes the version folder, e.g.
    ``cli/dtypes/1``).  Every view is a pair ``<view>.txt`` (stdout, exact
    bytes) and ``<view>.json`` (``argv``, ``exit_code``, ``stderr``,
    ``error_line`` = last stderr line that is not logging, ``env``,
    ``aslr_disabled``):

    * ``tagsets``      ``show --dir D``
    * ``signatures``   ``show --dir D --tag_set serve``
    * ``sig_<K>``      ``show --dir D --tag_set serve --signature_def K``
                       for every signature key K
    * ``all``          ``show --dir D --all``
    * ``list_ops``     ``show --dir D --tag_set serve --list_ops``
    * ``bad_tag_set``, ``bad_signature`` (dtypes only): error cases.

    Broken models and a directory that does not exist
    (``cli/broken/nonexistent``) get the same four main views.

``tests/fixtures/outputs/<name>.json``
    What Python TensorFlow (``tf.saved_model.load`` + the signature functions)
    returns for fixed inputs, for every signature of every good model.  Names:
    ``dtypes``, ``shapes``, ``keras_export``, ``keras_image``, ``seedlike``,
    ``two_versions_1``, ``two_versions_2``.  Format::

        {"<signature key>": {
            "inputs":  {"<name>": {"dtype": "DT_FLOAT", "shape": [2],
                                   "values": [1.5, -2.0]}},
            "outputs": {"<name>": {...}},
            "extra_cases": [{"name": "...", "inputs": {...}, "outputs": {...}}]
        }}

    ``values`` is the tensor flattened in row-major order; a scalar has shape
    ``[]`` and one value.  Floats are written with Python's shortest
    round-trip ``repr`` of the exact value (float32 widened to float64 first),
    strings as ``{"b64": "<standard base64>"}`` because they may not be UTF-8.
    ``extra_cases`` is present only where a signature has more than one case.

``tests/fixtures/images/``
    Small sample images made here: ``gradient_48x40.jpg`` / ``.png`` (48 wide,
    40 high, RGB), ``gray_16x16.png``, ``rgba_20x10.png``,
    ``corrupt.jpg`` (the JPEG cut to half) and ``not_an_image.txt``.

How to run it (from the repository root)::

    python3 -m venv .venv-tf
    .venv-tf/bin/pip install tensorflow-cpu==2.21.0
    .venv-tf/bin/python tools/make_fixtures.py

The script deletes ``tests/fixtures/`` and rebuilds it.  With
``--only keras_image`` it (re)builds only ``models/keras_image/``,
``cli/keras_image/`` and ``outputs/keras_image.json`` and leaves every other
file alone.  The full run builds keras_image the same way, in a fresh
process, so both give the same bytes.  It also loads every
good model with the C++ session loader (the one behind the C API's
``TF_LoadSessionFromSavedModel``), feeds/fetches by the signatures' tensor
names and fails unless that reproduces the recorded outputs.

It is deterministic (a rerun with the same package versions gives
byte-identical files): fixed seeds for every random value; it re-executes
itself with ``PYTHONHASHSEED=0`` and ``TF_CPP_MIN_LOG_LEVEL=2`` so that Python
set order (``saved_model_cli`` prints the op list as a Python set) and logging
are stable; ``fingerprint.pb``'s random uuid is replaced by a content-derived
one; Keras' exported variable list is sorted by name; ``saved_model_cli`` runs
under ``setarch <arch> -R`` (no address randomisation) where that works, which
fixes protobuf's map order in its "Please choose from:" error message.
``saved_model_cli`` is run from the repository root with a relative ``--dir``
so that no absolute path of the generating machine ends up in recorded text;
paths inside recorded stderr (Python tracebacks) are replaced by placeholders
(``<venv>``, ``<python>``), and the script fails if any absolute path of the
machine is left in a written text file.
"""

import argparse
import base64
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES_REL = Path("tests/fixtures")
MODELS_REL = FIXTURES_REL / "models"
CLI_REL = FIXTURES_REL / "cli"
OUTPUTS_REL = FIXTURES_REL / "outputs"
IMAGES_REL = FIXTURES_REL / "images"

# Environment every TensorFlow process of this script runs with.
FIXED_ENV = {"PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _reexec_with_fixed_env():
    """Restart this script with FIXED_ENV if it is not already in effect."""
    if all(os.environ.get(k) == v for k, v in FIXED_ENV.items()):
        return
    env = dict(os.environ)
    env.update(FIXED_ENV)
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)


if __name__ == "__main__":
    _reexec_with_fixed_env()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import types_pb2  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402

SEED = 20181001
tf.random.set_seed(SEED)
np.random.seed(SEED)


def log(msg):
    print(f"[make_fixtures] {msg}", flush=True)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

def spec(shape, dtype, name):
    return tf.TensorSpec(shape=shape, dtype=dtype, name=name)


class DtypesModel(tf.Module):
    """One signature per dtype and a multi-input/multi-output default."""

    def __init__(self):
        super().__init__()
        self.f32_scale = tf.Variable(2.0, dtype=tf.float32, name="f32_scale")
        self.f64_scale = tf.Variable(2.0, dtype=tf.float64, name="f64_scale")
        self.i32_offset = tf.Variable(1, dtype=tf.int32, name="i32_offset")
        self.i64_offset = tf.Variable(1, dtype=tf.int64, name="i64_offset")
        self.suffix = tf.Variable("!", dtype=tf.string, name="suffix")

    @tf.function(input_signature=[spec([None], tf.float32, "x")])
    def float32(self, x):
        return {"y": x * self.f32_scale}

    @tf.function(input_signature=[spec([None], tf.float64, "x")])
    def float64(self, x):
        return {"y": x * self.f64_scale}

    @tf.function(input_signature=[spec([None], tf.int32, "x")])
    def int32(self, x):
        return {"y": x + self.i32_offset}

    @tf.function(input_signature=[spec([None], tf.int64, "x")])
    def int64(self, x):
        return {"y": x + self.i64_offset}

    @tf.function(input_signature=[spec([None], tf.uint8, "x")])
    def uint8(self, x):
        # uint8 arithmetic wraps: 255 + 1 == 0.
        return {"y": x + tf.constant(1, dtype=tf.uint8)}

    @tf.function(input_signature=[spec([None], tf.bool, "x")])
    def bool(self, x):
        return {"y": tf.logical_not(x)}

    @tf.function(input_signature=[spec([None], tf.string, "x")])
    def string(self, x):
        return {"y": tf.strings.join([x, self.suffix]),
                "length": tf.strings.length(x)}

    @tf.function(input_signature=[
        spec([None], tf.float32, "a"),
        spec([None], tf.int64, "b"),
        spec([None], tf.string, "text"),
        spec([None], tf.bool, "mask"),
    ])
    def multi(self, a, b, text, mask):
        total = tf.cast(a, tf.float64) + tf.cast(b, tf.float64)
        return {
            "sum": total,
            "masked": tf.where(mask, a, tf.zeros_like(a)),
            "count": tf.math.count_nonzero(mask, dtype=tf.int64),
            "joined": tf.strings.reduce_join(text, separator=","),
            "small": tf.cast(tf.clip_by_value(b, 0, 255), tf.uint8),
        }


class ShapesModel(tf.Module):
    """Scalar, partially known, fully known and unknown-rank shapes."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(SEED + 1)
        self.proj = tf.Variable(rng.normal(size=(3, 2)).astype(np.float32), name="proj")
        self.bias = tf.Variable(1.0, dtype=tf.float32, name="bias")

    @tf.function(input_signature=[spec([], tf.float32, "x")])
    def scalar(self, x):
        return {"y": x * x + self.bias}

    @tf.function(input_signature=[spec([None, 3], tf.float32, "x")])
    def partial(self, x):
        return {"row_sum": tf.reduce_sum(x, axis=1),
                "projected": tf.matmul(x, self.proj)}

    @tf.function(input_signature=[spec([2, 2], tf.float32, "m"),
                                  spec([3], tf.int32, "v")])
    def fixed(self, m, v):
        return {"transposed": tf.transpose(m),
                "trace": tf.linalg.trace(m),
                "v_sum": tf.reduce_sum(v)}

    @tf.function(input_signature=[spec(None, tf.float32, "x")])
    def unknown_rank(self, x):
        return {"y": x + self.bias, "rank": tf.rank(x)}

    @tf.function(input_signature=[spec([None, None, 4], tf.int64, "x")])
    def partial_3d(self, x):
        return {"last_sum": tf.reduce_sum(x, axis=-1)}


SEEDLIKE_SIZE = 32
SEEDLIKE_CLASSES = 1001


class SeedlikeModel(tf.Module):
    """A tiny stand-in for the seed post's ResNet (JPEG/PNG bytes in)."""

    def __init__(self, labels_path):
        super().__init__()
        rng = np.random.default_rng(1538687457)
        self.conv_kernel = tf.Variable(
            rng.normal(0.0, 0.5, size=(3, 3, 3, 8)).astype(np.float32), name="conv_kernel")
        self.conv_bias = tf.Variable(
            rng.normal(0.0, 0.1, size=(8,)).astype(np.float32), name="conv_bias")
        self.dense_kernel = tf.Variable(
            rng.normal(0.0, 1.0, size=(32, SEEDLIKE_CLASSES)).astype(np.float32),
            name="dense_kernel")
        self.dense_bias = tf.Variable(
            rng.normal(0.0, 0.1, size=(SEEDLIKE_CLASSES,)).astype(np.float32),
            name="dense_bias")
        self.labels = tf.saved_model.Asset(labels_path)

    @tf.function(input_signature=[spec([None], tf.string, "image_bytes")])
    def serve(self, image_bytes):
        def decode(one):
            img = tf.io.decode_image(one, channels=3, expand_animations=False)
            img = tf.image.resize(img, [SEEDLIKE_SIZE, SEEDLIKE_SIZE])
            return img / 127.5 - 1.0  # scale to [-1, 1]

        # map_fn with an explicit output signature also handles an empty batch.
        images = tf.map_fn(
            decode, image_bytes,
            fn_output_signature=tf.TensorSpec([SEEDLIKE_SIZE, SEEDLIKE_SIZE, 3], tf.float32))
        x = tf.nn.conv2d(images, self.conv_kernel, strides=1, padding="SAME")
        x = tf.nn.relu(x + self.conv_bias)
        x = tf.nn.max_pool2d(x, ksize=4, strides=4, padding="VALID")   # 8x8x8
        x = tf.nn.avg_pool2d(x, ksize=4, strides=4, padding="VALID")   # 2x2x8
        x = tf.reshape(x, [-1, 32])
        logits = tf.matmul(x, self.dense_kernel) + self.dense_bias
        classes = tf.argmax(logits, axis=1, name="ArgMax")
        probabilities = tf.nn.softmax(logits, name="softmax_tensor")
        return {"classes": classes, "probabilities": probabilities}


class LinearModel(tf.Module):
    """y = x * w + b, used for two_versions and as the base of broken models."""

    def __init__(self, w, b):
        super().__init__()
        self.w = tf.Variable(w, dtype=tf.float32, name="w")
        self.b = tf.Variable(b, dtype=tf.float32, name="b")

    @tf.function(input_signature=[spec([None], tf.float32, "x")])
    def serve(self, x):
        return {"y": x * self.w + self.b}


def save_dtypes(path):
    m = DtypesModel()
    sigs = {
        "serving_default": m.multi,
        "float32": m.float32, "float64": m.float64, "int32": m.int32,
        "int64": m.int64, "uint8": m.uint8, "bool": m.bool, "string": m.string,
    }
    tf.saved_model.save(m, str(path), signatures=sigs)


def save_shapes(path):
    m = ShapesModel()
    sigs = {
        "serving_default": m.partial,
        "scalar": m.scalar, "partial": m.partial, "fixed": m.fixed,
        "unknown_rank": m.unknown_rank, "partial_3d": m.partial_3d,
    }
    tf.saved_model.save(m, str(path), signatures=sigs)


def _make_keras_export_deterministic():
    """Give Keras' exported variable list a stable order.

    ``model.export()`` lists the variables its endpoints use from
    ``ConcreteFunction.trainable_variables``, which TensorFlow collects in an
    identity-keyed weak set: the order follows memory addresses and changes
    from run to run, and with it ``saved_model.pb`` and the checkpoint bytes
    (never the values).  Sorting that list by variable name makes the export
    byte-identical between runs.  The SavedModel stays a normal ``export()``.
    """
    try:
        from keras.src.export import saved_model_export_archive as archive
    except ImportError:  # another Keras layout: accept a nondeterministic order
        return
    original = getattr(archive, "_list_variables_used_by_fns", None)
    if original is None or getattr(original, "_tfprobe_sorted", False):
        return

    def sorted_variables(fns):
        trainable, non_trainable = original(fns)
        return (sorted(trainable, key=lambda v: v.name),
                sorted(non_trainable, key=lambda v: v.name))

    sorted_variables._tfprobe_sorted = True
    archive._list_variables_used_by_fns = sorted_variables


def save_keras(path):
    import keras
    _make_keras_export_deterministic()
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(4,), name="features")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    scores = keras.layers.Dense(3, activation="softmax", name="scores")(hidden)
    model = keras.Model(inputs, scores, name="tiny_dense")
    model.export(str(path), verbose=False)


KERAS_IMAGE_REL = Path("keras_image/1")
KERAS_IMAGE_SIZE = 64
# Picked by a search over seeds and logit scales: with these the four photos in
# assets/images/ get four different top-1 classes, no top probability is near
# 0.1 (flat) or 1, and ranks 1-6 are at least 1e-3 apart for every photo
# (check_keras_image fails otherwise).
KERAS_IMAGE_SEED = 1614
KERAS_IMAGE_LOGIT_SCALE = 32.0
KERAS_IMAGE_LABELS = ["apple", "ball", "cat", "cup", "dog",
                      "fish", "house", "key", "star", "tree"]


def keras_image_weights():
    """Fixed weights of the keras_image classifier, from KERAS_IMAGE_SEED.

    He-normal conv kernels and small biases.  A random conv net with global
    average pooling gives nearly the same features for every image, so the
    dense layer scores the difference from the features of a uniform mid-grey
    image (0.5 everywhere), scaled by KERAS_IMAGE_LOGIT_SCALE: logits =
    scale * (f - f_grey) @ W.  On a constant image every VALID conv position is
    the same, so f_grey is computed exactly in float64; the dense bias is
    rounded to 1e-4 so that it does not depend on the machine's rounding.
    """
    rng = np.random.default_rng(KERAS_IMAGE_SEED)
    k1 = rng.normal(0.0, np.sqrt(2 / 27), size=(3, 3, 3, 8)).astype(np.float32)
    b1 = rng.normal(0.0, 0.1, size=(8,)).astype(np.float32)
    k2 = rng.normal(0.0, np.sqrt(2 / 72), size=(3, 3, 8, 16)).astype(np.float32)
    b2 = rng.normal(0.0, 0.1, size=(16,)).astype(np.float32)
    w = rng.normal(0.0, 0.25, size=(16, 10)).astype(np.float32)
    h1 = np.maximum(0.5 * k1.astype(np.float64).sum(axis=(0, 1, 2)) + b1, 0.0)
    h2 = np.maximum(np.einsum("c,hwcd->d", h1, k2.astype(np.float64)) + b2, 0.0)
    dense_kernel = (KERAS_IMAGE_LOGIT_SCALE * w.astype(np.float64)).astype(np.float32)
    dense_bias = np.round(-(h2 @ dense_kernel.astype(np.float64)), 4).astype(np.float32)
    return [k1, b1, k2, b2, dense_kernel, dense_bias]


def save_keras_image(path):
    """Keras 3 image classifier exported with ``model.export()``.

    ``images`` float32 (-1, 64, 64, 3), NHWC, values expected in 0..1 (x/255)
    -> Conv2D(8, 3, strides 2, relu) -> Conv2D(16, 3, strides 2, relu) ->
    GlobalAveragePooling2D -> Dense(10, softmax) -> ``output_0`` (-1, 10).
    Signatures ``serve`` and ``serving_default``.  ``assets/labels.txt`` (10
    lines) is written next to the export; the graph does not reference it.
    """
    import keras
    _make_keras_export_deterministic()
    keras.utils.set_random_seed(KERAS_IMAGE_SEED)
    size = KERAS_IMAGE_SIZE
    inputs = keras.Input(shape=(size, size, 3), name="images")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    probs = keras.layers.Dense(len(KERAS_IMAGE_LABELS), activation="softmax",
                               name="probabilities")(x)
    model = keras.Model(inputs, probs, name="tiny_image_classifier")
    model.set_weights(keras_image_weights())
    model.export(str(path), verbose=False)
    (path / "assets").mkdir(exist_ok=True)
    (path / "assets" / "labels.txt").write_text(
        "\n".join(KERAS_IMAGE_LABELS) + "\n", encoding="utf-8")


def save_seedlike(path, workdir):
    labels = workdir / "labels.txt"
    lines = ["background"] + [f"class_{i}" for i in range(1, SEEDLIKE_CLASSES)]
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    m = SeedlikeModel(str(labels))
    sigs = {"serving_default": m.serve, "predict": m.serve}
    tf.saved_model.save(m, str(path), signatures=sigs)


CLASSIFY_CLASSES = [b"low", b"mid", b"high"]
CLASSIFY_EXAMPLES = [[0.0], [1.5], [-2.0, 7.0]]


def save_classify_regress(path):
    """TF1-style graph with the Classify/Regress API's signature kinds.

    ``serving_default`` is a classification signature and ``regress`` a
    regression one: both take serialized ``tf.Example`` protos (``inputs``,
    DT_STRING) with one float feature ``x`` (its first value is used).
    ``predict`` is a plain predict signature over the same graph, for the
    error a classify request on it gets.
    """
    graph = tf.Graph()
    with graph.as_default():
        v1 = tf.compat.v1
        serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
        parsed = tf.io.parse_example(serialized, {
            "x": tf.io.VarLenFeature(tf.float32)})
        x = tf.sparse.to_dense(parsed["x"])[:, :1]
        w = v1.get_variable("w", initializer=tf.constant([[1.0, 0.0, -1.0]]))
        b = v1.get_variable("b", initializer=tf.constant([0.0, 0.5, 0.0]))
        scores = tf.nn.softmax(tf.matmul(x, w) + b, name="scores")
        classes = tf.tile(tf.constant([CLASSIFY_CLASSES]), [tf.shape(x)[0], 1], name="classes")
        values = tf.identity(2.0 * x + 1.0, name="values")
        sdu = v1.saved_model.signature_def_utils
        sigs = {
            "serving_default": sdu.classification_signature_def(serialized, classes, scores),
            "regress": sdu.regression_signature_def(serialized, values),
            "predict": sdu.predict_signature_def({"x": x}, {"y": values}),
        }
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map=sigs)
            builder.save()


def record_classify_regress(model_dir):
    """Python's answers for CLASSIFY_EXAMPLES: the values Classify and Regress must return."""
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=xs))})).SerializeToString()
        for xs in CLASSIFY_EXAMPLES]
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(model_dir))
        runs = {}
        for key in ("serving_default", "regress"):
            sig = meta.signature_def[key]
            fetches = {k: t.name for k, t in sig.outputs.items()}
            runs[key] = sess.run(fetches, {sig.inputs["inputs"].name: examples})
    # Outside the session's graph, so that tf.constant makes eager tensors.
    result = {"examples": CLASSIFY_EXAMPLES}
    for key, out in runs.items():
        result[key] = {k: tensor_json(tf.constant(v)) for k, v in sorted(out.items())}
    text = json.dumps(result, indent=1, sort_keys=True, allow_nan=False) + "\n"
    (OUTPUTS_REL / "classify_regress.json").write_text(text, encoding="utf-8")


def save_linear(path, w, b):
    m = LinearModel(w, b)
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def stabilize_fingerprint(model_dir):
    """Replace the random ``uuid`` of fingerprint.pb by one derived from its content.

    TensorFlow writes a fresh random uuid into ``fingerprint.pb`` on every save;
    everything else in it is a hash of the model.  A content-derived uuid (same
    format: a decimal 128-bit number) keeps regenerated fixtures byte-identical.
    """
    from tensorflow.core.protobuf import fingerprint_pb2
    path = model_dir / "fingerprint.pb"
    if not path.exists():
        return
    fp = fingerprint_pb2.FingerprintDef()
    fp.ParseFromString(path.read_bytes())
    fp.ClearField("uuid")
    digest = hashlib.sha256(fp.SerializeToString(deterministic=True)).digest()
    fp.uuid = str(int.from_bytes(digest[:16], "big"))
    path.write_bytes(fp.SerializeToString(deterministic=True))


def make_broken(base):
    """Broken model directories derived from the valid model `base`."""
    broken = MODELS_REL / "broken"
    pb = (base / "saved_model.pb").read_bytes()

    d = broken / "truncated"
    shutil.copytree(base, d)
    (d / "saved_model.pb").write_bytes(pb[: len(pb) // 2])

    d = broken / "garbage"
    d.mkdir(parents=True)
    rng = np.random.default_rng(SEED + 2)
    (d / "saved_model.pb").write_bytes(rng.integers(0, 256, size=1024, dtype=np.uint8).tobytes())

    d = broken / "empty_pb"
    d.mkdir(parents=True)
    (d / "saved_model.pb").write_bytes(b"")

    d = broken / "no_variables"
    shutil.copytree(base, d)
    shutil.rmtree(d / "variables")

    d = broken / "not_a_model"
    d.mkdir(parents=True)
    (d / "README.txt").write_text(
        "This folder is deliberately not a SavedModel (no saved_model.pb).\n",
        encoding="utf-8")


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------

def make_images():
    IMAGES_REL.mkdir(parents=True)
    h, w = 40, 48
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([
        xx * 255 // (w - 1),
        yy * 255 // (h - 1),
        (xx + yy) * 255 // (w + h - 2),
    ], axis=-1).astype(np.uint8)
    jpeg = tf.io.encode_jpeg(rgb, quality=90).numpy()
    png = tf.io.encode_png(rgb).numpy()
    (IMAGES_REL / "gradient_48x40.jpg").write_bytes(jpeg)
    (IMAGES_REL / "gradient_48x40.png").write_bytes(png)

    gray = (np.add.outer(np.arange(16), np.arange(16)) * 8).astype(np.uint8)[..., None]
    (IMAGES_REL / "gray_16x16.png").write_bytes(tf.io.encode_png(gray).numpy())

    yy, xx = np.mgrid[0:10, 0:20]
    rgba = np.stack([xx * 12, yy * 25, np.full_like(xx, 128), (xx + yy) * 8],
                    axis=-1).astype(np.uint8)
    rgba_png = tf.io.encode_png(rgba).numpy()
    (IMAGES_REL / "rgba_20x10.png").write_bytes(rgba_png)
    gray_png = (IMAGES_REL / "gray_16x16.png").read_bytes()

    (IMAGES_REL / "corrupt.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (IMAGES_REL / "not_an_image.txt").write_text(
        "This is plain text, not an image.\n", encoding="utf-8")
    return {"jpeg": jpeg, "png": png, "gray_png": gray_png, "rgba_png": rgba_png}


# --------------------------------------------------------------------------
# Python TF outputs
# --------------------------------------------------------------------------

def dtype_name(dtype):
    return types_pb2.DataType.Name(tf.as_dtype(dtype).as_datatype_enum)


def tensor_json(t):
    arr = np.asarray(t.numpy() if hasattr(t, "numpy") else t)
    flat = arr.reshape(-1).tolist() if arr.ndim else [arr.item()]
    dt = tf.as_dtype(t.dtype)
    if dt == tf.string:
        values = [{"b64": base64.b64encode(v).decode("ascii")} for v in flat]
    elif dt.is_floating:
        values = [float(v) for v in flat]
    elif dt == tf.bool:
        values = [bool(v) for v in flat]
    else:
        values = [int(v) for v in flat]
    return {"dtype": dtype_name(dt), "shape": list(arr.shape), "values": values}


def run_case(fn, inputs):
    tensors = {k: tf.constant(v[0], dtype=v[1]) for k, v in inputs.items()}
    outputs = fn(**tensors)
    return {
        "inputs": {k: tensor_json(t) for k, t in sorted(tensors.items())},
        "outputs": {k: tensor_json(t) for k, t in sorted(outputs.items())},
    }


def record_outputs(name, model_dir, cases):
    """cases: {signature: [(case_name, {input: (value, dtype)}), ...]}"""
    loaded = tf.saved_model.load(str(model_dir))
    sig_keys = sorted(loaded.signatures.keys())
    missing = set(sig_keys) ^ set(cases)
    if missing:
        raise SystemExit(f"{name}: cases do not match signatures: {sorted(missing)}")
    result = {}
    for key in sig_keys:
        fn = loaded.signatures[key]
        first, *rest = cases[key]
        entry = run_case(fn, first[1])
        if rest:
            entry["extra_cases"] = [dict(name=cname, **run_case(fn, inp)) for cname, inp in rest]
        result[key] = entry
    OUTPUTS_REL.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, sort_keys=True, allow_nan=False) + "\n"
    (OUTPUTS_REL / f"{name}.json").write_text(text, encoding="utf-8")


def all_outputs(images):
    f32, f64, i32, i64 = tf.float32, tf.float64, tf.int32, tf.int64
    u8, bl, st = tf.uint8, tf.bool, tf.string
    record_outputs("dtypes", MODELS_REL / "dtypes/1", {
        "float32": [("basic", {"x": ([1.5, -2.25, 0.1, 3.4028234663852886e38 / 4], f32)})],
        "float64": [("basic", {"x": ([1.5, -2.25, 0.1, 1e300], f64)})],
        "int32": [("basic", {"x": ([0, -1, 41, 2147483646], i32)})],
        "int64": [("basic", {"x": ([0, -1, 41, 9007199254740993], i64)})],
        "uint8": [("basic", {"x": ([0, 1, 254, 255], u8)})],
        "bool": [("basic", {"x": ([True, False, True], bl)})],
        "string": [("basic", {"x": ([b"hello", b"\xff\xfe\x00abc", b"",
                                     "\u00e9t\u00e9".encode("utf-8")], st)})],
        "serving_default": [("basic", {
            "a": ([1.0, 2.5, -3.0], f32),
            "b": ([10, -20, 300], i64),
            "text": ([b"a", b"b\xff", b"c"], st),
            "mask": ([True, False, True], bl),
        })],
    })
    record_outputs("shapes", MODELS_REL / "shapes/1", {
        "scalar": [("basic", {"x": (3.0, f32)})],
        "partial": [("basic", {"x": ([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]], f32)})],
        "serving_default": [("basic", {"x": ([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]], f32)}),
                            ("empty_batch", {"x": (np.zeros((0, 3), np.float32), f32)})],
        "fixed": [("basic", {"m": ([[1.0, 2.0], [3.0, 4.0]], f32), "v": ([1, 2, 3], i32)})],
        "unknown_rank": [("rank2", {"x": ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], f32)}),
                         ("rank0", {"x": (7.0, f32)}),
                         ("rank3", {"x": (np.arange(8, dtype=np.float32).reshape(2, 2, 2), f32)})],
        "partial_3d": [("basic", {"x": (np.arange(24, dtype=np.int64).reshape(2, 3, 4), i64)})],
    })
    keras_cases = [("basic", {"features": ([[1.0, 2.0, 3.0, 4.0],
                                            [-1.0, 0.0, 0.5, 2.0]], f32)})]
    record_outputs("keras_export", MODELS_REL / "keras_export/1",
                   {"serving_default": keras_cases, "serve": keras_cases})
    seed_cases = [
        ("jpeg_and_png", {"image_bytes": ([images["jpeg"], images["png"]], st)}),
        ("single_jpeg", {"image_bytes": ([images["jpeg"]], st)}),
        ("four_images", {"image_bytes": ([images["jpeg"], images["png"], images["gray_png"],
                                          images["rgba_png"]], st)}),
        ("empty_batch", {"image_bytes": (np.zeros((0,), dtype=object), st)}),
    ]
    record_outputs("seedlike", MODELS_REL / "seedlike/1538687457",
                   {"serving_default": seed_cases, "predict": seed_cases})
    for v in ("1", "2"):
        record_outputs(f"two_versions_{v}", MODELS_REL / "two_versions" / v, {
            "serving_default": [("basic", {"x": ([0.0, 1.0, 2.5, -4.0], f32)})],
        })


def unit_image(data):
    """Image bytes -> float32 (64, 64, 3) in 0..1: decode (3 channels), resize
    to 64x64 (bilinear, antialias off, no crop), divide by 255."""
    img = tf.io.decode_image(data, channels=3, expand_animations=False)
    img = tf.image.resize(img, [KERAS_IMAGE_SIZE, KERAS_IMAGE_SIZE],
                          method="bilinear", antialias=False)
    return (img / 255.0).numpy().astype(np.float32)


def keras_image_patterns():
    """Two synthetic 64x64 RGB images in 0..1 whose values are multiples of 1/8
    (short in JSON): colour ramps, and rings around the centre."""
    n = KERAS_IMAGE_SIZE
    yy, xx = np.mgrid[0:n, 0:n]
    ramp = np.stack([xx // 8 / 8, yy // 8 / 8, 1 - xx // 8 / 8], axis=-1)
    ring = np.minimum(np.floor(np.hypot(xx - (n - 1) / 2, yy - (n - 1) / 2) / 4) / 8, 1.0)
    rings = np.stack([1 - ring, ring, np.full_like(ring, 0.5)], axis=-1)
    return np.stack([ramp, rings]).astype(np.float32)


def keras_image_cases():
    """A batch of two for serving_default, one image for serve (the same function).

    Each image is 12288 values, so the cases are few and small-valued.  No
    empty batch: the exported convolutions reject batch 0 on the CPU ("input
    depth must be evenly divisible by filter depth: 3 vs 8").
    """
    patterns = keras_image_patterns()
    return {"serving_default": [("patterns", {"images": (patterns, tf.float32)})],
            "serve": [("rings", {"images": (patterns[1:], tf.float32)})]}


def keras_image_photos():
    """(name, bytes) of the photos the classifier is checked on."""
    names = sorted(p.name for p in Path("assets/images").iterdir())
    out = [(f"assets/images/{n}", (Path("assets/images") / n).read_bytes()) for n in names]
    for n in ("gradient_48x40.jpg", "gradient_48x40.png", "gray_16x16.png", "rgba_20x10.png"):
        out.append((f"{IMAGES_REL.as_posix()}/{n}", (IMAGES_REL / n).read_bytes()))
    return out


def check_keras_image(model_dir):
    """Fail unless the classifier's answers are distinguishable; print top-5.

    For every photo and every recorded case: top probability above 0.2 (not
    flat), ranks 1-6 at least 1e-3 apart (stable top-5 rankings); the photos of
    assets/images/ get different top-1 classes.
    """
    fn = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    photos = keras_image_photos()
    probs = fn(images=tf.constant(np.stack([unit_image(b) for _, b in photos])))["output_0"]
    rows = list(zip([n for n, _ in photos], probs.numpy()))
    recorded = json.loads((OUTPUTS_REL / "keras_image.json").read_text(encoding="utf-8"))
    for key, entry in sorted(recorded.items()):
        out = tensor_from_json(entry["outputs"]["output_0"])
        rows += [(f"{key} case [{i}]", r) for i, r in enumerate(out)]
    for name, p in rows:
        order = np.argsort(-p, kind="stable")
        top = p[order]
        gap = float(np.min(top[:5] - top[1:6]))
        log(f"  {name}: top-5 " + ", ".join(f"{i} {p[i]:.6f}" for i in order[:5])
            + f" (min gap ranks 1-6: {gap:.2e})")
        if top[0] <= 0.2 or gap < 1e-3:
            raise SystemExit(f"keras_image: {name} too flat or near-tied: {top[:6]}")
    top1 = [int(np.argmax(p)) for n, p in rows if n.startswith("assets/")]
    if len(set(top1)) != len(top1):
        raise SystemExit(f"keras_image: photos share a top-1 class: {top1}")


def make_keras_image():
    """(Re)build only keras_image: model, outputs json and saved_model_cli views."""
    model_dir = MODELS_REL / KERAS_IMAGE_REL
    cli_dir = CLI_REL / KERAS_IMAGE_REL
    for d in (model_dir, cli_dir):
        if d.exists():
            shutil.rmtree(d)
    (OUTPUTS_REL / "keras_image.json").unlink(missing_ok=True)
    log(f"model {model_dir.as_posix()}")
    save_keras_image(model_dir)
    stabilize_fingerprint(model_dir)
    log("python outputs")
    record_outputs("keras_image", model_dir, keras_image_cases())
    log(f"  session loader {KERAS_IMAGE_REL.as_posix()}: "
        f"{check_session_loader('keras_image', model_dir)}")
    log("photos")
    check_keras_image(model_dir)
    record_cli(KERAS_IMAGE_REL.as_posix())
    check_no_machine_paths()
    total = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    log(f"done: {total} bytes under {model_dir.as_posix()}/")


def tensor_from_json(t):
    shape = t["shape"]
    if t["dtype"] == "DT_STRING":
        values = [base64.b64decode(v["b64"]) for v in t["values"]]
        return np.array(values, dtype=object).reshape(shape)
    np_dtype = tf.as_dtype(types_pb2.DataType.Value(t["dtype"])).as_numpy_dtype
    return np.array(t["values"], dtype=np_dtype).reshape(shape)


def check_session_loader(name, model_dir):
    """Load with the C++ session loader (what the C API uses) and compare.

    ``tf.compat.v1.saved_model.load`` runs the same SavedModel bundle loader as
    ``TF_LoadSessionFromSavedModel``; feeding and fetching by the signature's
    tensor names is what tfprobe does.  Returns a short status string.
    """
    recorded = json.loads((OUTPUTS_REL / f"{name}.json").read_text(encoding="utf-8"))
    worst = 0.0
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        level = tf.get_logger().level
        tf.get_logger().setLevel("ERROR")  # hide the "load is deprecated" warning
        try:
            mg = tf.compat.v1.saved_model.load(sess, ["serve"], str(model_dir))
        finally:
            tf.get_logger().setLevel(level)
        for key, entry in sorted(recorded.items()):
            sig = mg.signature_def[key]
            for case in [entry] + entry.get("extra_cases", []):
                feed = {sig.inputs[k].name: tensor_from_json(v) for k, v in case["inputs"].items()}
                fetch = {k: sig.outputs[k].name for k in sig.outputs}
                got = sess.run(fetch, feed)
                for k, want in case["outputs"].items():
                    want_arr = tensor_from_json(want)
                    g = np.asarray(got[k])
                    if g.shape != want_arr.shape:
                        raise SystemExit(f"{name}/{key}/{k}: shape {g.shape} != {want_arr.shape}")
                    if g.dtype.kind == "f":
                        if g.size:
                            worst = max(worst, float(np.max(np.abs(g - want_arr))))
                    elif not np.array_equal(g, want_arr):
                        raise SystemExit(f"{name}/{key}/{k}: session loader output differs")
    if worst > 1e-5:
        raise SystemExit(f"{name}: session loader floats differ by {worst}")
    return "identical" if worst == 0.0 else f"max float difference {worst}"


def check_all_session_loader():
    for name, rel in [("dtypes", "dtypes/1"), ("shapes", "shapes/1"),
                      ("keras_export", "keras_export/1"),
                      ("seedlike", "seedlike/1538687457"),
                      ("two_versions_1", "two_versions/1"),
                      ("two_versions_2", "two_versions/2")]:
        log(f"  session loader {rel}: {check_session_loader(name, MODELS_REL / rel)}")


# --------------------------------------------------------------------------
# saved_model_cli recordings
# --------------------------------------------------------------------------

def _path_replacements():
    """(absolute prefix, placeholder) pairs, longest first."""
    pairs = [
        (str(REPO) + os.sep, ""),
        (str(REPO), "."),
        (sys.prefix, "<venv>"),
        (os.path.realpath(sys.prefix), "<venv>"),
        (sys.base_prefix, "<python>"),
        (os.path.realpath(sys.base_prefix), "<python>"),
        (tempfile.gettempdir(), "<tmp>"),
    ]
    seen, out = set(), []
    for a, b in sorted(pairs, key=lambda p: -len(p[0])):
        if a and a not in seen and a != os.sep:
            seen.add(a)
            out.append((a, b))
    return out


# TensorFlow's C++ logging prefix, e.g. "I0000 00:00:1795633293.731986    5006 port.cc:153] ":
# severity, date, time, thread id.  Time and thread id change on every run.
_GLOG_PREFIX = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ ", re.MULTILINE)
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"


def sanitize(text):
    for prefix, repl in _path_replacements():
        text = text.replace(prefix, repl)
    return text


def normalize_stderr(text):
    """Remove machine paths and the per-run time / thread id of log lines."""
    return _GLOG_PREFIX.sub(r"\1<time> <tid> ", sanitize(text))


def smcli_path():
    return str(Path(sys.executable).parent / "saved_model_cli")


_NO_ASLR = None


def no_aslr_prefix():
    """``setarch <arch> -R`` where it works, else nothing.

    Protobuf's map iteration order (visible in saved_model_cli's "Please choose
    from: ..." message) is seeded from a memory address; with address-space
    randomisation off it is the same on every run.
    """
    global _NO_ASLR
    if _NO_ASLR is None:
        cmd = ["setarch", platform.machine(), "-R"]
        try:
            ok = subprocess.run(cmd + ["true"], capture_output=True).returncode == 0
        except OSError:
            ok = False
        _NO_ASLR = cmd if ok else []
    return _NO_ASLR


def run_smcli(out_dir, view, args):
    """Run `saved_model_cli show ARGS`, store stdout bytes and a metadata json."""
    argv = ["saved_model_cli", "show"] + args
    env = dict(os.environ)
    env.update(FIXED_ENV)
    proc = subprocess.run(no_aslr_prefix() + [smcli_path()] + argv[1:], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout = proc.stdout
    stderr = proc.stderr.decode("utf-8", errors="replace")
    if sanitize(stdout.decode("utf-8", errors="replace")) != stdout.decode("utf-8", errors="replace"):
        raise SystemExit(f"absolute path in stdout of {argv}")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{view}.txt").write_bytes(stdout)
    # The message a user sees: the last stderr line that is not TF/absl logging
    # (for a failure, the "ExceptionType: message" line of the traceback).
    lines = [ln for ln in sanitize(stderr).splitlines()
             if ln.strip() and not _GLOG_PREFIX.match(ln) and not ln.startswith(_ABSL_PREAMBLE)]
    stderr = normalize_stderr(stderr)
    meta = {
        "argv": argv,
        "cwd": "<repository root>",
        "env": FIXED_ENV,
        "aslr_disabled": bool(no_aslr_prefix()),
        "exit_code": proc.returncode,
        "stdout_file": f"{view}.txt",
        "stderr": stderr,
        "error_line": lines[-1] if lines else "",
    }
    (out_dir / f"{view}.json").write_text(
        json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    log(f"  {view}: exit {proc.returncode}, {len(stdout)} bytes")
    return proc.returncode


def signature_keys(model_dir):
    try:
        sm = saved_model_pb2.SavedModel()
        sm.ParseFromString((model_dir / "saved_model.pb").read_bytes())
        for mg in sm.meta_graphs:
            if list(mg.meta_info_def.tags) == ["serve"]:
                return sorted(mg.signature_def.keys())
    except Exception:  # noqa: BLE001 - broken fixtures are expected here
        pass
    return []


def record_cli(rel_model, extra=False, list_ops=True):
    model_dir = MODELS_REL / rel_model
    out_dir = CLI_REL / rel_model
    d = model_dir.as_posix()
    log(f"saved_model_cli on {d}")
    run_smcli(out_dir, "tagsets", ["--dir", d])
    run_smcli(out_dir, "signatures", ["--dir", d, "--tag_set", "serve"])
    keys = signature_keys(model_dir) or ["serving_default"]
    for k in keys:
        run_smcli(out_dir, f"sig_{k}", ["--dir", d, "--tag_set", "serve", "--signature_def", k])
    run_smcli(out_dir, "all", ["--dir", d, "--all"])
    if list_ops:
        run_smcli(out_dir, "list_ops", ["--dir", d, "--tag_set", "serve", "--list_ops"])
    if extra:
        run_smcli(out_dir, "bad_tag_set", ["--dir", d, "--tag_set", "train"])
        run_smcli(out_dir, "bad_signature",
                  ["--dir", d, "--tag_set", "serve", "--signature_def", "no_such_signature"])


def all_cli():
    record_cli("dtypes/1", extra=True)
    record_cli("shapes/1")
    record_cli("keras_export/1")
    record_cli("seedlike/1538687457")
    record_cli("two_versions/1")
    record_cli("two_versions/2")
    record_cli("classify_regress/1")
    for b in ("truncated", "garbage", "empty_pb", "no_variables", "not_a_model"):
        record_cli(f"broken/{b}", list_ops=False)
    empty = MODELS_REL / "broken" / "empty_dir"
    empty.mkdir(parents=True)
    try:
        record_cli("broken/empty_dir", list_ops=False)
    finally:
        empty.rmdir()
    record_cli("broken/nonexistent", list_ops=False)


# --------------------------------------------------------------------------
# Checks and main
# --------------------------------------------------------------------------

def check_no_machine_paths():
    needles = {str(REPO), sys.prefix, os.path.realpath(sys.prefix),
               sys.base_prefix, tempfile.gettempdir() + os.sep, os.path.expanduser("~") + os.sep}
    needles = {n for n in needles if len(n) > 1}
    for p in sorted(FIXTURES_REL.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        for n in needles:
            if n.encode() in data:
                raise SystemExit(f"{p} contains a machine path ({n!r})")


def main():
    parser = argparse.ArgumentParser(description="Regenerate tests/fixtures/.")
    parser.add_argument("--only", choices=["keras_image"],
                        help="rebuild only this fixture (model, outputs json, "
                             "saved_model_cli views); every other file stays as it is")
    args = parser.parse_args()
    os.chdir(REPO)  # every path in this script is relative to the repository root
    if args.only == "keras_image":
        log(f"TensorFlow {tf.__version__}; rebuilding keras_image only")
        make_keras_image()
        return
    log(f"TensorFlow {tf.__version__}; rebuilding {FIXTURES_REL}/")
    if FIXTURES_REL.exists():
        shutil.rmtree(FIXTURES_REL)
    MODELS_REL.mkdir(parents=True)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        log("models")
        save_dtypes(MODELS_REL / "dtypes/1")
        save_shapes(MODELS_REL / "shapes/1")
        save_keras(MODELS_REL / "keras_export/1")
        save_seedlike(MODELS_REL / "seedlike/1538687457", tmp)
        save_linear(MODELS_REL / "two_versions/1", 2.0, 1.0)
        save_linear(MODELS_REL / "two_versions/2", 3.0, -1.0)
        save_classify_regress(MODELS_REL / "classify_regress/1")
        for fp in sorted(MODELS_REL.rglob("fingerprint.pb")):
            stabilize_fingerprint(fp.parent)
        make_broken(MODELS_REL / "two_versions/1")

    log("images")
    images = make_images()
    log("python outputs")
    all_outputs(images)
    record_classify_regress(MODELS_REL / "classify_regress/1")
    log("session loader check")
    check_all_session_loader()
    log("saved_model_cli")
    all_cli()
    # TensorFlow numbers traced functions process-wide, so keras_image is built in
    # a fresh process: the same bytes as `--only keras_image`.
    log("keras_image (fresh process)")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--only", "keras_image"],
                   check=True)
    check_no_machine_paths()
    total = sum(p.stat().st_size for p in FIXTURES_REL.rglob("*") if p.is_file())
    log(f"done: {total} bytes under {FIXTURES_REL}/")


if __name__ == "__main__":
    main()
