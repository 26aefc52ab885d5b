#!/usr/bin/env python3
"""Python TensorFlow's in-process predict latency, for `cargo bench --bench local_predict`.

Loads a SavedModel and times batch-of-one calls with the same input tfprobe's benchmark
uses, in two ways:

* ``signature``: ``tf.saved_model.load(dir).signatures[key](**inputs)`` (the TF2 way);
* ``session``: a TF1 ``Session`` from ``tf.compat.v1.saved_model.loader.load`` fed and
  fetched by the signature's tensor names (the C API path tfprobe uses, and what
  ``saved_model_cli run`` does).

Prints one JSON object: per mode p50/p90/p99/mean latency (ms) and sequential throughput
(runs/s), plus load time and the process's peak RSS (MB).

Usage::

    .venv-tf/bin/python tools/bench_python_predict.py --model DIR --input-json FILE \
        [--signature serving_default] [--runs 1000] [--warmup 50]

``--input-json`` holds ``{"<input key>": {"dtype": "DT_STRING", "shape": [1],
"values": [{"b64": "..."}]}}`` (the format of tests/fixtures/outputs/*.json).
"""

import argparse
import base64
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

NP_TYPES = {
    "DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32,
    "DT_INT64": np.int64, "DT_UINT8": np.uint8, "DT_BOOL": np.bool_,
}


def tensor_from_json(spec):
    shape = spec["shape"]
    if spec["dtype"] == "DT_STRING":
        values = [base64.b64decode(v["b64"]) if isinstance(v, dict) else v.encode()
                  for v in spec["values"]]
        return np.array(values, dtype=object).reshape(shape)
    return np.array(spec["values"], dtype=NP_TYPES[spec["dtype"]]).reshape(shape)


def rss_mb():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def summarize(samples_s):
    ms = sorted(s * 1e3 for s in samples_s)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return {
        "p50_ms": statistics.median(ms),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "mean_ms": statistics.fmean(ms),
        "throughput_per_s": len(ms) / sum(samples_s),
    }


def time_calls(call, runs, warmup):
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return summarize(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--input-json", required=True)
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()

    with open(args.input_json) as f:
        inputs = {key: tensor_from_json(spec) for key, spec in json.load(f).items()}
    result = {"tensorflow": tf.__version__, "python": sys.version.split()[0]}

    start = time.perf_counter()
    loaded = tf.saved_model.load(args.model)
    fn = loaded.signatures[args.signature]
    result["load_ms"] = (time.perf_counter() - start) * 1e3
    tf_inputs = {key: tf.constant(value) for key, value in inputs.items()}
    result["signature"] = time_calls(lambda: fn(**tf_inputs), args.runs, args.warmup)
    result["rss_after_signature_mb"] = current_rss_mb()

    graph = tf.Graph()
    with graph.as_default():
        session = tf.compat.v1.Session(graph=graph)
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], args.model)
        signature = meta.signature_def[args.signature]
        feeds = {signature.inputs[key].name: value for key, value in inputs.items()}
        fetches = {key: info.name for key, info in signature.outputs.items()}
        result["session"] = time_calls(lambda: session.run(fetches, feeds), args.runs, args.warmup)
    result["peak_rss_mb"] = rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
