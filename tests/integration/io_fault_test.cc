// I/O faults under a running server (issue 17), injected by a SQLite VFS
// shim (tests/testing/fault_vfs.h) into the in-process server's database:
// a write that fails with SQLITE_FULL or SQLITE_IOERR_WRITE, an fsync that
// fails with SQLITE_IOERR_FSYNC, once or from the Nth on.
//
// What must hold, for each kind:
//   - no acknowledged write is lost and no refused write is stored: after
//     the disk comes back, the referrals stored are exactly those answered
//     OK, each whole;
//   - no call is answered OK after its commit failed (UNAVAILABLE, "nothing
//     was written");
//   - health turns NOT_SERVING while commits fail, with the reason;
//   - the audit log is in the same transactions, so while it cannot be
//     written every call that would disclose personal data (Get, List,
//     Watch) or change it (Create, Accept) fails, none answers and none
//     hangs (each returns well inside its deadline);
//   - the server recovers by itself once writes succeed again.
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/testing/fault_vfs.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

struct Fault {
  const char* name;
  FaultVfs::Operation operation;
  int error;
};

const Fault kFaults[] = {
    {"FullOnWrite", FaultVfs::Operation::kWrite, SQLITE_FULL},
    {"IoErrorOnWrite", FaultVfs::Operation::kWrite, SQLITE_IOERR_WRITE},
    {"IoErrorOnFsync", FaultVfs::Operation::kSync, SQLITE_IOERR_FSYNC},
};

void PrintTo(const Fault& fault, std::ostream* os) { *os << fault.name; }

// Calls that fail must fail within this, far inside the client's deadline:
// a call that waits for a commit that will never come is a hang.
constexpr absl::Duration kPrompt = absl::Seconds(8);

class IoFaultTest : public ::testing::TestWithParam<Fault> {
 protected:
  void SetUp() override {
    vfs_ = &FaultVfs::Install();  // Before the server opens its database.
    vfs_->Clear();
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    database_ = server_->config().storage().sqlite_path();
    ASSERT_FALSE(database_.empty());
  }
  void TearDown() override {
    if (vfs_ != nullptr) vfs_->Clear();
    server_.reset();
  }

  FaultVfs* vfs_ = nullptr;
  std::unique_ptr<TestServer> server_;
  std::string database_;
};

