// Every ReportingService request (WatchTensionAlerts's subscription and its
// batches included), and AuditService's subject access
// (FindSubjectReferrals, ExportSubjectAccessBundle, the data subject
// request register),
// from its bytes through what the server does with it after the handshake:
// parsing (as RunUnary parses), the schema's field behaviour, and the core
// (periods and the release grid, dimensions, disclosure control, ISO weeks,
// tension alert names and notes, a person's identifiers) over a real SQLite
// store holding a small spike of referrals, under a fixed clock.
//
// Input: byte 0 picks the method, byte 1 the calling agency, the rest is
// the request message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/clock.h"
#include "common/proto_parse.h"
#include "common/status_macros.h"
#include "core/auditor.h"
#include "core/field_behavior.h"
#include "core/referral_manager.h"
#include "core/report_manager.h"
#include "core/retention.h"
#include "core/subject_access.h"
#include "core/subject_requests.h"
#include "core/tension_alerts.h"
#include "core/tension_watch.h"
#include "fuzz/fuzz_support.h"
#include "refx/v1/audit_service.pb.h"
#include "refx/v1/reporting_service.pb.h"

namespace refx::fuzz {
namespace {

constexpr const char* kAgencies[] = {"asb-hate-prevent-strategy-group", "llr-information-governance",
                                     "leicestershire-police", "leicester-city-council",
                                     "nhs-hate-crime-healthcare-partnership"};

absl::Time London(int y, int m, int d) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone("Europe/London", &zone)) zone = absl::UTCTimeZone();
  return absl::FromCivil(absl::CivilDay(y, m, d), zone) + absl::Hours(10);
}

struct Stack {
  FakeClock clock{London(2026, 1, 5)};
  std::unique_ptr<storage::ReferralStore> store;
  std::unique_ptr<core::Auditor> auditor;
  std::unique_ptr<core::PartnershipHolder> registry;
  std::unique_ptr<core::ReportManager> reports;
  std::unique_ptr<core::TensionAlerts> tensions;
  std::unique_ptr<core::TensionWatchHub> tension_watch;
  std::unique_ptr<core::SubjectAccess> subjects;
  std::unique_ptr<core::AgreementHolder> agreements;
  std::unique_ptr<core::RetentionJob> retention;
  std::unique_ptr<core::SubjectRequestRegister> register_;
};

