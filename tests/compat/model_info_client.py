"""Model status and metadata over gRPC with TF Serving's official Python API:
GetModelStatus (ModelService) and GetModelMetadata (PredictionService, the
signature_def map packed in a google.protobuf.Any).

    python model_info_client.py localhost:8500 resnet
"""

import sys

import grpc
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc


def run(server, model):
    channel = grpc.insecure_channel(server)

    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = model
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request, 10.0)
    for version in status.model_version_status:
        state = get_model_status_pb2.ModelVersionStatus.State.Name(version.state)
        print("version {} {} {}".format(version.version, state, version.status.error_code))

    metadata_request = get_model_metadata_pb2.GetModelMetadataRequest()
    metadata_request.model_spec.name = model
    metadata_request.metadata_field.append("signature_def")
    metadata = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(metadata_request, 10.0)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    metadata.metadata["signature_def"].Unpack(signatures)
    for key in sorted(signatures.signature_def):
        signature = signatures.signature_def[key]
        inputs = ", ".join("{}:{}".format(name, info.dtype) for name, info in sorted(signature.inputs.items()))
        print("signature {} inputs {} method {}".format(key, inputs, signature.method_name))


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
