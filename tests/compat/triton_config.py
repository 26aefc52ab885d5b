"""Parses a Triton config.pbtxt into Triton's own ModelConfig message (the protos
shipped in the tritonclient package) and prints it as JSON, proto field names kept.
A syntax error, an unknown field or a wrong enum value fails the parse.

    python tests/compat/triton_config.py MODEL_REPOSITORY/NAME/config.pbtxt
"""

import json
import sys

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

with open(sys.argv[1], encoding="utf-8") as file:
    config = text_format.Parse(file.read(), model_config_pb2.ModelConfig())
print(json.dumps(json_format.MessageToDict(config, preserving_proto_field_name=True)))
