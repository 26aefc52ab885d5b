"""The seed's gRPC client flow against `tfprobe serve`, with TF Serving's
official Python API (tensorflow-serving-api) and no TensorFlow.

The seed builds its input with tf.make_tensor_proto(jpeg_bytes, shape=[1]);
that helper lives in TensorFlow, so the same TensorProto (dtype DT_STRING,
shape [1], the bytes in string_val) is built here with the protobuf types.
Prints the whole PredictResponse, as the seed's client does.

    python grpc_client.py localhost:8500 image.jpg
"""

import sys

import grpc
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


def image_tensor(data):
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]),
        string_val=[data],
    )


def run(server, image_path):
    with open(image_path, "rb") as image:
        data = image.read()
    channel = grpc.insecure_channel(server)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "resnet"
    request.model_spec.signature_name = "serving_default"
    request.inputs["image_bytes"].CopyFrom(image_tensor(data))
    result = stub.Predict(request, 10.0)  # 10 second deadline
    print(result)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
