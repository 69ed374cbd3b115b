// The store's side of retention (storage/referral_store.h): an erasure
// reaches every stored copy of a referral's data in one transaction with its
// audit event and its event, and legal holds are kept with theirs; on each
// backend, with encryption at rest on.
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/storage/store_test_support.h"

namespace refx::storage {
namespace {

using StoreRetentionTest = StoreBackendTest;

constexpr int32_t kCaseUpdateAdded = 4;
constexpr int32_t kReferralErased = 5;
constexpr int32_t kReferralDeleted = 6;

// An erasure of `base` (as last changed to `etag`) whose erase function
// marks every copy it is given, so the test sees which copies it reached.
EraseReferralDataRequest Erasure(const StoredReferral& base, const std::string& etag) {
  EraseReferralDataRequest request;
  request.expected_etag = etag;
  request.referral = base;
  request.referral.etag = "e-erased";
  request.referral.document = "doc-erased";
  request.referral.strands.clear();
  request.erase = [](StoredDocumentKind kind, const std::string& document) -> absl::StatusOr<std::string> {
    const char* label = kind == StoredDocumentKind::kReferral ? "referral" : kind == StoredDocumentKind::kCaseUpdate
                                                                                  ? "update"
                                                                                  : "replay";
    return absl::StrCat("erased-", label, ":", document);
  };
  request.victim_tokens = {"token-left"};
  request.audit.action = "ERASURE";
  request.audit.agency_id = "refx";
  request.event = Event(request.referral, kReferralErased);
  return request;
}

// Referral r1 from the police to the city, created at `t` with `tokens`,
// accepted (etag e2) and given a case note (etag e3, update u1), each with
// its event: three event-log copies, two stored retry responses, one case
// update. `note` is the note's request.
void CreateAcceptAndNote(ReferralStore& store, absl::Time t, std::vector<std::string> tokens,
                         AddCaseUpdateRequest* note) {
  const StoredReferral base = Referral("r1", "police", {"city"}, t);
  CreateReferralRequest create = Request(base, "create");
  create.event = Event(base, 2);
  create.victim_tokens = std::move(tokens);
  ASSERT_TRUE(store.CreateReferral(create).ok());
  UpdateReferralRequest accept = Update(base, "city", "accept", "e-r1", "e2");
  accept.event = Event(accept.referral, 3);
  ASSERT_TRUE(store.UpdateReferral(accept).ok());
  *note = CaseUpdate(accept.referral, "city", "note", "e2", "e3", "u1");
  note->event = Event(note->referral, kCaseUpdateAdded);
  note->event->update_document = note->update.document;
  ASSERT_TRUE(store.AddCaseUpdate(*note).ok());
}

TEST_P(StoreRetentionTest, AnErasureRewritesEveryStoredCopyWithItsAuditEventAndEvent) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  AddCaseUpdateRequest note;
  ASSERT_NO_FATAL_FAILURE(CreateAcceptAndNote(*store_, t, {"token-phone", "token-name"}, &note));
  const StoredReferral untouched = Referral("r2", "police", {"city"}, t);
  ASSERT_TRUE(store_->CreateReferral(Request(untouched, "other")).ok());
  const size_t audit_before = store_->ListAuditEvents({})->size();

  auto erased = store_->EraseReferralData(Erasure(note.referral, "e3"));
  ASSERT_TRUE(erased.ok()) << erased.status();
  // Three event-log entries, two stored retry responses (the accept's and
  // the note's), one case update.
  EXPECT_EQ(erased->copies_rewritten, 6);

  auto referral = store_->GetReferral("r1");
  ASSERT_TRUE(referral.ok()) << referral.status();
  EXPECT_EQ(referral->document, "doc-erased");
  EXPECT_EQ(referral->etag, "e-erased");
  EXPECT_TRUE(referral->strands.empty());
  EXPECT_EQ(referral->state, note.referral.state);  // state and times stay
  EXPECT_EQ(referral->update_time, note.referral.update_time);

