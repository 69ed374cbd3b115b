#include "core/auditor.h"

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "common/hash.h"
#include "core/agreement.h"

namespace refx::core {

const char* AuditActionName(AuditAction action) {
  switch (action) {
    case AuditAction::kCollection: return "COLLECTION";
    case AuditAction::kAlteration: return "ALTERATION";
    case AuditAction::kConsultation: return "CONSULTATION";
    case AuditAction::kDisclosure: return "DISCLOSURE";
    case AuditAction::kCombination: return "COMBINATION";
    case AuditAction::kErasure: return "ERASURE";
    case AuditAction::kNone: return "NONE";
  }
  return "NONE";
}

AuditAction DefaultActionFor(absl::string_view method) {
  if (absl::EndsWith(method, ".CreateReferral")) return AuditAction::kCollection;
  if (absl::EndsWith(method, ".GetReferral") || absl::EndsWith(method, ".ListReferrals") ||
      absl::EndsWith(method, ".ListCaseUpdates")) {
    return AuditAction::kDisclosure;
  }
  for (const char* change : {".AcceptReferral", ".DeclineReferral", ".RedirectReferral", ".StartReferral",
                             ".CompleteReferral", ".CancelReferral", ".ReopenReferral", ".AddCaseUpdate"}) {
    if (absl::EndsWith(method, change)) return AuditAction::kAlteration;
  }
  return AuditAction::kNone;
}

Auditor::Auditor(Options options) : options_(std::move(options)) {
  if (options_.clock == nullptr) options_.clock = SystemClock::Get();
}

std::string Auditor::ActingUserToken(absl::string_view acting_user) const {
  if (acting_user.empty()) return "";
  // A back-office system sends the same acting person on call after call,
  // and an HMAC under OpenSSL 3 costs more than the rest of the event
  // (callgrind: about 12k instructions with a pre-keyed context). Each
  // thread remembers its last answer, a pure function of key and person.
  struct Last {
    bool valid = false;
    std::string key, user, token;
  };
  thread_local Last last;
  if (last.valid && last.user == acting_user && last.key == options_.hmac_key) return last.token;
  std::string token = HexEncode(HmacSha256(options_.hmac_key, acting_user));
  last.valid = true;
  last.key = options_.hmac_key;
  last.user = std::string(acting_user);
  last.token = token;
  return token;
}

storage::AuditRecord Auditor::Build(const Caller& caller, absl::string_view method, AuditAction action,
                                    const std::vector<std::string>& referral_ids, const Disclosure& disclosed,
                                    absl::StatusCode outcome) const {
  storage::AuditRecord r;
  r.time = absl::FromUnixMicros(absl::ToUnixMicros(options_.clock->Now()));
  r.action = AuditActionName(action);
  r.method = std::string(method);
  r.agency_id = caller.agency_id;
  r.certificate_serial = caller.certificate_serial;
  r.acting_user_hmac = ActingUserToken(caller.acting_user);
  r.purpose = caller.purpose;
  r.referral_ids = absl::StrJoin(referral_ids, ",");
  std::vector<std::string> names;
  for (v1::DataClass c : disclosed.classes.Members()) names.push_back(v1::DataClass_Name(c));
  r.data_classes = absl::StrJoin(names, ",");
  r.derived = absl::StrJoin(disclosed.derived, ",");
  r.outcome = absl::StatusCodeToString(outcome);
  r.agreement = caller.agreement != nullptr ? caller.agreement->Label() : "";
  return r;
}

void Auditor::RecordAsync(const storage::AuditRecord& record, std::function<void(absl::Status)> done) {
  options_.store->RecordAuditAsync(record, [done = std::move(done)](absl::Status s) {
    done(s.ok() ? s : absl::UnavailableError("the audit log cannot be written; nothing was disclosed"));
  });
}

absl::StatusOr<std::vector<storage::AuditRecord>> Auditor::ListEvents(const storage::AuditQuery& query) {
  return options_.store->ListAuditEvents(query);
}

absl::StatusOr<storage::AuditChainReport> Auditor::Verify(const storage::AuditHead* checkpoint) {
  return options_.store->VerifyAuditChain(checkpoint);
}

absl::Status Auditor::Record(const storage::AuditRecord& record) {
  absl::Status s = options_.store->RecordAudit(record);
  if (!s.ok()) return absl::UnavailableError("the audit log cannot be written; nothing was disclosed");
  return absl::OkStatus();
}

}  // namespace refx::core
