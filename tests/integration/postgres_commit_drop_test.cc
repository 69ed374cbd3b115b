// The connection to PostgreSQL drops at a COMMIT (issue 17), through a
// proxy on the server's database socket (tests/testing/pg_fault_proxy.h):
// once before the COMMIT reaches the database (the transaction is lost)
// and once just after (it is applied, but its answer never arrives, so the
// server cannot know which of the two happened).
//
// Either way the referral ends up stored exactly once: the call is answered
// OK only if it is durable, and a client that retries with the same
// request_id (as every client library does) gets the same referral, never
// a second one. The audit chain stays whole and the server keeps serving.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/pg_fault_proxy.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

TEST(PostgresCommitDropTest, AWriteWhoseCommitConnectionDropsIsStoredExactlyOnce) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto storage = NewPostgresDatabase();
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto proxy = PgFaultProxy::Start(storage->postgres().host(), storage->postgres().port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  storage->mutable_postgres()->set_host((*proxy)->directory());
  TestServer::Options options;
  options.customize = [&](config::v1::ServerConfig* c) { *c->mutable_storage() = *storage; };
  auto server = TestServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  client::ReferralClient police = (*server)->Client(kPolice);
  ASSERT_TRUE(police.CreateReferral(ValidReferral(), "before-any-drop").ok());

  int expected_stored = 1;
  for (const auto& [drop, label] : {std::pair{PgFaultProxy::Drop::kBeforeCommit, "before"},
                                    std::pair{PgFaultProxy::Drop::kAfterCommit, "after"}}) {
    SCOPED_TRACE(absl::StrCat("connection dropped ", label, " the COMMIT"));
    const int drops = (*proxy)->drops();
    v1::Referral referral = ValidReferral();
    referral.set_incident_narrative(absl::StrCat("dropped ", label, " commit"));
    const std::string request_id = absl::StrCat("drop-", label);
    (*proxy)->ArmOnce(drop);
    auto first = police.CreateReferral(referral, request_id);
    EXPECT_EQ((*proxy)->drops(), drops + 1) << "the proxy dropped no COMMIT: the test proves nothing";
    if (!first.ok()) {
      EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable) << first.status();
    }
    // The client's retry, same request id: answered, and the same referral.
    absl::StatusOr<v1::Referral> again = absl::UnavailableError("not tried");
    EXPECT_TRUE(Eventually([&] {
      again = police.CreateReferral(referral, request_id);
      return again.ok();
    })) << again.status();
    if (first.ok() && again.ok()) {
      EXPECT_EQ(again->name(), first->name());
    }
    ++expected_stored;
    std::printf("connection dropped %s the COMMIT: first answer %s\n", label,
                first.ok() ? "OK (the server retried on a new connection)" : first.status().ToString().c_str());

    // Exactly once: one referral with this narrative.
    v1::ListReferralsRequest list;
    list.set_page_size(100);
    auto page = police.ListReferrals(list);
    ASSERT_TRUE(page.ok()) << page.status();
    int with_narrative = 0;
    for (const auto& r : page->referrals()) with_narrative += r.incident_narrative() == referral.incident_narrative();
    EXPECT_EQ(with_narrative, 1);
    EXPECT_EQ(page->referrals_size(), expected_stored);
  }

  auto channel = (*server)->Channel((*server)->pki().Agency(kPolice));
  EXPECT_TRUE(Eventually([&] { return HealthServing(channel); }));
  auto chain = (*server)->Client("llr-information-governance").VerifyAuditChain(v1::VerifyAuditChainRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(chain->intact()) << chain->DebugString();
}

}  // namespace
}  // namespace refx::testing