Stack& TheStack() {
  static Stack* stack = [] {
    auto* s = new Stack();
    s->store = OpenScratchStore("reports.db");
    s->auditor = std::make_unique<core::Auditor>(core::Auditor::Options{s->store.get(), std::string(32, 'a'), &s->clock});
    auto partnership = core::Partnership::Load(std::string(REFX_SOURCE_DIR) + "/config/partnership.yaml");
    if (!partnership.ok()) std::abort();
    s->registry = std::make_unique<core::PartnershipHolder>(*std::move(partnership));
    const std::string victim_key(32, 'v');

    // Twelve weeks of a few race referrals in Leicester, then a spike in
    // 2026-W14, so listings have an alert to name and acknowledge.
    core::ReferralManager::Options manager_options;
    manager_options.registry = s->registry.get();
    manager_options.store = s->store.get();
    manager_options.auditor = s->auditor.get();
    manager_options.clock = &s->clock;
    manager_options.page_token_key = std::string(32, 'p');
    manager_options.victim_token_key = victim_key;
    auto manager = core::ReferralManager::Create(manager_options);
    if (!manager.ok()) std::abort();
    auto police = AdmittedCaller("leicestershire-police", "refx.v1.ReferralService.CreateReferral");
    if (!police.has_value()) std::abort();
    for (int i = 0; i < 28; ++i) {
      s->clock.Set(i < 12 ? London(2026, 1, 5) + absl::Hours(24 * 7 * i) : London(2026, 3, 31) + absl::Minutes(i));
      v1::Referral r;
      r.set_report_type(i % 3 == 0 ? v1::HATE_INCIDENT : v1::HATE_CRIME);
      auto* strand = r.add_strands();
      strand->set_strand("race");
      strand->set_basis(v1::Strand::PERCEIVED);
      r.set_perceived_by(v1::PERCEIVED_BY_VICTIM);
      r.set_reporting_channel(v1::REPORTING_CHANNEL_POLICE);
      r.set_area("leicester");
      r.set_online(i % 4 == 0);
      r.set_incident_narrative("synthetic narrative for fuzzing");
      r.mutable_victim()->set_given_name("Synthetic");
      r.mutable_victim()->set_phone(i % 2 == 0 ? "07700900001" : "07700900002");
      r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
      r.add_recipient_agencies("agencies/leicester-city-council");
      core::CallAudit audit{"refx.v1.ReferralService.CreateReferral"};
      if (!(*manager)->CreateReferral(*police, r, absl::StrCat("seed-", i), &audit).ok()) std::abort();
    }
    s->clock.Set(London(2026, 7, 2));

    core::ReportManager::Options report_options;
    report_options.registry = s->registry.get();
    report_options.store = s->store.get();
    report_options.auditor = s->auditor.get();
    report_options.clock = &s->clock;
    auto reports = core::ReportManager::Create(report_options);
    core::TensionAlerts::Options tension_options;
    tension_options.registry = s->registry.get();
    tension_options.store = s->store.get();
    tension_options.auditor = s->auditor.get();
    tension_options.clock = &s->clock;
    auto tensions = core::TensionAlerts::Create(tension_options);
    core::SubjectAccess::Options subject_options;
    subject_options.store = s->store.get();
    subject_options.auditor = s->auditor.get();
    subject_options.registry = s->registry.get();
    subject_options.victim_token_key = victim_key;
    subject_options.clock = &s->clock;
    auto subjects = core::SubjectAccess::Create(subject_options);
    s->agreements = std::make_unique<core::AgreementHolder>(LlrAgreement());
    core::RetentionJob::Options retention_options;
    retention_options.store = s->store.get();
    retention_options.agreements = s->agreements.get();
    retention_options.clock = &s->clock;
    retention_options.victim_token_key = victim_key;
    retention_options.auditor = s->auditor.get();
    auto retention = core::RetentionJob::Create(retention_options);
    if (!retention.ok()) std::abort();
    s->retention = *std::move(retention);
    if (!reports.ok() || !tensions.ok() || !subjects.ok()) std::abort();
    s->reports = *std::move(reports);
    s->tensions = *std::move(tensions);
    // Tasks run at once, on the caller's thread: a subscription is pumped
    // by the fuzzer itself (RunTensionWatch).
    core::TensionWatchHub::Options watch_options;
    watch_options.alerts = s->tensions.get();
    watch_options.auditor = s->auditor.get();
    watch_options.agreements = s->agreements.get();
    watch_options.schedule = [](std::function<void()> task) {
      task();
      return true;
    };
    watch_options.clock = &s->clock;
    auto tension_watch = core::TensionWatchHub::Create(watch_options);
    if (!tension_watch.ok()) std::abort();
    s->tension_watch = *std::move(tension_watch);
    s->subjects = *std::move(subjects);
    auto register_ = core::SubjectRequestRegister::Create(
        {s->store.get(), s->auditor.get(), &s->clock, s->retention.get(), s->subjects.get()});
    if (!register_.ok()) std::abort();
    s->register_ = *std::move(register_);
    return s;
  }();
  return *stack;
}

// Parses and applies the schema's field behaviour, as RunUnary does.
template <typename Request>
absl::Status Decode(absl::string_view bytes, Request* request) {
  REFX_RETURN_IF_ERROR(ParseMessageOrExplain(bytes, request));
  core::ClearOutputOnly(request);
  return core::CheckRequiredFields(*request);
}

// A sink that keeps what it is given; the fuzzer says when it was written.
class CollectingSink : public core::WatchSink {
 public:
  void Send(std::vector<core::WatchMessageBytes> messages) override { batches += messages.empty() ? 0 : 1; }
  void Close(const absl::Status& status, bool) override { closed = status; }
  int batches = 0;
  absl::Status closed;
};

