// The cost of encryption at rest in refx-bench: the store engine alone (no
// gRPC, no agreement), one SQLite file without encryption and one with it,
// in the same run, on the same disk, creating referrals whose document is
// the run's sample referral. The sealed row's ratio is its rate over the
// plain row's at the same number of calls in flight: what sealing every
// stored copy (referral row, event-log copy) costs a durable create. Then
// the sealed store's values are all moved to a new data key, as a rotation
// does: its rate in values a second.
#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_workloads.h"
#include "common/hash.h"
#include "storage/sqlite/sqlite_store.h"

namespace refx::bench {

absl::Status RunEncryptionAtRestRows(Bench& b, const std::string& directory) {
  const std::string document = b.referral.SerializeAsString();
  std::atomic<int64_t> next{0};
  std::optional<double> plain_rate;
  for (const bool sealed : {false, true}) {
    refx::storage::sqlite::SqliteStore::Options options;
    options.path = absl::StrCat(directory, "/encryption-", sealed ? "sealed" : "plain", ".db");
    if (sealed) {
      options.key_encryption_key.key = RandomBytes(32);
      options.key_encryption_key.source = "refx-bench";
    }
    auto store = refx::storage::sqlite::SqliteStore::Create(options);
    if (!store.ok()) return store.status();
    auto create = [&](int) -> absl::Status {
      const int64_t n = next.fetch_add(1);
      refx::storage::CreateReferralRequest request;
      refx::storage::StoredReferral& r = request.referral;
      r.id = absl::StrCat("bench-", n);
      r.sender_agency = "police";
      r.recipient_agencies = {"city"};
      r.state = 1;
      r.area = "leicester";
      r.report_type = 1;
      r.create_time = r.update_time = absl::Now();
      r.etag = absl::StrCat("e", n);
      r.document = document;
      request.request_id = r.id;
      request.request_fingerprint = "fp";
      request.audit.action = "CREATION";
      refx::storage::ReferralEvent event;
      event.time = r.create_time;
      event.kind = 1;
      event.referral_id = r.id;
      event.audience = {"police", "city"};
      event.referral_document = document;
      request.event = event;
      return (*store)->CreateReferral(request).status();
    };
    const int level = *std::max_element(b.levels.begin(), b.levels.end());
    Row row = Measure(b, sealed ? "store_create_sealed" : "store_create_plain",
                      sealed ? "as store_create_plain + AES-256-GCM of each stored copy (row, event log)"
                             : "store engine alone on SQLite (group commit, fsync per batch), no encryption",
                      level, std::nullopt, [&](const LoadOptions& o) { return RunThreadLoop(o, create); });
    if (!sealed) {
      plain_rate = row.calls_per_second;
    } else if (plain_rate.has_value() && *plain_rate > 0) {
      row.ratio_to_ceiling = row.calls_per_second / *plain_rate;
      row.ceiling = "store_create_plain";
    }
    b.report.rows.push_back(std::move(row));
    if (sealed) {
      // What a data key rotation then costs: every value the run stored
      // moved to a new key (`refx-admin keys reencrypt`), a page of 200 rows
      // per transaction.
      refx::storage::AuditRecord audit;
      audit.time = absl::Now();
      audit.action = "ALTERATION";
      audit.method = "refx-bench";
      audit.agency_id = "refx-bench";
      audit.outcome = "OK";
      if (auto rotation = (*store)->RotateDataKey(audit); !rotation.ok()) return rotation.status();
      const absl::Time start = absl::Now();
      auto report = (*store)->ReencryptStoredValues(200, nullptr);
      if (!report.ok()) return report.status();
      Row reencrypt;
      reencrypt.workload = "store_reencrypt";
      reencrypt.bounded_by = "values moved to a new data key per second: one SQLite writer, 200-row pages, idle store";
      reencrypt.in_flight = 1;
      reencrypt.calls = report->values_rewritten;
      reencrypt.seconds = absl::ToDoubleSeconds(absl::Now() - start);
      reencrypt.calls_per_second = reencrypt.seconds > 0 ? reencrypt.calls / reencrypt.seconds : 0;
      b.report.rows.push_back(std::move(reencrypt));
    }
  }
  return absl::OkStatus();
}

}  // namespace refx::bench
