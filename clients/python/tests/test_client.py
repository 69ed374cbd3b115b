"""The Python client against a real refx-server over mutual TLS: the
back-office integration (create, watch, act) and every refusal a program
must be able to branch on."""
import threading
import uuid

import grpc
import pytest

from refx_client import (InvalidArgument, NotFound, PermissionDenied, RefxError, load_profile, pb)
from conftest import client_for, valid_referral


def test_whoami_names_the_agency_from_its_certificate(server):
    me = client_for(server, "leicestershire-police").who_am_i()
    assert me.agency == "agencies/leicestershire-police"


def test_create_watch_accept_the_back_office_integration(server):
    police = client_for(server, "leicestershire-police")
    council = client_for(server, "leicester-city-council")
    events = []
    subscribed = threading.Event()
    created_seen = threading.Event()

    def watch():
        for event in council.watch(start_at_head=True):
            events.append(event)
            if event.kind == pb.WatchReferralsResponse.SUBSCRIBED:
                subscribed.set()
            elif event.kind == pb.WatchReferralsResponse.REFERRAL_CREATED:
                created_seen.set()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert subscribed.wait(10)
    created = police.create_referral(valid_referral())
    assert created.name.startswith("referrals/")
    assert created_seen.wait(10)
    event = events[-1]
    assert event.referral.name == created.name
    accepted = council.accept_referral(event.referral)   # the etag the event carried
    assert accepted.state == pb.Referral.ACCEPTED
    assert police.get_referral(created.name).state == pb.Referral.ACCEPTED


def test_a_retried_request_id_is_applied_once(server):
    police = client_for(server, "leicestershire-police")
    request_id = str(uuid.uuid4())
    first = police.create_referral(valid_referral(), request_id=request_id)
    again = police.create_referral(valid_referral(), request_id=request_id)
    assert again.name == first.name and again.etag == first.etag


def test_not_found_is_typed_and_the_same_for_absent_and_not_a_party(server):
    police = client_for(server, "leicestershire-police")
    created = police.create_referral(valid_referral())
    blaby = client_for(server, "blaby-district-council")   # not a party
    with pytest.raises(NotFound) as not_party:
        blaby.get_referral(created.name)
    with pytest.raises(NotFound) as absent:
        blaby.get_referral("referrals/" + "0" * 32)
    assert not_party.value.code == grpc.StatusCode.NOT_FOUND
    assert not_party.value.reason == absent.value.reason
    # Each call has its own call id (RequestInfo) to quote; it is random,
    # not derived from the referral.
    assert len(not_party.value.call_id) == 16 and len(absent.value.call_id) == 16
    assert not_party.value.call_id != absent.value.call_id
    assert not_party.value.call_id in str(not_party.value)


def test_invalid_argument_carries_field_violations(server):
    police = client_for(server, "leicestershire-police")
    with pytest.raises(InvalidArgument) as refused:
        police.create_referral(valid_referral(area="atlantis"))
    fields = [field for field, _ in refused.value.field_violations]
    assert "referral.area" in fields
    assert not refused.value.outcome_unknown   # a refusal: do not retry unchanged


def test_a_field_the_agreement_withholds_is_refused_with_its_reason(server):
    police = client_for(server, "leicestershire-police")
    created = police.create_referral(valid_referral())
    council = client_for(server, "leicester-city-council")
    with pytest.raises(PermissionDenied) as refused:
        council.get_referral(created.name, fields=["subjects"])
    assert refused.value.reason == "FIELD_NOT_SHARED"


def test_without_a_client_certificate_nothing_is_served(server):
    profile = load_profile(server["profiles"], "leicestershire-police")
    profile.server = f"localhost:{server['port']}"
    profile.cert_file = profile.key_file = ""
    profile.timeout = 3
    from refx_client import Client
    with pytest.raises(RefxError) as refused:
        Client(profile, retries=1).who_am_i()
    assert refused.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)


def test_a_profile_file_with_an_unknown_key_is_refused(tmp_path):
    bad = tmp_path / "profiles.yaml"
    bad.write_text("default_profile: x\nprofile: {}\n")
    with pytest.raises(ValueError, match="unknown key 'profile'"):
        load_profile(str(bad))


def test_the_server_log_holds_no_referral_content(server):
    with open(server["log"], encoding="utf-8") as f:
        log = f.read()
    assert "Racist abuse" not in log and "Example" not in log
