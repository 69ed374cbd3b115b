#include "server/referral_convert.h"

#include "common/status_details.h"
#include "core/agreement.h"
#include "core/partnership.h"
#include "core/referral_validation.h"
#include "google/protobuf/util/time_util.h"

namespace refx::server {

using google::protobuf::util::TimeUtil;

absl::StatusOr<core::ListReferralsParams> ToListParams(const v1::ListReferralsRequest& request) {
  core::ListReferralsParams p;
  p.page_size = request.page_size();
  p.page_token = request.page_token();
  p.read_mask.assign(request.read_mask().paths().begin(), request.read_mask().paths().end());
  const auto& f = request.filter();
  p.filter = f;
  for (int s : f.states()) p.states.push_back(static_cast<v1::Referral::State>(s));
  p.areas.assign(f.areas().begin(), f.areas().end());
  p.strands.assign(f.strands().begin(), f.strands().end());
  for (int t : f.report_types()) p.report_types.push_back(static_cast<v1::ReportType>(t));
  p.overdue = f.overdue();
  p.awaiting_my_response = f.awaiting_my_response();
  std::vector<FieldViolation> violations;
  if (f.has_create_time_from() && !core::IsValidTimestamp(f.create_time_from())) {
    violations.push_back({"filter.create_time_from", "not a valid timestamp"});
  }
  if (f.has_create_time_to() && !core::IsValidTimestamp(f.create_time_to())) {
    violations.push_back({"filter.create_time_to", "not a valid timestamp"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid list request", violations);
  if (f.has_create_time_from()) {
    p.created_from = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(f.create_time_from()));
  }
  if (f.has_create_time_to()) {
    p.created_to = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(f.create_time_to()));
  }
  return p;
}

void ToWhoAmIResponse(const core::Caller& caller, const std::string& partnership_id, v1::WhoAmIResponse* out) {
  out->set_agency(core::AgencyName(caller.agency_id));
  out->set_display_name(caller.display_name);
  out->set_agency_type(caller.agency_type);
  out->set_role(caller.role);
  out->set_spiffe_id(caller.spiffe_id);
  out->set_certificate_serial(caller.certificate_serial);
  *out->mutable_certificate_expire_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(caller.certificate_not_after));
  out->set_partnership(partnership_id);
  out->set_purpose(caller.purpose);
  if (caller.agreement != nullptr) out->set_agreement(caller.agreement->Label());
}

}  // namespace refx::server
