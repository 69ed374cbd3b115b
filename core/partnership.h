// The partnership registry: the agencies that are parties, the areas
// referrals are routed by, and the hate strands that may be recorded.
//
// Built once from the validated config (refx.config.v1.Partnership) and then
// immutable, so it can be shared by every thread without locks. Identity
// checks ("is this certificate's agency a party, and not suspended?") and
// input validation ("is this a known area?") both ask it.
#ifndef REFX_CORE_PARTNERSHIP_H_
#define REFX_CORE_PARTNERSHIP_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "refx/config/v1/partnership.pb.h"

namespace refx::core {

class Partnership {
 public:
  // Validates the registry: non-empty trust domain and ids of the form
  // `[a-z0-9-]+` (strands `[a-z0-9_]+`), no duplicates, every agency area
  // known. INVALID_ARGUMENT names `source` and the offending entry.
  static absl::StatusOr<std::shared_ptr<const Partnership>> Create(
      config::v1::Partnership config, absl::string_view source);

  // Reads and validates a registry file.
  static absl::StatusOr<std::shared_ptr<const Partnership>> Load(const std::string& path);

  const config::v1::Partnership& config() const { return config_; }
  const std::string& id() const { return config_.id(); }
  const std::string& trust_domain() const { return config_.trust_domain(); }

  // nullptr if unknown.
  const config::v1::Agency* FindAgency(absl::string_view id) const;
  const config::v1::Area* FindArea(absl::string_view id) const;
  const config::v1::StrandDefinition* FindStrand(absl::string_view id) const;

  // The SPIFFE id an agency's certificate must carry.
  std::string SpiffeIdOf(absl::string_view agency_id) const;
  // The agency id in `spiffe_id` if it is `spiffe://<trust_domain>/agency/<id>`
  // with a well-formed id; "" otherwise. Does not check registration.
  std::string AgencyIdFromSpiffeId(absl::string_view spiffe_id) const;

 private:
  explicit Partnership(config::v1::Partnership config);
  config::v1::Partnership config_;
  std::map<std::string, int, std::less<>> agencies_, areas_, strands_;
};

// The registry in force, shared by every call; replaced whole when its file
// changes, so an agency suspended (or added) takes effect without a restart.
// A call reads one snapshot and decides everything with it.
class PartnershipHolder {
 public:
  explicit PartnershipHolder(std::shared_ptr<const Partnership> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const Partnership> Current() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }
  void Replace(std::shared_ptr<const Partnership> next) {
    absl::MutexLock lock(&mu_);
    current_ = std::move(next);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const Partnership> current_ ABSL_GUARDED_BY(mu_);
};

// True if `id` matches `[a-z0-9-]+` and is at most 63 characters.
bool IsValidAgencyId(absl::string_view id);

// The name of the agency string "agencies/<id>" and its inverse ("" if the
// text is not of that form).
std::string AgencyName(absl::string_view agency_id);
std::string AgencyIdFromName(absl::string_view name);

}  // namespace refx::core

#endif  // REFX_CORE_PARTNERSHIP_H_