  auto events = store_->ListEvents(EventQuery{"city", 0, 100});
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].referral_document, "erased-referral:doc-r1");
  EXPECT_EQ((*events)[0].update_document, "");  // nothing there to erase
  EXPECT_EQ((*events)[1].referral_document, "erased-referral:doc-e2");
  EXPECT_EQ((*events)[2].referral_document, "erased-referral:doc-e3");
  EXPECT_EQ((*events)[2].update_document, "erased-update:update-u1");
  EXPECT_EQ((*events)[3].kind, kReferralErased);
  EXPECT_EQ((*events)[3].referral_document, "doc-erased");

  auto replay = store_->FindUpdate("city", "accept");
  ASSERT_TRUE(replay.ok() && replay->has_value()) << replay.status();
  EXPECT_EQ((*replay)->document, "erased-replay:doc-e2");
  auto note_replay = store_->FindUpdate("city", "note");
  ASSERT_TRUE(note_replay.ok() && note_replay->has_value());
  EXPECT_EQ((*note_replay)->document, "erased-replay:update-u1");
  auto updates = store_->ListCaseUpdates("r1", 0, 10);
  ASSERT_TRUE(updates.ok()) << updates.status();
  ASSERT_EQ(updates->size(), 1u);
  EXPECT_EQ((*updates)[0].document, "erased-update:update-u1");

  EXPECT_TRUE(store_->FindReferralsByVictimToken("token-phone")->empty());
  EXPECT_EQ(*store_->FindReferralsByVictimToken("token-left"), std::vector<std::string>{"r1"});

  auto audit = store_->ListAuditEvents({});
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), audit_before + 1);
  EXPECT_EQ(audit->back().action, "ERASURE");
  EXPECT_EQ(audit->back().referral_ids, "r1");
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);

  // The other referral is not touched.
  EXPECT_EQ(store_->GetReferral("r2")->document, "doc-r2");
}

// The subject's notification steps (ADR 9): numbered per referral, kept
// apart (a step changes neither the referral nor the event log), answered
// from the first on a retry, bounded, audited with the step, and deleted
// only by an erasure that takes the subject compartment.
TEST_P(StoreRetentionTest, SubjectNotificationsAreKeptApartAndGoWithTheCompartment) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  const StoredReferral base = Referral("r1", "police", {"city"}, t);
  CreateReferralRequest create = Request(base, "create");
  create.event = Event(base, 2);
  ASSERT_TRUE(store_->CreateReferral(create).ok());
  ASSERT_TRUE(store_->CreateReferral(Request(Referral("r2", "police", {"city"}, t), "other")).ok());
  const int64_t events_before = *store_->LatestEventSequence();
  const size_t audit_before = store_->ListAuditEvents({})->size();
  auto step = [&](const std::string& referral, const std::string& request_id, const std::string& document) {
    StoredSubjectNotification n;
    n.referral_id = referral;
    n.agency_id = "police";
    n.request_id = request_id;
    n.create_time = t + absl::Seconds(1);
    n.document = document;
    AuditRecord audit;
    audit.action = "COLLECTION";
    audit.agency_id = "police";
    return store_->RecordSubjectNotification(n, 3, audit);
  };
  auto first = step("r1", "n1", "notified");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->stored.sequence, 1);
  auto second = step("r1", "n2", "reply");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->stored.sequence, 2);
  auto retried = step("r1", "n1", "something else");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->replayed);
  EXPECT_EQ(retried->stored.sequence, 1);
  EXPECT_EQ(retried->stored.document, "notified");
  ASSERT_TRUE(step("r2", "n1", "other referral").ok());  // request ids are per referral
  EXPECT_EQ(step("nope", "n9", "x").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(step("r1", "n3", "withheld").ok());
  EXPECT_EQ(step("r1", "n4", "one too many").status().code(), absl::StatusCode::kResourceExhausted);

  auto listed = store_->ListSubjectNotifications("r1");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].document, "notified");
  EXPECT_EQ((*listed)[1].document, "reply");
  EXPECT_EQ((*listed)[2].document, "withheld");
  EXPECT_EQ((*listed)[2].sequence, 3);
  EXPECT_TRUE(store_->ListSubjectNotifications("nope")->empty());
  // Kept apart: the referral and the event log are as they were; one audit
  // event per step stored, none for the retry or a refusal.
  EXPECT_EQ(store_->GetReferral("r1")->etag, "e-r1");
  EXPECT_EQ(*store_->LatestEventSequence(), events_before);
  auto audit = store_->ListAuditEvents({});
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), audit_before + 4);
  EXPECT_EQ(audit->back().referral_ids, "r1");

  // An erasure that leaves the compartment leaves them; one that takes it
  // deletes them, and only this referral's.
  EraseReferralDataRequest keep = Erasure(base, "e-r1");
  ASSERT_TRUE(store_->EraseReferralData(keep).ok());
  EXPECT_EQ(store_->ListSubjectNotifications("r1")->size(), 3u);
  EraseReferralDataRequest purge = Erasure(base, "e-erased");
  purge.referral.etag = "e-purged";
  purge.delete_subject_notifications = true;
  ASSERT_TRUE(store_->EraseReferralData(purge).ok());
  EXPECT_TRUE(store_->ListSubjectNotifications("r1")->empty());
  EXPECT_EQ(store_->ListSubjectNotifications("r2")->size(), 1u);
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
}

