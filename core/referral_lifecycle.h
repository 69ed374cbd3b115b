// The referral lifecycle: the one table of which transition each party may
// make from which state. Everything that changes a referral's state (the
// manager, the tests, the docs) reads it from here.
#ifndef REFX_CORE_REFERRAL_LIFECYCLE_H_
#define REFX_CORE_REFERRAL_LIFECYCLE_H_

#include <string>
#include <vector>

#include "core/caller.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {

enum class LifecycleAction { kAccept, kDecline, kRedirect, kStart, kComplete, kCancel, kReopen };
inline constexpr LifecycleAction kAllLifecycleActions[] = {
    LifecycleAction::kAccept,   LifecycleAction::kDecline, LifecycleAction::kRedirect, LifecycleAction::kStart,
    LifecycleAction::kComplete, LifecycleAction::kCancel,  LifecycleAction::kReopen};

// Who may make a transition.
enum class LifecycleParty {
  // A recipient still acting on the referral: listed, not redirected away,
  // and no other recipient has accepted it.
  kRecipient,
  // The recipient that accepted it (Referral.owner_agency).
  kOwner,
  // The sending agency.
  kSender,
  // A party (sender or recipient) whose agreement role is police.
  kPolice,
};

// The agreement role police agencies hold (config/agreement.yaml).
inline constexpr char kPoliceRole[] = "police";

struct LifecycleRule {
  v1::Referral::State from;
  LifecycleAction action;
  v1::Referral::State to;
  LifecycleParty party;
  bool hate_crime_only = false;  // the referral's report_type must be HATE_CRIME
};

// Every allowed transition; anything not listed is refused.
const std::vector<LifecycleRule>& LifecycleTable();

// The rule for `action` from `from`, or nullptr if that transition does not exist.
const LifecycleRule* FindLifecycleRule(v1::Referral::State from, LifecycleAction action);

// Whether `caller` is `party` for `referral` (a stored, unredacted document).
bool IsLifecycleParty(LifecycleParty party, const Caller& caller, const v1::Referral& referral);

// "accept", "decline", ...; and the RPC name ("AcceptReferral", ...).
const char* LifecycleActionName(LifecycleAction action);
std::string LifecycleMethodName(LifecycleAction action);
const char* LifecyclePartyName(LifecycleParty party);

}  // namespace refx::core

#endif  // REFX_CORE_REFERRAL_LIFECYCLE_H_
