"""refx_client: a Python client of refx, the partnership referral exchange.

    from refx_client import Client, NotFound
    client = Client.from_profile("dev-pki/profiles.yaml", "leicestershire-police",
                                 acting_user="j.smith")
    referral = client.create_referral(referral)          # retried safely by request id
    for event in client.watch(after_sequence=0):         # resumes by sequence by itself
        ...

Messages are the generated protobuf classes, re-exported as `refx_client.pb`
(refx.v1) and `refx_client.pb_status` (google.rpc). Errors are RefxError
subclasses carrying the server's decoded details (ErrorInfo reason, field
violations, retry delay). Generate the stubs first: clients/python/generate.sh.
"""
import os
import sys

_GENERATED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_generated")
if not os.path.isdir(os.path.join(_GENERATED, "refx")):
    raise ImportError("refx_client: the generated stubs are missing; run clients/python/generate.sh")
# The generated modules import each other as top-level packages (refx.v1,
# google.rpc): `google` is a namespace package, so our google.rpc and the
# installed google.protobuf live side by side.
if _GENERATED not in sys.path:
    sys.path.insert(0, _GENERATED)

from refx.v1 import referral_pb2, referral_service_pb2, case_update_pb2  # noqa: E402

from .errors import (  # noqa: E402
    Aborted, AlreadyExists, DeadlineExceeded, FailedPrecondition, Internal, InvalidArgument, NotFound,
    PermissionDenied, RefxError, ResourceExhausted, Unauthenticated, Unavailable, error_from_rpc)
from .client import Client, Profile, load_profile  # noqa: E402


class _Messages:
    """The refx.v1 message classes under one name: pb.Referral, pb.Strand, ..."""

    def __init__(self, *modules):
        for module in modules:
            for name in dir(module):
                if not name.startswith("_"):
                    setattr(self, name, getattr(module, name))


pb = _Messages(referral_pb2, referral_service_pb2, case_update_pb2)

__all__ = [
    "Client", "Profile", "load_profile", "pb", "error_from_rpc", "RefxError", "InvalidArgument", "NotFound",
    "AlreadyExists", "PermissionDenied", "Unauthenticated", "FailedPrecondition", "Aborted",
    "ResourceExhausted", "Unavailable", "DeadlineExceeded", "Internal",
]
