// A recording regime's successor applied to the referrals made under it
// (docs/adr/0009-recording-regime-succession.md): when the agreement dates a
// succession (`regime_successions`) and its day has come, every referral
// still under the old regime moves under the new one, its earlier regime
// kept in Referral.regime_history; if the partnership decided PURGE, the
// subject data recorded under the old regime (DATA_CLASS_NCHI_SUBJECT) is
// erased everywhere it is stored and the erasure recorded in the referral.
//
// Every such referral is rewritten, and under PURGE every one records the
// erasure, whether or not it holds subject data: what a party sees (etag,
// update time, the watch event, the erasure record) then says nothing
// about the compartment. Each referral is one write through the path
// retention uses (core/retention.h: RewriteReferral), with its audit event
// (ALTERATION, or ERASURE under PURGE) and the parties told on the watch
// stream. A referral under a legal hold is left, and listed, until the hold
// is released; the migration selects only referrals still under the old
// regime, so running it again finishes what a hold or a race left.
#ifndef REFX_CORE_REGIME_MIGRATION_H_
#define REFX_CORE_REGIME_MIGRATION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "core/agreement.h"
#include "refx/v1/referral.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

// What the migration does, or will do, to one referral.
struct PlannedRegimeChange {
  std::string referral_id;
  v1::RecordingRegime from = v1::RECORDING_REGIME_UNSPECIFIED;
  v1::RecordingRegime to = v1::RECORDING_REGIME_UNSPECIFIED;
  bool purge = false;  // its subject data is erased (else kept, under `to`)
  bool held = false;   // under a legal hold: left until the hold is released
  std::string rule;    // the authority, as its erasure record and audit event say

  bool operator==(const PlannedRegimeChange& other) const = default;
};

class RegimeMigration {
 public:
  struct Options {
    storage::ReferralStore* store = nullptr;  // not owned
    std::shared_ptr<const Agreement> agreement;
    const Clock* clock = nullptr;  // default: the system clock
    // The repeat-victim token key (core/victim_tokens.h) of the server.
    std::string victim_token_key;
    // Who runs it, as the audit events name the agency.
    std::string operator_name = "refx-admin";
    int scan_page = 500;  // referrals read per page
  };
  // INVALID_ARGUMENT without a store or an agreement.
  static absl::StatusOr<std::unique_ptr<RegimeMigration>> Create(Options options);

  // Every referral still under the old regime of a succession the agreement
  // dates, oldest first, with what will happen to it; held ones marked.
  // Changes nothing. Before the succession's day, what will happen then.
  absl::StatusOr<std::vector<PlannedRegimeChange>> Plan();

  struct RunReport {
    std::vector<PlannedRegimeChange> changed;  // done, oldest first
    std::vector<PlannedRegimeChange> held;     // left under a legal hold
    int64_t changed_meanwhile = 0;       // changed between read and write: run again
    int64_t left_for_newer_version = 0;  // a copy written by a newer version of refx
    int64_t copies_rewritten = 0;        // event-log copies, retry responses, case updates
  };
  // Applies the plan, one write per referral. FAILED_PRECONDITION if the
  // agreement dates no succession or a succession's day has not come.
  absl::StatusOr<RunReport> Run();

 private:
  explicit RegimeMigration(Options options) : options_(std::move(options)) {}
  absl::Status ForEachPlanned(
      const std::function<absl::Status(const storage::StoredReferral&, const v1::Referral&,
                                       const PlannedRegimeChange&)>& visit);

  Options options_;
};

}  // namespace refx::core

#endif  // REFX_CORE_REGIME_MIGRATION_H_
