#include "core/subject_access.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/victim_tokens.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

constexpr char kMethod[] = "refx.v1.AuditService.FindSubjectReferrals";

std::string MatchedOn(const std::string& kind) { return kind == "name-dob" ? "name-and-birth-date" : kind; }

}  // namespace

absl::StatusOr<std::unique_ptr<SubjectAccess>> SubjectAccess::Create(Options options) {
  if (options.store == nullptr || options.auditor == nullptr) {
    return absl::InvalidArgumentError("SubjectAccess needs a store and an auditor");
  }
  return std::unique_ptr<SubjectAccess>(new SubjectAccess(std::move(options)));
}

absl::StatusOr<v1::FindSubjectReferralsResponse> SubjectAccess::Find(const Caller& caller,
                                                                     const v1::FindSubjectReferralsRequest& request,
                                                                     CallAudit* audit) {
  if (options_.victim_token_key.empty()) {
    return FailedPreconditionError(
        "repeat-victim matching is switched off on this server, so no referral can be found by person",
        {{"VICTIM_TOKENS", "victim_token_key_file", "matching must be on"}});
  }
  v1::Victim person;
  person.set_given_name(request.given_name());
  person.set_family_name(request.family_name());
  person.set_birth_date(request.birth_date());
  person.set_phone(request.phone());
  person.set_email(request.email());
  const std::vector<KindedVictimToken> tokens = VictimTokensByKind(options_.victim_token_key, person);
  if (tokens.empty()) {
    // Descriptions name the rule, never the value sent.
    return InvalidArgumentError(
        "no usable identifier: give a phone number, an e-mail address, or a name with a birth date",
        {{"phone", "a UK phone number of at least 10 digits"},
         {"email", "an e-mail address"},
         {"birth_date", "YYYY-MM-DD, with given_name or family_name (a name alone matches strangers)"}});
  }

  std::map<std::string, std::set<std::string>> matched;  // referral id -> identifier kinds
  for (const KindedVictimToken& t : tokens) {
    REFX_ASSIGN_OR_RETURN(std::vector<std::string> ids, options_.store->FindReferralsByVictimToken(t.token));
    for (const std::string& id : ids) matched[id].insert(MatchedOn(t.kind));
  }
  std::vector<storage::StoredReferral> found;
  for (const auto& [id, kinds] : matched) {
    REFX_ASSIGN_OR_RETURN(storage::StoredReferral row, options_.store->GetReferral(id));
    found.push_back(std::move(row));
  }
  std::sort(found.begin(), found.end(), [](const storage::StoredReferral& a, const storage::StoredReferral& b) {
    return std::tie(a.create_time, a.id) < std::tie(b.create_time, b.id);
  });

  v1::FindSubjectReferralsResponse out;
  std::vector<std::string> ids;
  for (const storage::StoredReferral& row : found) {
    v1::SubjectReferral* r = out.add_referrals();
    r->set_referral(absl::StrCat("referrals/", row.id));
    r->set_sender_agency(absl::StrCat("agencies/", row.sender_agency));
    for (const std::string& recipient : row.recipient_agencies) r->add_recipient_agencies("agencies/" + recipient);
    *r->mutable_create_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(row.create_time));
    r->set_state(static_cast<v1::Referral::State>(row.state));
    for (const std::string& kind : matched[row.id]) r->add_matched_on(kind);
    ids.push_back(row.id);
  }
  Disclosure disclosed;
  if (!ids.empty()) disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  audit->WriteBeforeAnswer(
      options_.auditor->Build(caller, kMethod, AuditAction::kConsultation, ids, disclosed, absl::StatusCode::kOk));
  return out;
}

}  // namespace refx::core