TEST_P(IoFaultTest, WhileWritesFailNothingIsAnsweredOrHangsAndTheServerRecoversByItself) {
  const Fault fault = GetParam();
  client::ReferralClient police = server_->Client(kPolice);
  client::ReferralClient city = server_->Client(kCityCouncil);
  auto channel = server_->Channel(server_->pki().Agency(kPolice));
  std::map<std::string, std::string> acknowledged;
  for (int i = 0; i < 5; ++i) {
    v1::Referral r = ValidReferral();
    r.set_incident_narrative(absl::StrCat("before the fault ", i));
    auto created = police.CreateReferral(r, absl::StrCat("before-", i));
    ASSERT_TRUE(created.ok()) << created.status();
    acknowledged[created->name()] = created->incident_narrative();
  }
  auto to_accept = city.GetReferral(acknowledged.begin()->first);
  ASSERT_TRUE(to_accept.ok()) << to_accept.status();

  vfs_->Arm(database_, fault.operation, 1, fault.error, /*once=*/false);
  const int64_t injected_before = vfs_->faults_injected();

  // Changes: refused UNAVAILABLE, promptly, nothing stored.
  for (int i = 0; i < 3; ++i) {
    const absl::Time start = absl::Now();
    v1::Referral r = ValidReferral();
    r.set_incident_narrative(absl::StrCat("refused ", i));
    auto created = police.CreateReferral(r, absl::StrCat("during-", i));
    EXPECT_FALSE(created.ok()) << "a create was acknowledged while commits fail";
    EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
    EXPECT_LT(absl::Now() - start, kPrompt);
  }
  EXPECT_GT(vfs_->faults_injected(), injected_before) << "no fault was injected: the test proves nothing";
  {
    v1::AcceptReferralRequest accept;
    accept.set_name(to_accept->name());
    accept.set_request_id("accept-during-fault");
    accept.set_etag(to_accept->etag());
    const absl::Time start = absl::Now();
    auto accepted = city.AcceptReferral(accept);
    EXPECT_FALSE(accepted.ok()) << "a transition was acknowledged while commits fail";
    EXPECT_EQ(accepted.status().code(), absl::StatusCode::kUnavailable) << accepted.status();
    EXPECT_LT(absl::Now() - start, kPrompt);
  }
  // Disclosures: each read commits its audit event before it answers, and
  // that commit fails, so the data already durable is not disclosed.
  {
    const absl::Time start = absl::Now();
    auto got = police.GetReferral(acknowledged.begin()->first);
    EXPECT_FALSE(got.ok()) << "a read was answered without its audit event";
    EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
    EXPECT_LT(absl::Now() - start, kPrompt);
  }
  {
    const absl::Time start = absl::Now();
    v1::ListReferralsRequest list;
    auto page = police.ListReferrals(list);
    EXPECT_FALSE(page.ok()) << "a list was answered without its audit event";
    EXPECT_EQ(page.status().code(), absl::StatusCode::kUnavailable) << page.status();
    EXPECT_LT(absl::Now() - start, kPrompt);
  }
  {
    // A watch from the start of the history: its first batch of events
    // cannot be audited, so none is sent and the stream ends.
    std::atomic<int> events{0};
    client::WatchCancellation cancel;
    absl::Status watched;
    std::thread watcher([&] {
      v1::WatchReferralsRequest request;
      watched = city.Watch(
          request,
          [&](const v1::WatchReferralsResponse& m) {
            if (m.kind() != v1::WatchReferralsResponse::SUBSCRIBED) ++events;
            return true;
          },
          &cancel);
    });
    const absl::Time start = absl::Now();
    std::atomic<bool> done{false};
    std::thread timer([&] {
      while (!done.load() && absl::Now() - start < kPrompt) absl::SleepFor(absl::Milliseconds(50));
      cancel.Cancel();
    });
    watcher.join();
    done = true;
    timer.join();
    EXPECT_EQ(events.load(), 0) << "events were sent without their audit event";
    EXPECT_FALSE(watched.ok());
    EXPECT_NE(watched.code(), absl::StatusCode::kCancelled) << "the watch hung instead of ending";
  }
  EXPECT_TRUE(Eventually([&] { return !HealthServing(channel); }, absl::Seconds(20)))
      << "health stayed SERVING while commits fail";

  // The disk comes back: the server serves and stores again by itself.
  vfs_->Clear();
  EXPECT_TRUE(Eventually([&] { return HealthServing(channel); }, absl::Seconds(30))) << "health did not come back";
  absl::StatusOr<v1::Referral> after = absl::UnavailableError("not tried");
  EXPECT_TRUE(Eventually([&] {
    after = police.CreateReferral(ValidReferral(), "after-recovery");
    return after.ok();
  })) << after.status();
  if (after.ok()) acknowledged[after->name()] = after->incident_narrative();
  EXPECT_TRUE(AcknowledgedReadBackWhole(acknowledged, StoredNarratives(server_->Client(kPolice))));
  // The failed commits left no trace in the audit chain: it verifies whole.
  auto chain = server_->Client("llr-information-governance").VerifyAuditChain(v1::VerifyAuditChainRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(chain->intact()) << chain->DebugString();
}

TEST_P(IoFaultTest, OneFailedCommitAmongConcurrentWritesLosesNoAcknowledgedOneAndStoresNoRefusedOne) {
  const Fault fault = GetParam();
  // The tenth matching write or fsync fails, once, while eight clients
  // create at once: the group commit it falls in may hold several creates,
  // all refused together.
  vfs_->Arm(database_, fault.operation, 10, fault.error, /*once=*/true);
  std::mutex mu;
  std::map<std::string, std::string> acknowledged;
  std::set<std::string> refused_narratives;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      client::ReferralClient police = server_->Client(kPolice);
      for (int i = 0; i < 6; ++i) {
        v1::Referral r = ValidReferral();
        r.set_incident_narrative(absl::StrCat("concurrent ", t, "-", i));
        auto created = police.CreateReferral(r, absl::StrCat("concurrent-", t, "-", i));
        std::lock_guard<std::mutex> lock(mu);
        if (created.ok()) {
          acknowledged[created->name()] = created->incident_narrative();
        } else {
          EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
          refused_narratives.insert(r.incident_narrative());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(vfs_->faults_injected() > 0, true) << "the fault never fired";
  EXPECT_FALSE(refused_narratives.empty()) << "the failed commit refused no call";
  EXPECT_FALSE(acknowledged.empty());
  std::printf("%s: %zu acknowledged, %zu refused by the failed commit\n", fault.name, acknowledged.size(),
              refused_narratives.size());
  vfs_->Clear();
  std::map<std::string, std::string> stored;
  EXPECT_TRUE(Eventually([&] {
    stored = StoredNarratives(server_->Client(kPolice));
    return !stored.empty();
  }));
  EXPECT_TRUE(AcknowledgedReadBackWhole(acknowledged, stored));
  for (const auto& [name, narrative] : stored) {
    EXPECT_EQ(refused_narratives.count(narrative), 0u) << "a refused create was stored";
  }
}

// The data protection officer's retention requests, the subject access
// bundle and the register of subject requests, while the audit log cannot
// be written: each either changes data or discloses which referrals are
// due, held or about a person, or which requests the DPO has, so each is
// refused UNAVAILABLE promptly, and a hold, request or erasure refused is
// not stored.
TEST_P(IoFaultTest, RetentionRequestsAreRefusedWhileTheAuditLogCannotBeWritten) {
  const Fault fault = GetParam();
  client::ReferralClient dpo = server_->Client("llr-information-governance");
  auto held = server_->Client(kPolice).CreateReferral(ValidReferral(), "held-before-fault");
  ASSERT_TRUE(held.ok()) << held.status();
  auto other = server_->Client(kPolice).CreateReferral(ValidReferral(), "held-during-fault");
  ASSERT_TRUE(other.ok()) << other.status();
  v1::Referral with_phone = ValidReferral();
  with_phone.mutable_victim()->set_phone("07700 900123");
  auto found = server_->Client(kPolice).CreateReferral(with_phone, "found-by-the-export");
  ASSERT_TRUE(found.ok()) << found.status();
  v1::PlaceLegalHoldRequest hold;
  hold.set_referral(held->name());
  hold.set_reason("claim 7");
  ASSERT_TRUE(dpo.PlaceLegalHold(hold).ok());
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  const std::string today = absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), london));
  v1::CreateSubjectRequestRequest sar;
  sar.mutable_subject_request()->set_kind(v1::SubjectRequest::ACCESS);
  sar.mutable_subject_request()->set_reference("DPO-FAULT-1");
  sar.mutable_subject_request()->set_received_date(today);
  sar.set_request_id("sar-before-fault");
  auto recorded = dpo.CreateSubjectRequest(sar);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  v1::CreateSubjectRequestRequest erasure_request = sar;
  erasure_request.mutable_subject_request()->set_kind(v1::SubjectRequest::ERASURE);
  erasure_request.mutable_subject_request()->set_reference("DPO-FAULT-2");
  erasure_request.set_request_id("erasure-before-fault");
  auto erasure = dpo.CreateSubjectRequest(erasure_request);
  ASSERT_TRUE(erasure.ok()) << erasure.status();
  vfs_->Arm(database_, fault.operation, 1, fault.error, /*once=*/false);
  const int64_t injected_before = vfs_->faults_injected();
  std::vector<std::pair<std::string, absl::Status>> outcomes;
  auto timed = [&](const std::string& method, const std::function<absl::Status()>& call) {
    const absl::Time start = absl::Now();
    outcomes.emplace_back(method, call());
    EXPECT_LT(absl::Now() - start, kPrompt) << method;
  };
  v1::PlaceLegalHoldRequest second = hold;
  second.set_referral(other->name());
  timed("PlaceLegalHold", [&] { return dpo.PlaceLegalHold(second).status(); });
  v1::ReleaseLegalHoldRequest release;
  release.set_referral(held->name());
  timed("ReleaseLegalHold", [&] { return dpo.ReleaseLegalHold(release); });
  timed("PreviewRetention", [&] { return dpo.PreviewRetention(v1::PreviewRetentionRequest()).status(); });
  timed("ListLegalHolds", [&] { return dpo.ListLegalHolds().status(); });
  v1::ExportSubjectAccessBundleRequest person;
  person.set_phone("07700 900123");
  timed("ExportSubjectAccessBundle", [&] { return dpo.ExportSubjectAccessBundle(person).status(); });
  // An export whose restrictions are to be kept with the access request:
  // the bundle is made, but recording them cannot be, so nothing is answered.
  v1::ExportSubjectAccessBundleRequest restricted = person;
  restricted.set_subject_request(recorded->name());
  v1::SubjectAccessRestriction* restriction = restricted.add_restrictions();
  restriction->set_referral(found->name());
  restriction->add_data_classes(v1::DATA_CLASS_INCIDENT_NARRATIVE);
  restriction->set_basis(v1::DPA_2018_S45_4_B_CRIME);
  timed("ExportSubjectAccessBundle keeping restrictions",
        [&] { return dpo.ExportSubjectAccessBundle(restricted).status(); });
  v1::CreateSubjectRequestRequest second_sar = sar;
  second_sar.set_request_id("sar-during-fault");
  timed("CreateSubjectRequest", [&] { return dpo.CreateSubjectRequest(second_sar).status(); });
  v1::RecordSubjectRequestStepRequest step;
  step.set_name(recorded->name());
  step.mutable_step()->set_action(v1::SubjectRequestStep::ANSWERED);
  step.mutable_step()->set_date(today);
  timed("RecordSubjectRequestStep", [&] { return dpo.RecordSubjectRequestStep(step).status(); });
  timed("ListSubjectRequests",
        [&] { return dpo.ListSubjectRequests(v1::ListSubjectRequestsRequest()).status(); });
  v1::EraseSubjectDataRequest erase;
  erase.set_subject_request(erasure->name());
  erase.set_referral(other->name());
  erase.add_data_classes(v1::DATA_CLASS_INCIDENT_NARRATIVE);
  timed("EraseSubjectData", [&] { return dpo.EraseSubjectData(erase).status(); });
  for (const auto& [method, status] : outcomes) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << method << ": " << status;
  }
  EXPECT_GT(vfs_->faults_injected(), injected_before) << "no fault was injected: the test proves nothing";

  // Back: the hold placed before is still there, the one refused is not.
  vfs_->Clear();
  absl::StatusOr<v1::ListLegalHoldsResponse> holds = absl::UnavailableError("not tried");
  EXPECT_TRUE(Eventually([&] {
    holds = dpo.ListLegalHolds();
    return holds.ok();
  })) << holds.status();
  if (holds.ok()) {
    ASSERT_EQ(holds->holds_size(), 1) << holds->DebugString();
    EXPECT_EQ(holds->holds(0).referral(), held->name());
  }
  // Nor was the subject request recorded during the fault, nor the step.
  auto requests = dpo.ListSubjectRequests(v1::ListSubjectRequestsRequest());
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->subject_requests_size(), 2) << requests->DebugString();
  for (const v1::SubjectRequest& request : requests->subject_requests()) {
    EXPECT_THAT(request.name(), ::testing::AnyOf(recorded->name(), erasure->name()));
    EXPECT_EQ(request.state(), v1::SubjectRequest::OPEN);
    EXPECT_EQ(request.steps_size(), 1);
    EXPECT_EQ(request.restrictions_size(), 0);  // the refused export's were not kept
  }
  // Nor was anything erased.
  auto kept = server_->Client(kPolice).GetReferral(other->name());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->incident_narrative(), ValidReferral().incident_narrative());
  EXPECT_EQ(kept->erasures_size(), 0);
}