// WatchTensionAlerts as the server runs it after admission: the request,
// the subscription, and its batches until it has caught up.
absl::Status RunTensionWatch(const core::Caller& caller, absl::string_view bytes) {
  Stack& s = TheStack();
  v1::WatchTensionAlertsRequest req;
  REFX_RETURN_IF_ERROR(Decode(bytes, &req));
  CollectingSink sink;
  REFX_ASSIGN_OR_RETURN(std::shared_ptr<core::TensionWatchSession> session,
                        s.tension_watch->Subscribe(caller, caller, req.first_week(), caller.purpose, &sink));
  for (int sent = 0; sent < 12 && sink.closed.ok(); ++sent) {
    const int before = sink.batches;
    session->OnSent();
    if (sink.batches == before) break;  // caught up
  }
  session->Detach();
  return sink.closed;
}

absl::Status Run(int which, const core::Caller& caller, absl::string_view bytes, core::CallAudit* audit) {
  Stack& s = TheStack();
  switch (which) {
    case 0: {
      v1::CountReferralsRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.reports->CountReferrals(caller, req, audit).status();
    }
    case 1: {
      v1::ReportResponseTimesRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.reports->ReportResponseTimes(caller, req, audit).status();
    }
    case 2: {
      v1::ListTensionAlertsRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.tensions->List(caller, req, audit).status();
    }
    case 3: {
      v1::AcknowledgeTensionAlertRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.tensions->Acknowledge(caller, req, audit).status();
    }
    case 4: {
      v1::FindSubjectReferralsRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.subjects->Find(caller, req, audit).status();
    }
    case 5: {
      v1::ExportSubjectAccessBundleRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.register_->ExportBundle(caller, req, audit).status();
    }
    case 6: {
      v1::CreateSubjectRequestRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.register_->Open(caller, req, audit).status();
    }
    case 7: {
      v1::GetSubjectRequestRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.register_->Get(caller, req, audit).status();
    }
    case 8: {
      v1::ListSubjectRequestsRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.register_->List(caller, req, audit).status();
    }
    case 9: {
      v1::RecordSubjectRequestStepRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.register_->RecordStep(caller, req, audit).status();
    }
    case 10: {
      v1::EraseSubjectDataRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.register_->EraseData(caller, req, audit).status();
    }
    case 11: {
      v1::RecordRectificationRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return s.register_->RecordRectification(caller, req, audit).status();
    }
    default:
      return RunTensionWatch(caller, bytes);
  }
}

const char* const kMethods[] = {
    "refx.v1.ReportingService.CountReferrals",    "refx.v1.ReportingService.ReportResponseTimes",
    "refx.v1.ReportingService.ListTensionAlerts", "refx.v1.ReportingService.AcknowledgeTensionAlert",
    "refx.v1.AuditService.FindSubjectReferrals",  "refx.v1.AuditService.ExportSubjectAccessBundle",
    "refx.v1.AuditService.CreateSubjectRequest",  "refx.v1.AuditService.GetSubjectRequest",
    "refx.v1.AuditService.ListSubjectRequests",   "refx.v1.AuditService.RecordSubjectRequestStep",
    "refx.v1.AuditService.EraseSubjectData",      "refx.v1.AuditService.RecordRectification",
    "refx.v1.ReportingService.WatchTensionAlerts"};

}  // namespace
}  // namespace refx::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace refx;  // NOLINT: one function
  if (size < 2) return 0;
  const int which = data[0] % (sizeof fuzz::kMethods / sizeof fuzz::kMethods[0]);
  const char* agency = fuzz::kAgencies[data[1] % (sizeof fuzz::kAgencies / sizeof fuzz::kAgencies[0])];
  const absl::string_view bytes = fuzz::AsText(data + 2, size - 2);
  fuzz::TheStack();  // before admitting: the stack's setup admits callers too
  auto caller = fuzz::AdmittedCaller(agency, fuzz::kMethods[which]);
  if (!caller.has_value()) return 0;  // the method gate refuses before parsing
  core::CallAudit audit{fuzz::kMethods[which]};
  const absl::Status outcome = fuzz::Run(which, *caller, bytes, &audit);
  static const bool trace = std::getenv("REFX_FUZZ_TRACE") != nullptr;
  if (trace) std::fprintf(stderr, "%s as %s: %s\n", fuzz::kMethods[which], agency, outcome.ToString().c_str());
  // A release's event goes before its answer, as the server writes it.
  if (audit.before_answer.has_value()) (void)fuzz::TheStack().auditor->Record(*audit.before_answer);
  return 0;
}
