#!/usr/bin/env bash
# Generates the Python message and gRPC stubs of the refx API into
# refx_client/_generated/ (not committed), with Debian's tools only:
#   protoc (protobuf-compiler) --python_out and --grpc_out through
#   grpc_python_plugin (protobuf-compiler-grpc).
# Debian's python3-grpc-tools (1.14) cannot be used: it rejects proto3
# `optional`, which the refx API uses.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto="$here/../../proto"
out="$here/refx_client/_generated"
rm -rf "$out"
mkdir -p "$out"
protos=(google/rpc/status.proto google/rpc/error_details.proto google/api/field_behavior.proto google/api/resource.proto
        refx/v1/data_class.proto refx/v1/referral.proto refx/v1/case_update.proto
        refx/v1/referral_service.proto refx/v1/audit_service.proto refx/v1/reporting_service.proto)
protoc -I "$proto" --python_out="$out" "${protos[@]}"
protoc -I "$proto" --grpc_out="$out" --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" \
  refx/v1/referral_service.proto refx/v1/audit_service.proto refx/v1/reporting_service.proto
echo "generated $(find "$out" -name '*_pb2*.py' | wc -l) modules into $out"