TEST_P(StoreRetentionTest, AnErasureOfAChangedOrMissingReferralWritesNothing) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  const StoredReferral base = Referral("r1", "police", {"city"}, t);
  ASSERT_TRUE(store_->CreateReferral(Request(base, "create")).ok());
  const size_t audit_before = store_->ListAuditEvents({})->size();
  const int64_t events_before = *store_->LatestEventSequence();

  EXPECT_EQ(store_->EraseReferralData(Erasure(base, "stale")).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->EraseReferralData(Erasure(Referral("nope", "police", {}, t), "e-nope")).status().code(),
            absl::StatusCode::kNotFound);
  EraseReferralDataRequest no_function = Erasure(base, "e-r1");
  no_function.erase = nullptr;
  EXPECT_EQ(store_->EraseReferralData(no_function).status().code(), absl::StatusCode::kInvalidArgument);
  // A failing erase function fails the whole erasure: nothing half-erased.
  EraseReferralDataRequest failing = Erasure(base, "e-r1");
  failing.erase = [](StoredDocumentKind, const std::string&) -> absl::StatusOr<std::string> {
    return absl::DataLossError("unreadable copy");
  };
  ASSERT_TRUE(store_->UpdateReferral([&] {
                      UpdateReferralRequest u = Update(base, "city", "accept", "e-r1", "e2");
                      u.event = Event(u.referral, 3);
                      return u;
                    }())
                  .ok());
  failing.expected_etag = "e2";
  EXPECT_FALSE(store_->EraseReferralData(failing).ok());

  EXPECT_EQ(store_->GetReferral("r1")->document, "doc-e2");
  EXPECT_EQ(store_->ListAuditEvents({})->size(), audit_before + 1);  // the accept's only
  EXPECT_EQ(*store_->LatestEventSequence(), events_before + 1);
}

