"""A client of the Open Inference Protocol's gRPC service for the tests, on grpcio with the stubs that
grpcio-tools generates from packages/server/proto/grpc_predict_v2.proto (the test generates them and
passes their folder). It reads a plan as JSON on stdin:

    {"target": "127.0.0.1:PORT", "stubs": "/tmp/dir", "calls": [
        {"method": "ModelInfer", "request": {...},       # the message as protobuf JSON (bytes in base64)
         "raw_request": "base64",                          # or: these bytes sent as the message, unparsed
         "metadata": [["authorization", "Bearer KEY"]], "timeout": 10}]}

and prints one result per call, in order: {"code": "OK" | "INVALID_ARGUMENT" | ..., "details": str,
"response": message as protobuf JSON or null, "initial": {...}, "trailing": {...}}.
"""
import base64
import json
import sys

import grpc


def main():
    plan = json.load(sys.stdin)
    sys.path.insert(0, plan["stubs"])
    import grpc_predict_v2_pb2 as pb2
    import grpc_predict_v2_pb2_grpc as pb2_grpc
    from google.protobuf import json_format

    # The client's own receive limit is grpcio's 4 MiB by default; answers here stay far below it.
    with grpc.insecure_channel(plan["target"]) as channel:
        stub = pb2_grpc.GRPCInferenceServiceStub(channel)
        results = []
        for call in plan["calls"]:
            method = call["method"]
            metadata = [tuple(pair) for pair in call.get("metadata", [])]
            timeout = call.get("timeout", 30)
            response_type = getattr(pb2, method + "Response")
            if "raw_request" in call:
                raw = channel.unary_unary(
                    "/inference.GRPCInferenceService/" + method,
                    request_serializer=None,
                    response_deserializer=response_type.FromString,
                )
                invoke = lambda: raw.with_call(base64.b64decode(call["raw_request"]), metadata=metadata, timeout=timeout)
            else:
                request = json_format.ParseDict(call.get("request", {}), getattr(pb2, method + "Request")())
                invoke = lambda: getattr(stub, method).with_call(request, metadata=metadata, timeout=timeout)
            try:
                response, rpc = invoke()
                results.append(result("OK", "", response, rpc, json_format))
            except grpc.RpcError as error:
                results.append(result(error.code().name, error.details() or "", None, error, json_format))
    json.dump(results, sys.stdout)


def result(code, details, response, rpc, json_format):
    return {
        "code": code,
        "details": details,
        "response": None
        if response is None
        else json_format.MessageToDict(response, preserving_proto_field_name=True),
        "initial": metadata_dict(rpc.initial_metadata()),
        "trailing": metadata_dict(rpc.trailing_metadata()),
    }


def metadata_dict(metadata):
    return {key: value for key, value in (metadata or ()) if isinstance(value, str)}


if __name__ == "__main__":
    main()
