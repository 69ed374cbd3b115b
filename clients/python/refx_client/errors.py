"""RPC errors as typed exceptions, with the rich details refx sends decoded.

refx puts a google.rpc.Status in the `grpc-status-details-bin` trailer:
ErrorInfo (a stable `reason` such as FIELD_NOT_SHARED or ETAG_MISMATCH, and
metadata), BadRequest (field violations) and RetryInfo. Debian has no
grpcio-status, so the trailer is decoded here with the generated stubs.
"""
import grpc
from google.rpc import error_details_pb2, status_pb2


class RefxError(Exception):
    """An RPC refx refused or could not complete.

    code: grpc.StatusCode; message: the server's message; reason: the
    ErrorInfo reason ("" if none); metadata: the ErrorInfo metadata;
    field_violations: [(field, description)]; retry_delay: seconds the server
    asks a retry to wait, or None; request_id: the idempotency key of a write
    whose outcome is unknown (retry with it), or None; call_id: the server's
    name for the call (RequestInfo), to quote when reporting a problem;
    quota_violations: [(subject, description)] of a limit that was hit.
    """

    def __init__(self, code, message, reason="", metadata=None, field_violations=(), retry_delay=None,
                 request_id=None, call_id=None, quota_violations=()):
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations)
        self.retry_delay = retry_delay
        self.request_id = request_id
        self.call_id = call_id
        self.quota_violations = list(quota_violations)
        text = f"{code.name}: {message}"
        if reason:
            text += f" [{reason}]"
        if call_id:
            text += f" (call {call_id})"
        for field, description in self.field_violations:
            text += f"\n  {field}: {description}"
        super().__init__(text)

    @property
    def outcome_unknown(self):
        """Whether a write may or may not have happened: retry it with the same request id."""
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                             grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


class InvalidArgument(RefxError): pass            # noqa: E701  the request is wrong: see field_violations
class NotFound(RefxError): pass                   # noqa: E701  absent, or not yours to see (the same answer)
class AlreadyExists(RefxError): pass              # noqa: E701
class PermissionDenied(RefxError): pass           # noqa: E701  the agreement does not allow it
class Unauthenticated(RefxError): pass            # noqa: E701  certificate refused, expired or revoked
class FailedPrecondition(RefxError): pass         # noqa: E701  not in a state that allows it
class Aborted(RefxError): pass                    # noqa: E701  stale etag: read again, then retry
class ResourceExhausted(RefxError): pass          # noqa: E701  a limit: back off
class Unavailable(RefxError): pass                # noqa: E701  try again (same request id)
class DeadlineExceeded(RefxError): pass           # noqa: E701  outcome unknown (same request id)
class Internal(RefxError): pass                   # noqa: E701

_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.INTERNAL: Internal,
}


def error_from_rpc(error, request_id=None):
    """The RefxError subclass for a grpc.RpcError, its details decoded."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = error.details() if hasattr(error, "details") else str(error)
    reason, metadata, violations, retry_delay, call_id, quotas = "", {}, [], None, None, []
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailers or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        message = status.message or message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
            elif detail.Is(error_details_pb2.RequestInfo.DESCRIPTOR):
                info = error_details_pb2.RequestInfo()
                detail.Unpack(info)
                call_id = info.request_id or None
            elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
                quota = error_details_pb2.QuotaFailure()
                detail.Unpack(quota)
                quotas += [(v.subject, v.description) for v in quota.violations]
    return _BY_CODE.get(code, RefxError)(code, message, reason, metadata, violations, retry_delay, request_id,
                                         call_id, quotas)