TEST_P(StoreRetentionTest, ALegalHoldIsPlacedOnceAndReleasedWithTheirAuditEvents) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  ASSERT_TRUE(store_->CreateReferral(Request(Referral("r1", "police", {"city"}, t), "create")).ok());
  const size_t audit_before = store_->ListAuditEvents({})->size();
  AuditRecord audit;
  audit.action = "NONE";
  audit.agency_id = "dpo";
  const LegalHold hold{"r1", "dpo", "IOPC matter 2026/123", t};

  ASSERT_TRUE(store_->PlaceLegalHold(hold, audit).ok());
  EXPECT_EQ(store_->PlaceLegalHold(hold, audit).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->PlaceLegalHold(LegalHold{"nope", "dpo", "x", t}, audit).code(), absl::StatusCode::kNotFound);
  auto holds = store_->ListLegalHolds();
  ASSERT_TRUE(holds.ok()) << holds.status();
  ASSERT_EQ(holds->size(), 1u);
  EXPECT_EQ((*holds)[0].referral_id, "r1");
  EXPECT_EQ((*holds)[0].agency_id, "dpo");
  EXPECT_EQ((*holds)[0].reason, "IOPC matter 2026/123");
  EXPECT_EQ((*holds)[0].time, t);

  ASSERT_TRUE(store_->ReleaseLegalHold("r1", audit).ok());
  EXPECT_EQ(store_->ReleaseLegalHold("r1", audit).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListLegalHolds()->empty());
  auto events = store_->ListAuditEvents({});
  ASSERT_EQ(events->size(), audit_before + 2);  // the place and the release, nothing for refusals
  EXPECT_EQ((*events)[audit_before].referral_ids, "r1");
}

// The hold is checked in the erasure's own transaction: an erasure planned
// before the hold was placed still erases nothing.
TEST_P(StoreRetentionTest, AnErasureOfAHeldReferralIsRefusedInItsTransactionAndWritesNothing) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  const StoredReferral base = Referral("r1", "police", {"city"}, t);
  ASSERT_TRUE(store_->CreateReferral(Request(base, "create")).ok());
  const EraseReferralDataRequest planned = Erasure(base, "e-r1");
  AuditRecord audit;
  audit.action = "NONE";
  audit.agency_id = "dpo";
  ASSERT_TRUE(store_->PlaceLegalHold(LegalHold{"r1", "dpo", "IOPC matter 2026/124", t}, audit).ok());
  const size_t audit_before = store_->ListAuditEvents({})->size();
  const int64_t events_before = *store_->LatestEventSequence();

  auto refused = store_->EraseReferralData(planned);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_TRUE(IsLegalHoldRefusal(refused.status())) << refused.status();
  EXPECT_FALSE(IsLegalHoldRefusal(absl::FailedPreconditionError("another precondition")));
  EXPECT_EQ(store_->GetReferral("r1")->document, base.document);
  EXPECT_EQ(store_->ListAuditEvents({})->size(), audit_before);
  EXPECT_EQ(*store_->LatestEventSequence(), events_before);

  ASSERT_TRUE(store_->ReleaseLegalHold("r1", audit).ok());
  EXPECT_TRUE(store_->EraseReferralData(planned).ok());
}

