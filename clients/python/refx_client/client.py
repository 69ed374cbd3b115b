"""The refx client: mutual TLS from a profile, metadata, safe retries, watch with resume."""
import os
import re
import time
import uuid

import grpc
import yaml
from refx.v1 import referral_pb2, referral_service_pb2 as service_pb2, referral_service_pb2_grpc as service_grpc

from .errors import RefxError, error_from_rpc

ACTING_USER_HEADER = "x-refx-acting-user"
PURPOSE_HEADER = "x-refx-purpose"
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class Profile:
    """Where and as whom to connect: one profile of a refx profile file."""

    def __init__(self, server="localhost:50051", ca_file="", cert_file="", key_file="",
                 server_name_override="", acting_user="", timeout="10s", purpose=""):
        self.server = server
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.server_name_override = server_name_override
        self.acting_user = acting_user
        self.timeout = _seconds(timeout or "10s")
        self.purpose = purpose


def _seconds(text):
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", str(text).strip())
    if not match:
        raise ValueError(f"timeout: {text!r} is not like 10s, 1m or 500ms")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def load_profile(path, name=None):
    """The profile `name` (default: the file's default_profile) of a refx
    profile file, the same YAML `refx --config` reads; relative paths are
    resolved against the file's directory."""
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    unknown = set(config) - {"default_profile", "profiles"}
    if unknown:
        raise ValueError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    name = name or config.get("default_profile")
    profiles = config.get("profiles") or {}
    if name not in profiles:
        raise ValueError(f"{path}: no profile {name!r} (profiles: {', '.join(sorted(profiles))})")
    fields = dict(profiles[name])
    base = os.path.dirname(os.path.abspath(path))
    for key in ("ca_file", "cert_file", "key_file"):
        if fields.get(key) and not os.path.isabs(fields[key]):
            fields[key] = os.path.join(base, fields[key])
    try:
        return Profile(**fields)
    except TypeError as e:
        raise ValueError(f"{path}: profile {name!r}: {e}") from None


def _read(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"{what}: cannot read {path}: {e.strerror}") from None


class Client:
    """One agency's connection to refx.

    Every call sends the acting person (x-refx-acting-user, recorded in the
    audit log) and the purpose (x-refx-purpose) when set. Writes carry a
    request id (a fresh UUID unless given) and are retried with it on
    UNAVAILABLE or DEADLINE_EXCEEDED, so a retry never makes a duplicate.
    Errors are RefxError subclasses (refx_client.errors).
    """

    def __init__(self, profile, acting_user=None, purpose=None, retries=3):
        self.profile = profile
        self.acting_user = acting_user if acting_user is not None else profile.acting_user
        self.purpose = purpose if purpose is not None else profile.purpose
        self.retries = retries
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(profile.ca_file, "ca_file"),
            private_key=_read(profile.key_file, "key_file") if profile.key_file else None,
            certificate_chain=_read(profile.cert_file, "cert_file") if profile.cert_file else None)
        options = []
        if profile.server_name_override:
            options.append(("grpc.ssl_target_name_override", profile.server_name_override))
        self._channel = grpc.secure_channel(profile.server, credentials, options)
        self._stub = service_grpc.ReferralServiceStub(self._channel)

    @classmethod
    def from_profile(cls, path, name=None, **kwargs):
        """A client for profile `name` of the profile file at `path`."""
        return cls(load_profile(path, name), **kwargs)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _metadata(self):
        metadata = []
        if self.acting_user:
            metadata.append((ACTING_USER_HEADER, self.acting_user))
        if self.purpose:
            metadata.append((PURPOSE_HEADER, self.purpose))
        return metadata

    def _call(self, method, request, request_id=None):
        attempts = self.retries if request_id is not None else 1
        delay = 0.2
        for attempt in range(1, attempts + 1):
            try:
                return method(request, metadata=self._metadata(), timeout=self.profile.timeout)
            except grpc.RpcError as e:
                error = error_from_rpc(e, request_id)
                if error.code not in _RETRYABLE or attempt == attempts:
                    raise error from None
                time.sleep(error.retry_delay or delay)
                delay *= 2
        raise AssertionError("unreachable")

    # Reads.
    def who_am_i(self):
        return self._call(self._stub.WhoAmI, service_pb2.WhoAmIRequest())

    def get_referral(self, name, fields=None):
        request = service_pb2.GetReferralRequest(name=name)
        if fields:
            request.read_mask.paths.extend(fields)
        return self._call(self._stub.GetReferral, request)

    def list_referrals(self, page_size=50, page_token="", **filters):
        """One page; `filters` are ListReferralsRequest.filter fields (areas=[...], states=[...])."""
        request = service_pb2.ListReferralsRequest(page_size=page_size, page_token=page_token)
        for key, value in filters.items():
            field = getattr(request.filter, key)
            if hasattr(field, "extend"):
                field.extend(value)
            else:
                setattr(request.filter, key, value)
        return self._call(self._stub.ListReferrals, request)

    # Writes: retried with their request id.
    def create_referral(self, referral, request_id=None):
        request_id = request_id or str(uuid.uuid4())
        request = service_pb2.CreateReferralRequest(referral=referral, request_id=request_id)
        return self._call(self._stub.CreateReferral, request, request_id)

    def _change(self, rpc, request_class, referral, request_id, **fields):
        request_id = request_id or str(uuid.uuid4())
        name, etag = (referral.name, referral.etag) if isinstance(referral, referral_pb2.Referral) else referral
        request = request_class(name=name, etag=etag, request_id=request_id, **fields)
        return self._call(rpc, request, request_id)

    def accept_referral(self, referral, request_id=None):
        """`referral` is a Referral as last read, or (name, etag)."""
        return self._change(self._stub.AcceptReferral, service_pb2.AcceptReferralRequest, referral, request_id)

    def start_referral(self, referral, request_id=None):
        return self._change(self._stub.StartReferral, service_pb2.StartReferralRequest, referral, request_id)

    def complete_referral(self, referral, outcome, request_id=None):
        return self._change(self._stub.CompleteReferral, service_pb2.CompleteReferralRequest, referral, request_id,
                            outcome=outcome)

    # Watch.
    def watch(self, after_sequence=0, start_at_head=False, max_backoff=10.0):
        """Yields WatchReferralsResponse messages (SUBSCRIBED first, then events)
        for as long as the caller iterates. A resumable end (UNAVAILABLE: the
        server restarting or shutting down, a stalled stream, a dropped
        connection) reconnects from the last sequence received, so no event is
        lost or repeated; any other end raises its RefxError."""
        last = after_sequence
        backoff = 0.5
        while True:
            request = service_pb2.WatchReferralsRequest(after_sequence=last, start_at_head=start_at_head and last == 0)
            call = self._stub.WatchReferrals(request, metadata=self._metadata())
            try:
                for message in call:
                    backoff = 0.5
                    last = max(last, message.sequence)
                    yield message
            except grpc.RpcError as e:
                error = error_from_rpc(e)
                if error.code != grpc.StatusCode.UNAVAILABLE:
                    raise error from None
            finally:
                call.cancel()
            time.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)


__all__ = ["Client", "Profile", "load_profile", "RefxError"]