// The sending force's subject notification steps (ADR 9), while the audit
// log cannot be written: recording one changes subject data and listing
// them discloses it, so each is refused UNAVAILABLE promptly, and the step
// refused is not stored.
TEST_P(IoFaultTest, SubjectNotificationsAreRefusedWhileTheAuditLogCannotBeWritten) {
  const Fault fault = GetParam();
  GrantPoliceTheSubjectCompartment(*server_);
  v1::Referral incident = ValidReferral(kCityCouncil);
  incident.set_report_type(v1::HATE_INCIDENT);
  incident.clear_subjects();
  v1::NchiSubjectRecord* record = incident.mutable_nchi_subject_record();
  record->add_subjects()->set_description("the subject");
  record->mutable_attestation()->set_limb(v1::ThresholdAttestation::RISK_OF_SIGNIFICANT_HARM);
  record->mutable_attestation()->set_rationale("threshold met");
  record->mutable_attestation()->set_supervising_officer("PS 4410");
  client::ReferralClient police = server_->Client(kPolice);
  auto created = police.CreateReferral(incident, "incident-before-fault");
  ASSERT_TRUE(created.ok()) << created.status();
  v1::RecordSubjectNotificationRequest step;
  step.set_parent(created->name());
  step.set_request_id("step-before-fault");
  step.mutable_notification()->set_status(v1::SubjectNotification::NOTIFIED);
  ASSERT_TRUE(police.RecordSubjectNotification(step).ok());

  vfs_->Arm(database_, fault.operation, 1, fault.error, /*once=*/false);
  const int64_t injected_before = vfs_->faults_injected();
  v1::RecordSubjectNotificationRequest during = step;
  during.set_request_id("step-during-fault");
  during.mutable_notification()->set_status(v1::SubjectNotification::REPLY_RECEIVED);
  v1::ListSubjectNotificationsRequest list;
  list.set_parent(created->name());
  std::vector<std::pair<std::string, absl::Status>> outcomes;
  for (const auto& [method, call] : std::vector<std::pair<std::string, std::function<absl::Status()>>>{
           {"RecordSubjectNotification", [&] { return police.RecordSubjectNotification(during).status(); }},
           {"ListSubjectNotifications", [&] { return police.ListSubjectNotifications(list).status(); }}}) {
    const absl::Time start = absl::Now();
    const absl::Status status = call();
    EXPECT_LT(absl::Now() - start, kPrompt) << method;
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << method << ": " << status;
  }
  EXPECT_GT(vfs_->faults_injected(), injected_before) << "no fault was injected: the test proves nothing";

  // Back: the step recorded before is there, the one refused is not.
  vfs_->Clear();
  absl::StatusOr<v1::ListSubjectNotificationsResponse> steps = absl::UnavailableError("not tried");
  EXPECT_TRUE(Eventually([&] {
    steps = police.ListSubjectNotifications(list);
    return steps.ok();
  })) << steps.status();
  if (steps.ok()) {
    ASSERT_EQ(steps->notifications_size(), 1) << steps->DebugString();
    EXPECT_EQ(steps->notifications(0).status(), v1::SubjectNotification::NOTIFIED);
  }
}

INSTANTIATE_TEST_SUITE_P(Faults, IoFaultTest, ::testing::ValuesIn(kFaults),
                         [](const ::testing::TestParamInfo<Fault>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace refx::testing