// The routing record's period ended: the referral is deleted in one
// transaction. Its row stays only as a tombstone that no read finds (the
// event log's rows point at it and the sequence stays gapless); every other
// row of it goes, its earlier events reach nobody again, and its parties
// hear of the deletion. A held referral is refused.
TEST_P(StoreRetentionTest, ADeletionLeavesATombstoneNoReadFindsAndTellsOnlyTheParties) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  AddCaseUpdateRequest note;
  ASSERT_NO_FATAL_FAILURE(CreateAcceptAndNote(*store_, t, {"token-phone"}, &note));
  StoredSubjectNotification step;
  step.referral_id = "r1";
  step.agency_id = "police";
  step.request_id = "n1";
  step.create_time = t;
  step.document = "notified";
  AuditRecord step_audit;
  step_audit.action = "COLLECTION";
  step_audit.agency_id = "police";
  ASSERT_TRUE(store_->RecordSubjectNotification(step, 100, step_audit).ok());
  CreateReferralRequest other = Request(Referral("r2", "police", {"city"}, t), "other");
  other.event = Event(other.referral, 2);
  ASSERT_TRUE(store_->CreateReferral(other).ok());
  const int64_t events_before = *store_->LatestEventSequence();
  const size_t audit_before = store_->ListAuditEvents({})->size();

  EraseReferralDataRequest deletion;
  deletion.delete_referral = true;
  deletion.expected_etag = "e3";
  deletion.referral = note.referral;
  deletion.referral.etag = "e-deleted";
  deletion.referral.update_time = t + absl::Hours(1);
  deletion.referral.document = "tombstone";
  deletion.audit.action = "ERASURE";
  deletion.audit.agency_id = "refx";
  deletion.event = Event(deletion.referral, kReferralDeleted);

  AuditRecord hold_audit;
  hold_audit.action = "NONE";
  hold_audit.agency_id = "dpo";
  ASSERT_TRUE(store_->PlaceLegalHold(LegalHold{"r1", "dpo", "IOPC matter 2026/125", t}, hold_audit).ok());
  EXPECT_TRUE(IsLegalHoldRefusal(store_->EraseReferralData(deletion).status()));
  EXPECT_EQ(store_->GetReferral("r1")->etag, "e3");
  ASSERT_TRUE(store_->ReleaseLegalHold("r1", hold_audit).ok());

  auto deleted = store_->EraseReferralData(deletion);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->copies_rewritten, 3);  // its three earlier events

  // No read finds it, nor any change, hold or second deletion.
  EXPECT_EQ(store_->GetReferral("r1").status().code(), absl::StatusCode::kNotFound);
  auto scanned = store_->ScanReferrals(ScanReferralsQuery{absl::UnixEpoch(), absl::InfiniteFuture(), "", {}, 100});
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  ASSERT_EQ(scanned->size(), 1u);
  EXPECT_EQ((*scanned)[0].id, "r2");
  EXPECT_EQ(store_->EraseReferralData(deletion).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->PlaceLegalHold(LegalHold{"r1", "dpo", "too late", t}, hold_audit).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->RecordSubjectNotification(step, 100, step_audit).status().code(), absl::StatusCode::kNotFound);

  // Nothing else of it is left.
  EXPECT_TRUE(store_->ListCaseUpdates("r1", 0, 10)->empty());
  EXPECT_TRUE(store_->ListSubjectNotifications("r1")->empty());
  EXPECT_TRUE(store_->FindReferralsByVictimToken("token-phone")->empty());
  EXPECT_FALSE(store_->FindUpdate("city", "accept")->has_value());
  EXPECT_FALSE(store_->FindUpdate("city", "note")->has_value());

  // The parties hear of the deletion and of nothing earlier of it; the
  // sequence stays gapless.
  EXPECT_EQ(*store_->LatestEventSequence(), events_before + 1);
  for (const std::string agency : {"city", "police"}) {
    auto events = store_->ListEvents(EventQuery{agency, 0, 100});
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->size(), 2u) << agency;
    EXPECT_EQ((*events)[0].referral_id, "r2");
    EXPECT_EQ((*events)[1].referral_id, "r1");
    EXPECT_EQ((*events)[1].kind, kReferralDeleted);
    EXPECT_EQ((*events)[1].referral_document, "tombstone");
    EXPECT_EQ((*events)[1].sequence, events_before + 1);
  }

  auto audit = store_->ListAuditEvents({});
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), audit_before + 3);  // the hold, its release, the deletion
  EXPECT_EQ(audit->back().action, "ERASURE");
  EXPECT_EQ(audit->back().referral_ids, "r1");
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
  EXPECT_EQ(store_->GetReferral("r2")->document, "doc-r2");
  // Its create request id is free again: a create with it is a new referral.
  auto again = store_->CreateReferral(Request(Referral("r3", "police", {"city"}, t), "create"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->replayed);
  EXPECT_EQ(again->referral.id, "r3");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreRetentionTest, AllBackends(), BackendName);

}  // namespace
}  // namespace refx::storage
