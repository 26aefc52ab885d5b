"""Reads a TF Serving warmup file (assets.extra/tf_serving_warmup_requests) with the
official tensorflow-serving-api protos, as TF Serving's loader does: TFRecord frames
(length, masked CRC32C of the length, data, masked CRC32C of the data), each holding
a serialized tensorflow.serving.PredictionLog. Prints one JSON object per record.

    python warmup_reader.py FILE
"""

import base64
import json
import struct
import sys
import types

from google.protobuf import descriptor_pb2, descriptor_pool


def stub_session_service():
    """prediction_log.proto imports session_service.proto for its session_run_log
    field, and that imports TensorFlow's config.proto (and a dozen more), which the
    compat venv does not generate. Everything a warmup file holds (PredictionLog,
    PredictLog, PredictRequest, TensorProto) stays official; only the two session
    messages are declared here, empty, so the official module loads."""
    name = "tensorflow_serving/apis/session_service.proto"
    stub = descriptor_pb2.FileDescriptorProto(
        name=name, package="tensorflow.serving", syntax="proto3"
    )
    for message in ("SessionRunRequest", "SessionRunResponse"):
        stub.message_type.add(name=message)
    descriptor_pool.Default().Add(stub)
    module = "tensorflow_serving.apis.session_service_pb2"
    sys.modules[module] = types.ModuleType(module)


stub_session_service()
from tensorflow_serving.apis import prediction_log_pb2  # noqa: E402


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def records(blob):
    at = 0
    while at < len(blob):
        length_bytes = blob[at : at + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", blob[at + 8 : at + 12])
        if masked(length_bytes) != length_crc:
            raise SystemExit(f"bad length checksum at {at}")
        data = blob[at + 12 : at + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[at + 12 + length : at + 16 + length])
        if masked(data) != data_crc:
            raise SystemExit(f"bad data checksum at {at}")
        yield data
        at += 16 + length


def main():
    with open(sys.argv[1], "rb") as file:
        blob = file.read()
    for data in records(blob):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(data)
        request = log.predict_log.request
        print(
            json.dumps(
                {
                    "log_type": log.WhichOneof("log_type"),
                    "model_name": request.model_spec.name,
                    "signature_name": request.model_spec.signature_name,
                    "inputs": {
                        key: {
                            "dtype": tensor.dtype,
                            "shape": [dim.size for dim in tensor.tensor_shape.dim],
                            "string_val": [
                                base64.b64encode(value).decode() for value in tensor.string_val
                            ],
                        }
                        for key, tensor in request.inputs.items()
                    },
                }
            )
        )


main()
