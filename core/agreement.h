// The information-sharing agreement in force, validated, and the decisions
// it drives: which operations a role may call, which data classes flow to a
// reader (by role, purpose, and the victim's consent or a recorded lawful
// basis), which classes a writer may set, and which referrals a
// Prevent-only role may see at all.
//
// Immutable once built, so a call can hold one snapshot from admission to
// answer; AgreementHolder swaps in a new snapshot when the file changes.
// Every decision denies by default: an unknown role, purpose, permission or
// class grants nothing.
#ifndef REFX_CORE_AGREEMENT_H_
#define REFX_CORE_AGREEMENT_H_

#include <map>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/caller.h"
#include "core/reporting/disclosure_control.h"
#include "core/reporting/release_period.h"
#include "core/reporting/tension_monitor.h"
#include "core/partnership.h"
#include "core/redaction.h"
#include "core/response_deadline.h"
#include "refx/config/v1/agreement.pb.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {

class Agreement {
 public:
  // Validates `config` and checks it against the registry: every agency's
  // role must have rules here. INVALID_ARGUMENT names `source`, the key and
  // the problem (e.g. `agreement.yaml: roles[2].grants[0].purpose: unknown
  // purpose 'audit'`).
  static absl::StatusOr<std::shared_ptr<const Agreement>> Create(config::v1::Agreement config,
                                                                 absl::string_view source,
                                                                 const Partnership& partnership);
  static absl::StatusOr<std::shared_ptr<const Agreement>> Load(const std::string& path,
                                                               const Partnership& partnership);

  const config::v1::Agreement& config() const { return config_; }
  // `id@version`, recorded with every disclosure.
  std::string Label() const;
  // Unique to this loaded agreement within the process (a reload without a
  // version bump gets a new one): keys caches of decisions made under it.
  uint64_t instance() const { return instance_; }

  // Whether `role` holds `permission`.
  bool Allows(absl::string_view role, config::v1::Permission permission) const;
  // The purpose a call runs under: `requested`, or the role's default when
  // empty. PERMISSION_DENIED if the role has no grant for it.
  absl::StatusOr<std::string> ResolvePurpose(absl::string_view role, absl::string_view requested) const;

  // The classes `caller` (role and resolved purpose) may read of `referral`,
  // given the victim's consent or the lawful basis the referral records;
  // for an agency that redirected it away, no more than `former_parties`.
  DataClassSet ReadableClasses(const Caller& caller, const v1::Referral& referral) const;
  // ReadableClasses, and whether values derived from other referrals reach
  // the caller (its grant's read_derived): everything redaction needs.
  ReadView ViewOf(const Caller& caller, const v1::Referral& referral) const;
  // The most `caller` could ever read for its purpose (consent given).
  DataClassSet MaxReadableClasses(const Caller& caller) const;
  // The classes `caller` may set on a referral it writes.
  DataClassSet WritableClasses(const Caller& caller) const;
  // True if the caller's agency redirected `referral` away: it reads only
  // the agreement's `former_parties` classes of it, and no derived values.
  static bool IsFormerParty(const Caller& caller, const v1::Referral& referral);
  // False for a Prevent-only role and a referral without a Prevent concern.
  bool RecordVisible(const Caller& caller, const v1::Referral& referral) const;
  // Whether `role` records non-crime hate incidents under the NCHI Code of
  // Practice 2023 (RoleRules.nchi_code_applies).
  bool NchiCodeApplies(absl::string_view role) const;
  // The regime a referral that `RegimeFor` places under `regime` is made
  // under at `at`: its successor (`regime_successions`) once that is in
  // force, else `regime`.
  v1::RecordingRegime RegimeInForce(v1::RecordingRegime regime, absl::Time at) const;
  // One recording regime replaced by another from a date, as validated.
  struct RegimeSuccession {
    v1::RecordingRegime from = v1::RECORDING_REGIME_UNSPECIFIED;
    v1::RecordingRegime to = v1::RECORDING_REGIME_UNSPECIFIED;
    std::string effective_date;  // YYYY-MM-DD, as the agreement says
    absl::Time effective;        // the start of that day in the agreement's zone
    bool purge_subject_data = false;  // PURGE (else KEEP) what was recorded under `from`
  };
  // Every succession the agreement dates (`regime_successions`).
  std::vector<RegimeSuccession> regime_successions() const;
  bool IsLawfulBasis(absl::string_view id) const;

  // When a recipient must respond to a referral of `priority` sent (or
  // redirected) at `from`; PRIORITY_UNSPECIFIED counts as ROUTINE.
  absl::Time ResponseDeadline(v1::Priority priority, absl::Time from) const;
  const WorkingCalendar& calendar() const { return calendar_; }
  // The disclosure control and tension detector rules (defaults filled in).
  reporting::DisclosureRules disclosure_rules() const;
  std::string disclosure_source() const { return config_.statistical_disclosure().source(); }
  reporting::TensionRules tension_rules() const;
  // The one period grid aggregate tables are released on (ADR 8).
  reporting::PeriodKind release_period() const;

 private:
  explicit Agreement(config::v1::Agreement config);
  uint64_t instance_;
  const config::v1::Grant* GrantFor(const Caller& caller) const;
  // What the caller's grant allows of `referral`, before data minimisation.
  DataClassSet GrantedClasses(const Caller& caller, const v1::Referral& referral) const;

  config::v1::Agreement config_;
  std::map<std::string, int, std::less<>> roles_;
  std::map<int, DeadlinePeriod> deadlines_;  // by v1::Priority, complete once validated
  WorkingCalendar calendar_;
  std::map<int, RegimeSuccession> successions_;  // by the v1::RecordingRegime replaced
};

// The agreement currently in force, shared by all calls; replaced whole.
class AgreementHolder {
 public:
  explicit AgreementHolder(std::shared_ptr<const Agreement> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const Agreement> Current() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }
  void Replace(std::shared_ptr<const Agreement> next) {
    absl::MutexLock lock(&mu_);
    current_ = std::move(next);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const Agreement> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace refx::core

#endif  // REFX_CORE_AGREEMENT_H_
