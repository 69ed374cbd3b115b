// Retention jobs racing on two replicas of one PostgreSQL database (issue
// 16 item 2): started at the same moment, over two stores of one database,
// they erase each class of each referral once, with one audit event and one
// watch event per referral, however their runs interleave. Part of
// refx_retention_test.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "core/agreement.h"
#include "core/partnership.h"
#include "core/retention.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "storage/make_store.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using Response = v1::WatchReferralsResponse;

// Several replicas of one PostgreSQL database each run the job (the
// default).
TEST(RetentionReplicasTest, JobsRacingOnTwoReplicasEraseEachClassOnce) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto database = NewPostgresDatabase();
  ASSERT_TRUE(database.ok()) << database.status();
  storage::MakeStoreOptions store_options;
  store_options.config = *database;
  store_options.key_encryption_key.key = std::string(32, 'r');
  store_options.key_encryption_key.source = "test key";
  auto first = storage::MakeStore(store_options);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = storage::MakeStore(store_options);
  ASSERT_TRUE(second.ok()) << second.status();

  auto partnership = core::Partnership::Load(SourcePath("config/partnership.yaml"));
  ASSERT_TRUE(partnership.ok()) << partnership.status();
  auto agreement = core::Agreement::Load(SourcePath("config/agreement.yaml"), **partnership);
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  core::AgreementHolder agreements(*agreement);
  const absl::Time closed = absl::FromUnixSeconds(1767607200);
  FakeClock clock(closed + absl::Hours(24 * 366));

  constexpr int kReferrals = 40;
  for (int i = 0; i < kReferrals; ++i) {
    v1::Referral document = ValidReferral(kCityCouncil);
    const std::string id = absl::StrFormat("%032x", 0x1000 + i);
    document.set_name(absl::StrCat("referrals/", id));
    document.set_state(v1::Referral::COMPLETED);
    *document.mutable_close_time() = google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(closed));
    storage::CreateReferralRequest create;
    create.request_id = id;
    create.request_fingerprint = id;
    create.referral.id = id;
    create.referral.sender_agency = kPolice;
    create.referral.recipient_agencies = {kCityCouncil};
    create.referral.state = v1::Referral::COMPLETED;
    create.referral.area = document.area();
    create.referral.create_time = create.referral.update_time = closed - absl::Hours(1);
    create.referral.etag = "e" + id;
    create.referral.document = document.SerializeAsString();
    create.audit.action = "COLLECTION";
    ASSERT_TRUE((*first)->CreateReferral(create).ok());
  }

  core::RetentionJob::Options options;
  options.agreements = &agreements;
  options.clock = &clock;
  options.scan_page = 7;  // many pages, so the two runs interleave
  options.store = first->get();
  auto job_one = core::RetentionJob::Create(options);
  options.store = second->get();
  auto job_two = core::RetentionJob::Create(options);
  ASSERT_TRUE(job_one.ok() && job_two.ok());
  absl::StatusOr<core::RetentionJob::RunReport> one, two;
  std::thread a([&] { one = (*job_one)->RunOnce(); });
  std::thread b([&] { two = (*job_two)->RunOnce(); });
  a.join();
  b.join();
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(two.ok()) << two.status();
  // Each referral erased by exactly one of them; the other found it changed
  // or already erased.
  EXPECT_EQ(one->referrals_erased + two->referrals_erased, kReferrals);

  for (int i = 0; i < kReferrals; ++i) {
    auto stored = (*second)->GetReferral(absl::StrFormat("%032x", 0x1000 + i));
    ASSERT_TRUE(stored.ok()) << stored.status();
    v1::Referral read;
    ASSERT_TRUE(read.ParseFromString(stored->document));
    EXPECT_EQ(read.erasures_size(), 5) << stored->id;
  }
  storage::AuditQuery erasures;
  erasures.action = "ERASURE";
  erasures.limit = 1000;
  EXPECT_EQ((*first)->ListAuditEvents(erasures)->size(), static_cast<size_t>(kReferrals));
  EXPECT_TRUE((*first)->VerifyAuditChain()->intact);
  storage::EventQuery events{kCityCouncil, 0, 1000};
  int erased_events = 0;
  auto logged = (*first)->ListEvents(events);
  ASSERT_TRUE(logged.ok()) << logged.status();
  for (const auto& e : *logged) erased_events += e.kind == Response::REFERRAL_ERASED;
  EXPECT_EQ(erased_events, kReferrals);
}

}  // namespace
}  // namespace refx::testing
