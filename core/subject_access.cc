#include "core/subject_access.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/redaction.h"
#include "core/referral_manager.h"
#include "core/victim_tokens.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

constexpr char kFindMethod[] = "refx.v1.AuditService.FindSubjectReferrals";
constexpr char kExportMethod[] = "refx.v1.AuditService.ExportSubjectAccessBundle";
// Rows read per store call while collecting a referral's updates and events.
constexpr int kPage = 500;
constexpr int kMaxRestrictions = 100;

std::string MatchedOn(const std::string& kind) { return kind == "name-dob" ? "name-and-birth-date" : kind; }

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

template <typename Request>
v1::Victim PersonOf(const Request& request) {
  v1::Victim person;
  person.set_given_name(request.given_name());
  person.set_family_name(request.family_name());
  person.set_birth_date(request.birth_date());
  person.set_phone(request.phone());
  person.set_email(request.email());
  return person;
}

v1::SubjectDisclosure DisclosureFrom(const storage::AuditRecord& event) {
  v1::SubjectDisclosure out;
  *out.mutable_time() = ToTimestamp(event.time);
  out.set_agency(AgencyName(event.agency_id));
  out.set_method(event.method);
  out.set_purpose(event.purpose);
  for (absl::string_view name : absl::StrSplit(event.data_classes, ',', absl::SkipEmpty())) {
    v1::DataClass c;
    if (v1::DataClass_Parse(std::string(name), &c)) out.add_data_classes(c);
  }
  return out;
}

v1::SubjectReferral RoutingFacts(const storage::StoredReferral& row, const std::vector<std::string>& matched_on) {
  v1::SubjectReferral r;
  r.set_referral(absl::StrCat("referrals/", row.id));
  r.set_sender_agency(AgencyName(row.sender_agency));
  for (const std::string& recipient : row.recipient_agencies) r.add_recipient_agencies(AgencyName(recipient));
  *r.mutable_create_time() = ToTimestamp(row.create_time);
  r.set_state(static_cast<v1::Referral::State>(row.state));
  for (const std::string& kind : matched_on) r.add_matched_on(kind);
  return r;
}

// Checks each restriction against the referrals found: INVALID_ARGUMENT
// naming every bad field.
absl::Status CheckRestrictions(const v1::ExportSubjectAccessBundleRequest& request,
                               const std::map<std::string, const storage::StoredReferral*>& found) {
  std::vector<FieldViolation> violations;
  if (request.restrictions_size() > kMaxRestrictions) {
    violations.push_back({"restrictions", absl::StrCat("at most ", kMaxRestrictions)});
  }
  for (int i = 0; i < request.restrictions_size(); ++i) {
    const v1::SubjectAccessRestriction& r = request.restrictions(i);
    const std::string at = absl::StrCat("restrictions[", i, "]");
    const auto referral = found.find(ReferralIdFromName(r.referral()));
    if (referral == found.end()) {
      violations.push_back({at + ".referral", "must be one of the referrals these identifiers find"});
    }
    if (r.data_classes().empty()) violations.push_back({at + ".data_classes", "name at least one class"});
    for (int j = 0; j < r.data_classes_size(); ++j) {
      const int c = r.data_classes(j);
      if (c == v1::DATA_CLASS_REFERRAL_CORE || c == v1::DATA_CLASS_OPERATIONAL) {
        violations.push_back({absl::StrCat(at, ".data_classes[", j, "]"),
                              "the routing record cannot be withheld class by class: leave the referral out of "
                              "the answer instead"});
      } else if (!v1::DataClass_IsValid(c) || c == v1::DATA_CLASS_UNSPECIFIED) {
        violations.push_back({absl::StrCat(at, ".data_classes[", j, "]"), "unknown data class"});
      }
    }
    if (!v1::RestrictionBasis_IsValid(r.basis()) || r.basis() == v1::RESTRICTION_BASIS_UNSPECIFIED) {
      violations.push_back({at + ".basis", "name the exemption the restriction rests on (RestrictionBasis)"});
    }
    if (!r.controller().empty() && referral != found.end()) {
      const storage::StoredReferral& row = *referral->second;
      const std::string agency = AgencyIdFromName(r.controller());
      if (agency != row.sender_agency && std::find(row.recipient_agencies.begin(), row.recipient_agencies.end(),
                                                   agency) == row.recipient_agencies.end()) {
        violations.push_back({at + ".controller", "must be a party to the referral, agencies/{id}"});
      }
    }
  }
  if (violations.empty()) return absl::OkStatus();
  return InvalidArgumentError("invalid subject access restriction", violations);
}

