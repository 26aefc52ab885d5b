#!/usr/bin/env python3
"""Writes tests/fixtures/models/tf1_softmax/1: a TF1 graph (tf.compat.v1 Builder,
no functions) shaped like the seed article's ResNet: `Placeholder` → conv → dense →
`softmax_tensor` and `ArgMax`, with name scopes, for the graph inspector's tests.

    .venv-resnet/bin/python tools/make_tf1_fixture.py   # needs tensorflow-cpu==2.21.0
"""
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf1 = tf.compat.v1
root = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "models", "tf1_softmax")
out = os.path.join(root, "1")
shutil.rmtree(root, ignore_errors=True)
graph = tf.Graph()
with graph.as_default():
    rng = np.random.default_rng(7)
    images = tf1.placeholder(tf.float32, [None, 8, 8, 3], name="Placeholder")
    with tf1.variable_scope("conv1"):
        kernel = tf1.get_variable("kernel", initializer=rng.normal(size=(3, 3, 3, 4)).astype("float32"))
        bias = tf1.get_variable("bias", initializer=np.zeros(4, "float32"))
        conv = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(images, kernel, 1, "SAME"), bias))
    with tf1.variable_scope("dense"):
        flat = tf.reshape(conv, [-1, 8 * 8 * 4])
        weights = tf1.get_variable("kernel", initializer=rng.normal(size=(256, 5)).astype("float32"))
        moving = tf1.get_variable("moving_scale", initializer=np.ones(5, "float32"), trainable=False)
        logits = tf.matmul(flat, weights) * moving
    probabilities = tf.nn.softmax(logits, name="softmax_tensor")
    classes = tf.argmax(logits, axis=1, name="ArgMax")
    with tf1.Session(graph=graph) as session:
        session.run(tf1.global_variables_initializer())
        builder = tf1.saved_model.Builder(out)
        signature = tf1.saved_model.signature_def_utils.predict_signature_def(
            inputs={"images": images}, outputs={"probabilities": probabilities, "classes": classes}
        )
        builder.add_meta_graph_and_variables(
            session, ["serve"], signature_def_map={"serving_default": signature}
        )
        builder.save()
print("wrote", os.path.normpath(out))
