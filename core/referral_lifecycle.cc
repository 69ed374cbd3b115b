#include "core/referral_lifecycle.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/partnership.h"

namespace refx::core {

const std::vector<LifecycleRule>& LifecycleTable() {
  using S = v1::Referral;
  using A = LifecycleAction;
  using P = LifecycleParty;
  static const auto* kTable = new std::vector<LifecycleRule>{
      {S::REQUESTED, A::kAccept, S::ACCEPTED, P::kRecipient},
      {S::REQUESTED, A::kDecline, S::DECLINED, P::kRecipient},
      {S::REQUESTED, A::kRedirect, S::REDIRECTED, P::kRecipient},
      {S::REQUESTED, A::kCancel, S::CANCELLED, P::kSender},
      {S::REDIRECTED, A::kAccept, S::ACCEPTED, P::kRecipient},
      {S::REDIRECTED, A::kDecline, S::DECLINED, P::kRecipient},
      {S::REDIRECTED, A::kRedirect, S::REDIRECTED, P::kRecipient},
      {S::REDIRECTED, A::kCancel, S::CANCELLED, P::kSender},
      {S::ACCEPTED, A::kStart, S::IN_PROGRESS, P::kOwner},
      {S::ACCEPTED, A::kComplete, S::COMPLETED, P::kOwner},
      {S::ACCEPTED, A::kCancel, S::CANCELLED, P::kSender},
      {S::IN_PROGRESS, A::kComplete, S::COMPLETED, P::kOwner},
      {S::IN_PROGRESS, A::kCancel, S::CANCELLED, P::kSender},
      {S::COMPLETED, A::kReopen, S::IN_PROGRESS, P::kPolice, /*hate_crime_only=*/true},
      // DECLINED and CANCELLED are final.
  };
  return *kTable;
}

const LifecycleRule* FindLifecycleRule(v1::Referral::State from, LifecycleAction action) {
  for (const LifecycleRule& rule : LifecycleTable()) {
    if (rule.from == from && rule.action == action) return &rule;
  }
  return nullptr;
}

bool IsLifecycleParty(LifecycleParty party, const Caller& caller, const v1::Referral& referral) {
  const std::string me = AgencyName(caller.agency_id);
  auto contains = [&](const auto& list) { return std::find(list.begin(), list.end(), me) != list.end(); };
  const bool sender = referral.sender_agency() == me;
  const bool recipient = contains(referral.recipient_agencies());
  switch (party) {
    case LifecycleParty::kRecipient:
      return recipient && !contains(referral.redirected_agencies()) &&
             (referral.owner_agency().empty() || referral.owner_agency() == me);
    case LifecycleParty::kOwner:
      return !referral.owner_agency().empty() && referral.owner_agency() == me;
    case LifecycleParty::kSender:
      return sender;
    case LifecycleParty::kPolice:
      return (sender || recipient) && caller.role == kPoliceRole;
  }
  return false;
}

const char* LifecycleActionName(LifecycleAction action) {
  switch (action) {
    case LifecycleAction::kAccept: return "accept";
    case LifecycleAction::kDecline: return "decline";
    case LifecycleAction::kRedirect: return "redirect";
    case LifecycleAction::kStart: return "start";
    case LifecycleAction::kComplete: return "complete";
    case LifecycleAction::kCancel: return "cancel";
    case LifecycleAction::kReopen: return "reopen";
  }
  return "?";
}

std::string LifecycleMethodName(LifecycleAction action) {
  std::string name = LifecycleActionName(action);
  name[0] = static_cast<char>(name[0] - 'a' + 'A');
  return absl::StrCat(name, "Referral");
}

const char* LifecyclePartyName(LifecycleParty party) {
  switch (party) {
    case LifecycleParty::kRecipient: return "a recipient acting on the referral";
    case LifecycleParty::kOwner: return "the recipient that accepted the referral";
    case LifecycleParty::kSender: return "the sender";
    case LifecycleParty::kPolice: return "a police party to the referral";
  }
  return "?";
}

}  // namespace refx::core
