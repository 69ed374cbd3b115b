// Referral use cases: create, get and list, for an authenticated caller.
//
// Enforces, in this order: input validation, the record gate (only the sender
// and recipients may see a referral, and anyone else gets exactly the
// NOT_FOUND of a referral that does not exist), and the disclosure policy
// (fields redacted by data class). Methods block on storage, so the server
// calls them from its worker pool, never from a gRPC reactor thread.
//
// Errors: INVALID_ARGUMENT with field violations; NOT_FOUND; UNAVAILABLE
// (storage; retry with the same request id is safe).
#ifndef REFX_CORE_REFERRAL_MANAGER_H_
#define REFX_CORE_REFERRAL_MANAGER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "core/caller.h"
#include "core/disclosure_policy.h"
#include "core/partnership.h"
#include "refx/v1/referral.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

// Parameters of a listing, as plain values (server/ converts the request).
struct ListReferralsParams {
  int page_size = 0;  // 0 -> default
  std::string page_token;
  std::vector<v1::Referral::State> states;
  std::vector<std::string> areas;
  std::vector<std::string> strands;
  std::vector<v1::ReportType> report_types;
  absl::optional<absl::Time> created_from;
  absl::optional<absl::Time> created_to;
};

struct ReferralPage {
  std::vector<v1::Referral> referrals;
  std::string next_page_token;
};

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;

class ReferralManager {
 public:
  struct Options {
    std::shared_ptr<const Partnership> partnership;
    storage::ReferralStore* store = nullptr;                          // not owned
    std::shared_ptr<const DisclosurePolicy> policy;                   // default: PartiesSeeEverything
    const Clock* clock = nullptr;                                     // default: SystemClock
  };
  static absl::StatusOr<std::unique_ptr<ReferralManager>> Create(Options options);

  // Creates a referral from the caller's agency; output-only fields of
  // `input` are ignored. A retry with the same request id and referral returns
  // the first result; a different referral under a used id is
  // INVALID_ARGUMENT (field `request_id`).
  absl::StatusOr<v1::Referral> CreateReferral(const Caller& caller, const v1::Referral& input,
                                              const std::string& request_id);

  // `name` is `referrals/{id}`.
  absl::StatusOr<v1::Referral> GetReferral(const Caller& caller, const std::string& name);

  absl::StatusOr<ReferralPage> ListReferrals(const Caller& caller, const ListReferralsParams& params);

 private:
  explicit ReferralManager(Options options) : options_(std::move(options)) {}
  // Parses a stored document and redacts it for the caller.
  absl::StatusOr<v1::Referral> ViewFor(const Caller& caller, const storage::StoredReferral& stored) const;

  Options options_;
};

// Referral names: `referrals/{id}` with a 32-hex-digit id.
std::string ReferralName(const std::string& id);
// The id in `name`, or "" if it is not a well-formed referral name.
std::string ReferralIdFromName(const std::string& name);

}  // namespace refx::core

#endif  // REFX_CORE_REFERRAL_MANAGER_H_
