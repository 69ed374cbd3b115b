// Who is calling: the authenticated agency behind a request, as established
// by the transport (mTLS certificate) and the partnership registry. Core code
// authorizes on `agency_id` and `role` only.
#ifndef REFX_CORE_CALLER_H_
#define REFX_CORE_CALLER_H_

#include <memory>
#include <string>

#include "absl/time/time.h"

namespace refx::core {

class Agreement;

struct Caller {
  std::string agency_id;          // from the certificate's single URI SAN
  std::string display_name;       // from the registry
  std::string agency_type;        // e.g. "police"
  std::string role;               // the agreement role, from the registry
  std::string spiffe_id;
  std::string certificate_serial;  // uppercase hex
  absl::Time certificate_not_after;
  // The person acting, as named by the client in call metadata. Recorded,
  // never used to authorize.
  std::string acting_user;
  // Set when the call is admitted (AdmitCall): the purpose it runs under and
  // the agreement snapshot every decision of this call uses.
  std::string purpose;
  std::shared_ptr<const Agreement> agreement;
};

}  // namespace refx::core

#endif  // REFX_CORE_CALLER_H_