// The restrictions as the audit event records them: referral ids, class
// names and the basis, never content.
std::string RestrictionRecord(const v1::ExportSubjectAccessBundleRequest& request) {
  std::vector<std::string> parts;
  for (const v1::SubjectAccessRestriction& r : request.restrictions()) {
    std::vector<std::string> classes;
    for (int c : r.data_classes()) {
      classes.push_back(std::string(absl::StripPrefix(v1::DataClass_Name(static_cast<v1::DataClass>(c)),
                                                      "DATA_CLASS_")));
    }
    parts.push_back(absl::StrCat(ReferralIdFromName(r.referral()), ":", absl::StrJoin(classes, "+"), "@",
                                 v1::RestrictionBasis_Name(r.basis()),
                                 r.controller().empty() ? "" : absl::StrCat(">", AgencyIdFromName(r.controller()))));
  }
  return parts.empty() ? "" : absl::StrCat("restricted ", absl::StrJoin(parts, "; "));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SubjectAccess>> SubjectAccess::Create(Options options) {
  if (options.store == nullptr || options.auditor == nullptr || options.registry == nullptr) {
    return absl::InvalidArgumentError("SubjectAccess needs a store, an auditor and the partnership registry");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  return std::unique_ptr<SubjectAccess>(new SubjectAccess(std::move(options)));
}

absl::StatusOr<std::vector<SubjectAccess::Match>> SubjectAccess::FindMatches(const v1::Victim& person) {
  if (options_.victim_token_key.empty()) {
    return FailedPreconditionError(
        "repeat-victim matching is switched off on this server, so no referral can be found by person",
        {{"VICTIM_TOKENS", "victim_token_key_file", "matching must be on"}});
  }
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
  std::vector<Match> found;
  for (const auto& [id, kinds] : matched) {
    REFX_ASSIGN_OR_RETURN(storage::StoredReferral row, options_.store->GetReferral(id));
    found.push_back({std::move(row), std::vector<std::string>(kinds.begin(), kinds.end())});
  }
  std::sort(found.begin(), found.end(), [](const Match& a, const Match& b) {
    return std::tie(a.row.create_time, a.row.id) < std::tie(b.row.create_time, b.row.id);
  });
  return found;
}

absl::StatusOr<v1::FindSubjectReferralsResponse> SubjectAccess::Find(const Caller& caller,
                                                                     const v1::FindSubjectReferralsRequest& request,
                                                                     CallAudit* audit) {
  REFX_ASSIGN_OR_RETURN(std::vector<Match> found, FindMatches(PersonOf(request)));
  v1::FindSubjectReferralsResponse out;
  std::vector<std::string> ids;
  for (const Match& match : found) {
    *out.add_referrals() = RoutingFacts(match.row, match.matched_on);
    ids.push_back(match.row.id);
  }
  Disclosure disclosed;
  if (!ids.empty()) disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  audit->WriteBeforeAnswer(
      options_.auditor->Build(caller, kFindMethod, AuditAction::kConsultation, ids, disclosed, absl::StatusCode::kOk));
  return out;
}

v1::SubjectAccessHolding SubjectAccess::HoldingOf(
    const Caller& dpo, const std::string& agency_id, v1::SubjectAccessHolding::Relationship relationship,
    const v1::Referral& referral, const std::vector<v1::CaseUpdate>& updates,
    const std::vector<storage::AuditRecord>& disclosures,
    const std::vector<const v1::SubjectAccessRestriction*>& restrictions) {
  // The controller as it is registered now, reading for its role's default
  // purpose under the agreement the DPO's call runs under: exactly what its
  // own GetReferral and ListCaseUpdates would return.
  Caller controller;
  controller.agency_id = agency_id;
  controller.agreement = dpo.agreement;
  if (const config::v1::Agency* agency = options_.registry->Current()->FindAgency(agency_id)) {
    controller.role = agency->role();
    controller.purpose = dpo.agreement->ResolvePurpose(controller.role, "").value_or("");
  }
  v1::SubjectAccessHolding holding;
  holding.set_relationship(relationship);
  if (dpo.agreement->RecordVisible(controller, referral)) {
    ReadView view = dpo.agreement->ViewOf(controller, referral);
    // A restriction withholds only what the controller holds: a class it
    // cannot read is not there to withhold.
    for (const v1::SubjectAccessRestriction* r : restrictions) {
      if (!r->controller().empty() && r->controller() != AgencyName(agency_id)) continue;
      for (int c : r->data_classes()) {
        const auto data_class = static_cast<v1::DataClass>(c);
        if (!view.classes.Contains(data_class)) continue;
        view.classes.Remove(data_class);
        v1::WithheldData* withheld = holding.add_withheld();
        withheld->set_data_class(data_class);
        withheld->set_basis(r->basis());
      }
    }
    *holding.mutable_referral() = referral;
    Redact(view, holding.mutable_referral());
    for (const v1::CaseUpdate& update : updates) {
      v1::CaseUpdate* held = holding.add_case_updates();
      *held = update;
      Redact(view, held);
    }
  } else {
    // Its role may not read the record at all: it holds nothing of it but
    // the fact that it was a party.
    holding.mutable_referral()->set_name(referral.name());
  }
  for (const storage::AuditRecord& event : disclosures) {
    if (event.agency_id == agency_id) {
      *holding.add_receipts() = DisclosureFrom(event);
    } else if (relationship == v1::SubjectAccessHolding::SENDER) {
      *holding.add_disclosures() = DisclosureFrom(event);
    }
  }
  return holding;
}

absl::StatusOr<v1::SubjectAccessBundle> SubjectAccess::Export(const Caller& caller,
                                                              const v1::ExportSubjectAccessBundleRequest& request,
                                                              CallAudit* audit) {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  REFX_ASSIGN_OR_RETURN(std::vector<Match> found, FindMatches(PersonOf(request)));
  std::map<std::string, const storage::StoredReferral*> by_id;
  for (const Match& match : found) by_id[match.row.id] = &match.row;
  REFX_RETURN_IF_ERROR(CheckRestrictions(request, by_id));
  v1::SubjectAccessBundle bundle;
  *bundle.mutable_create_time() = ToTimestamp(options_.clock->Now());
  bundle.set_agreement(caller.agreement->Label());
  std::map<std::string, v1::SubjectAccessController> controllers;  // by agency id
  std::vector<std::string> ids;
  for (const Match& match : found) {
    *bundle.add_referrals() = RoutingFacts(match.row, match.matched_on);
    ids.push_back(match.row.id);
    v1::Referral referral;
    if (!referral.ParseFromString(match.row.document)) {
      return absl::InternalError(absl::StrCat("stored referral ", match.row.id, " is unreadable"));
    }
    std::vector<v1::CaseUpdate> updates;
    for (int64_t after = 0;;) {
      REFX_ASSIGN_OR_RETURN(auto rows, options_.store->ListCaseUpdates(match.row.id, after, kPage));
      for (const storage::StoredCaseUpdate& row : rows) {
        if (!updates.emplace_back().ParseFromString(row.document)) {
          return absl::InternalError(absl::StrCat("a stored case update of ", match.row.id, " is unreadable"));
        }
        after = row.sequence;
      }
      if (static_cast<int>(rows.size()) < kPage) break;
    }
    std::vector<storage::AuditRecord> disclosures;
    storage::AuditQuery query;
    query.referral_id = match.row.id;
    query.action = AuditActionName(AuditAction::kDisclosure);
    query.limit = kPage;
    while (true) {
      REFX_ASSIGN_OR_RETURN(auto events, options_.store->ListAuditEvents(query));
      for (storage::AuditRecord& event : events) {
        query.after_sequence = event.sequence;
        // Only what was actually handed over.
        if (event.outcome == "OK") disclosures.push_back(std::move(event));
      }
      if (static_cast<int>(events.size()) < query.limit) break;
    }
    std::vector<std::pair<std::string, v1::SubjectAccessHolding::Relationship>> parties = {
        {match.row.sender_agency, v1::SubjectAccessHolding::SENDER}};
    for (const std::string& recipient : referral.recipient_agencies()) {
      Caller party;
      party.agency_id = AgencyIdFromName(recipient);
      parties.emplace_back(party.agency_id, Agreement::IsFormerParty(party, referral)
                                                ? v1::SubjectAccessHolding::FORMER_RECIPIENT
                                                : v1::SubjectAccessHolding::RECIPIENT);
    }
    std::vector<const v1::SubjectAccessRestriction*> restrictions;
    for (const v1::SubjectAccessRestriction& r : request.restrictions()) {
      if (ReferralIdFromName(r.referral()) == match.row.id) restrictions.push_back(&r);
    }
    for (const auto& [agency_id, relationship] : parties) {
      *controllers[agency_id].add_holdings() =
          HoldingOf(caller, agency_id, relationship, referral, updates, disclosures, restrictions);
    }
  }
  const std::shared_ptr<const Partnership> partnership = options_.registry->Current();
  for (auto& [agency_id, part] : controllers) {
    part.set_agency(AgencyName(agency_id));
    if (const config::v1::Agency* agency = partnership->FindAgency(agency_id)) {
      part.set_display_name(agency->display_name());
    }
    *bundle.add_controllers() = std::move(part);
  }
  // Audit before answer: the DPO receives every class the bundle carries,
  // and the record says what was withheld and why.
  storage::AuditRecord event = options_.auditor->Build(caller, kExportMethod, AuditAction::kDisclosure, ids,
                                                       DisclosureOf(bundle), absl::StatusCode::kOk);
  event.reason = RestrictionRecord(request);
  audit->WriteBeforeAnswer(std::move(event));
  return bundle;
}

}  // namespace refx::core
