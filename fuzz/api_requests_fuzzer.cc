// Every ReferralService request a partner agency can send, from its bytes
// through what the server does with it after the handshake: parsing (as
// RunUnary parses), the schema's field behaviour (output-only dropped,
// required checked), the same conversions as the handlers, and the core
// (validation, the agreement's field gates, redaction, page tokens, read
// masks, the lifecycle, case updates, subject notifications) over a real
// SQLite store.
//
// Input: byte 0 picks the method, byte 1 the calling agency, the rest is
// the request message. So that transitions reach real referrals, a `name`
// or `parent` of `@0`..`@9` names one of the referrals created at start,
// and an `etag` of `@` is that referral's current etag.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include "common/proto_parse.h"
#include "common/status_macros.h"
#include "core/auditor.h"
#include "core/field_behavior.h"
#include "core/referral_manager.h"
#include "fuzz/fuzz_support.h"
#include "refx/v1/referral_service.pb.h"
#include "server/referral_convert.h"

namespace refx::fuzz {
namespace {

constexpr const char* kAgencies[] = {"leicestershire-police", "leicester-city-council", "blaby-district-council",
                                     "nhs-hate-crime-healthcare-partnership", "llr-prevent", "llr-information-governance"};

struct Stack {
  std::unique_ptr<storage::ReferralStore> store;
  std::unique_ptr<core::Auditor> auditor;
  std::unique_ptr<core::PartnershipHolder> registry;
  std::unique_ptr<core::ReferralManager> manager;
  std::vector<std::string> names;  // referrals created at start
};

v1::Referral SampleReferral(const char* recipient) {
  v1::Referral r;
  r.set_report_type(v1::HATE_CRIME);
  auto* strand = r.add_strands();
  strand->set_strand("race");
  strand->set_basis(v1::Strand::PERCEIVED);
  r.set_perceived_by(v1::PERCEIVED_BY_VICTIM);
  r.set_reporting_channel(v1::REPORTING_CHANNEL_POLICE);
  r.set_area("leicester");
  r.set_incident_narrative("synthetic narrative for fuzzing");
  r.mutable_victim()->set_given_name("Synthetic");
  r.mutable_victim()->set_phone("07700900000");
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
  r.add_subjects()->set_name("Synthetic subject");
  r.add_recipient_agencies(std::string("agencies/") + recipient);
  return r;
}

Stack& TheStack() {
  static Stack* stack = [] {
    auto* s = new Stack();
    s->store = OpenScratchStore("refx.db");
    s->auditor = std::make_unique<core::Auditor>(core::Auditor::Options{s->store.get(), std::string(32, 'a'), nullptr});
    auto partnership = core::Partnership::Load(std::string(REFX_SOURCE_DIR) + "/config/partnership.yaml");
    if (!partnership.ok()) std::abort();
    s->registry = std::make_unique<core::PartnershipHolder>(*std::move(partnership));
    core::ReferralManager::Options options;
    options.registry = s->registry.get();
    options.store = s->store.get();
    options.auditor = s->auditor.get();
    options.page_token_key = std::string(32, 'p');
    options.victim_token_key = std::string(32, 'v');
    auto manager = core::ReferralManager::Create(options);
    if (!manager.ok()) std::abort();
    s->manager = *std::move(manager);
    auto police = AdmittedCaller(kAgencies[0], "refx.v1.ReferralService.CreateReferral");
    if (!police.has_value()) std::abort();
    int n = 0;
    for (const char* recipient : {kAgencies[1], kAgencies[3], kAgencies[1]}) {
      core::CallAudit audit{"refx.v1.ReferralService.CreateReferral"};
      auto created = s->manager->CreateReferral(*police, SampleReferral(recipient), "seed-" + std::to_string(n++), &audit);
      if (!created.ok()) std::abort();
      s->names.push_back(created->name());
    }
    return s;
  }();
  return *stack;
}

// `@k` names the k-th referral made at start.
std::string Resolve(const std::string& name) {
  const auto& names = TheStack().names;
  if (name.size() == 2 && name[0] == '@' && name[1] >= '0' && name[1] <= '9') return names[(name[1] - '0') % names.size()];
  return name;
}

// `@` is the current etag of `name` (read as its sender).
std::string ResolveEtag(const std::string& etag, const std::string& name) {
  if (etag != "@") return etag;
  auto police = AdmittedCaller(kAgencies[0], "refx.v1.ReferralService.GetReferral");
  core::CallAudit audit{"refx.v1.ReferralService.GetReferral"};
  auto got = TheStack().manager->GetReferral(*police, name, {}, &audit);
  return got.ok() ? got->etag() : etag;
}

// Parses and applies the schema's field behaviour, as RunUnary does.
template <typename Request>
absl::Status Decode(absl::string_view bytes, Request* request) {
  REFX_RETURN_IF_ERROR(ParseMessageOrExplain(bytes, request));
  core::ClearOutputOnly(request);
  return core::CheckRequiredFields(*request);
}

template <typename Request>
absl::Status Transition(const core::Caller& caller, absl::string_view bytes, core::LifecycleAction action,
                        core::CallAudit* audit) {
  Request req;
  REFX_RETURN_IF_ERROR(Decode(bytes, &req));
  core::TransitionParams p;
  p.action = action;
  p.name = Resolve(req.name());
  p.request_id = req.request_id();
  p.etag = ResolveEtag(req.etag(), p.name);
  if constexpr (std::is_same_v<Request, v1::DeclineReferralRequest>) {
    p.decline_reason = req.reason();
    p.text = req.reason_text();
  } else if constexpr (std::is_same_v<Request, v1::RedirectReferralRequest>) {
    p.target_agency = req.target_agency();
  } else if constexpr (std::is_same_v<Request, v1::CompleteReferralRequest>) {
    p.outcome = req.outcome();
    p.text = req.note();
  } else if constexpr (std::is_same_v<Request, v1::CancelReferralRequest> ||
                       std::is_same_v<Request, v1::ReopenReferralRequest>) {
    p.text = req.reason();
  }
  return TheStack().manager->Transition(caller, p, audit).status();
}

// The outcome of one input, printed when REFX_FUZZ_TRACE is set (to check
// that seeds reach what they are meant to).
absl::Status Run(int which, const core::Caller& caller, absl::string_view bytes, core::CallAudit* audit) {
  core::ReferralManager& manager = *TheStack().manager;
  using core::LifecycleAction;
  switch (which) {
    case 0: {
      v1::CreateReferralRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return manager.CreateReferral(caller, req.referral(), req.request_id(), audit).status();
    }
    case 1: {
      v1::GetReferralRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return manager
          .GetReferral(caller, Resolve(req.name()), {req.read_mask().paths().begin(), req.read_mask().paths().end()},
                       audit)
          .status();
    }
    case 2: {
      v1::ListReferralsRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      REFX_ASSIGN_OR_RETURN(core::ListReferralsParams params, server::ToListParams(req));
      return manager.ListReferrals(caller, params, audit).status();
    }
    case 3: return Transition<v1::AcceptReferralRequest>(caller, bytes, LifecycleAction::kAccept, audit);
    case 4: return Transition<v1::DeclineReferralRequest>(caller, bytes, LifecycleAction::kDecline, audit);
    case 5: return Transition<v1::RedirectReferralRequest>(caller, bytes, LifecycleAction::kRedirect, audit);
    case 6: return Transition<v1::StartReferralRequest>(caller, bytes, LifecycleAction::kStart, audit);
    case 7: return Transition<v1::CompleteReferralRequest>(caller, bytes, LifecycleAction::kComplete, audit);
    case 8: return Transition<v1::CancelReferralRequest>(caller, bytes, LifecycleAction::kCancel, audit);
    case 9: return Transition<v1::ReopenReferralRequest>(caller, bytes, LifecycleAction::kReopen, audit);
    case 10: {
      v1::AddCaseUpdateRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      const std::string parent = Resolve(req.parent());
      core::AddCaseUpdateParams params{parent, req.request_id(), ResolveEtag(req.etag(), parent), req.update()};
      return manager.AddCaseUpdate(caller, params, audit).status();
    }
    case 11: {
      v1::ListCaseUpdatesRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return manager.ListCaseUpdates(caller, Resolve(req.parent()), req.page_size(), req.page_token(), audit)
          .status();
    }
    case 12: {
      v1::RecordSubjectNotificationRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      core::RecordSubjectNotificationParams params{Resolve(req.parent()), req.request_id(), req.notification()};
      return manager.RecordSubjectNotification(caller, params, audit).status();
    }
    default: {
      v1::ListSubjectNotificationsRequest req;
      REFX_RETURN_IF_ERROR(Decode(bytes, &req));
      return manager.ListSubjectNotifications(caller, Resolve(req.parent()), audit).status();
    }
  }
}

const char* const kMethods[] = {
    "CreateReferral", "GetReferral",    "ListReferrals",   "AcceptReferral", "DeclineReferral", "RedirectReferral",
    "StartReferral",  "CompleteReferral", "CancelReferral", "ReopenReferral", "AddCaseUpdate",  "ListCaseUpdates",
    "RecordSubjectNotification", "ListSubjectNotifications",
};

}  // namespace
}  // namespace refx::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace refx;  // NOLINT: one function
  if (size < 2) return 0;
  const int which = data[0] % (sizeof fuzz::kMethods / sizeof fuzz::kMethods[0]);
  const std::string method = std::string("refx.v1.ReferralService.") + fuzz::kMethods[which];
  const char* agency = fuzz::kAgencies[data[1] % (sizeof fuzz::kAgencies / sizeof fuzz::kAgencies[0])];
  const absl::string_view bytes = fuzz::AsText(data + 2, size - 2);
  auto caller = fuzz::AdmittedCaller(agency, method);
  if (!caller.has_value()) return 0;  // the method gate refuses before parsing
  core::CallAudit audit{method};
  const absl::Status outcome = fuzz::Run(which, *caller, bytes, &audit);
  static const bool trace = std::getenv("REFX_FUZZ_TRACE") != nullptr;
  if (trace) std::fprintf(stderr, "%s as %s: %s\n", fuzz::kMethods[which], agency, outcome.ToString().c_str());
  // A read's event goes before its answer, as the server writes it.
  if (audit.before_answer.has_value()) (void)fuzz::TheStack().auditor->Record(*audit.before_answer);
  return 0;
}
