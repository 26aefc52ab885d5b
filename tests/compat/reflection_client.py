"""What grpcurl does, with gRPC's own Python reflection client: list the
services through server reflection, resolve PredictionService and its
messages from the descriptors the server sends (no local .proto or _pb2
files), call GetModelMetadata with dynamically built messages, and check the
standard health service.

    python reflection_client.py localhost:8500 resnet
"""

import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def run(server, model):
    channel = grpc.insecure_channel(server)
    database = ProtoReflectionDescriptorDatabase(channel)
    for service in sorted(database.get_services()):
        print("service", service)

    pool = descriptor_pool.DescriptorPool(database)
    service = pool.FindServiceByName("tensorflow.serving.PredictionService")
    print("methods", " ".join(method.name for method in service.methods))
    method = service.FindMethodByName("GetModelMetadata")
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        "/{}/{}".format(service.full_name, method.name),
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    request = request_class()
    request.model_spec.name = model
    request.metadata_field.append("signature_def")
    response = call(request, timeout=10.0)
    print("metadata", response.model_spec.name, response.model_spec.version.value,
          response.metadata["signature_def"].type_url)

    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10.0)
    print("health", health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
