// What the storage suites share (store_conformance_test.cc,
// sqlite_store_test.cc): a minimal valid referral row and the create request
// that stores it, so each test states only what it is about.
#ifndef REFX_TESTS_STORAGE_STORE_TEST_SUPPORT_H_
#define REFX_TESTS_STORAGE_STORE_TEST_SUPPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "storage/referral_store.h"

namespace refx::storage {

inline StoredReferral Referral(const std::string& id, const std::string& sender, std::vector<std::string> recipients,
                               absl::Time created, const std::string& area = "leicester") {
  StoredReferral r;
  r.id = id;
  r.sender_agency = sender;
  r.recipient_agencies = std::move(recipients);
  r.state = 1;
  r.area = area;
  r.report_type = 1;
  r.strands = {"race"};
  r.create_time = r.update_time = created;
  r.etag = "e-" + id;
  r.document = "doc-" + id;
  return r;
}

inline CreateReferralRequest Request(StoredReferral r, const std::string& request_id, const std::string& fp = "fp") {
  CreateReferralRequest req;
  req.request_id = request_id;
  req.request_fingerprint = fp;
  req.referral = std::move(r);
  return req;
}

}  // namespace refx::storage

#endif  // REFX_TESTS_STORAGE_STORE_TEST_SUPPORT_H_
