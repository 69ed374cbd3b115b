// No agency can starve the others: each limit of the server config refuses
// with RESOURCE_EXHAUSTED and an ErrorInfo reason, and while one agency is at
// its limit another is served. Real mTLS against the in-process server.
#include <atomic>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

std::unique_ptr<TestServer> StartWith(const std::function<void(config::v1::ServerConfig*)>& customize) {
  auto server = TestServer::Start(TestServer::Options{customize});
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

client::ReferralClient On(const TestServer& server, std::shared_ptr<grpc::Channel> channel,
                          absl::Duration timeout = absl::Seconds(10)) {
  client::ConnectionOptions options;
  options.server = server.address();
  options.timeout = timeout;
  options.acting_user = "caseworker";
  return client::ReferralClient(std::move(channel), options);
}

int64_t AuditedRefusals(TestServer& server, const std::string& reason) {
  v1::ListAuditEventsRequest req;
  req.set_page_size(1000);
  int64_t total = 0;
  auto page = Api(server.Channel(server.pki().Agency(kDpo)), "dpo").ListAudit(req);
  EXPECT_TRUE(page.ok()) << page.status();
  if (page.ok()) {
    for (const auto& e : page->events()) {
      if (e.reason() == reason) total += e.count();
    }
  }
  return total;
}

// A burst of `calls` concurrent ListReferrals from `agency` on one
// connection; the statuses.
std::vector<absl::Status> Burst(TestServer& server, const std::string& agency, int calls) {
  auto channel = server.Channel(server.pki().Agency(agency));
  std::vector<absl::Status> statuses(calls);
  std::vector<std::thread> threads;
  absl::Notification go;
  for (int i = 0; i < calls; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      statuses[i] = On(server, channel).ListReferrals(v1::ListReferralsRequest()).status();
    });
  }
  go.Notify();
  for (auto& t : threads) t.join();
  return statuses;
}

// The police send three bursts of 48 calls at once while the council calls
// one at a time throughout.
struct FloodOutcome {
  int police_limited = 0;  // AGENCY_CALL_LIMIT, each with RetryInfo (checked)
  int police_served = 0;
  int council_ok = 0;
  int council_failed = 0;
};

FloodOutcome PoliceFloodWhileTheCouncilCalls(TestServer& server) {
  std::atomic<bool> done{false};
  std::atomic<int> council_ok{0}, council_failed{0};
  std::thread council([&] {
    auto client = On(server, server.Channel(server.pki().Agency(kCityCouncil)));
    while (!done) {
      if (client.ListReferrals(v1::ListReferralsRequest()).ok()) {
        ++council_ok;
      } else {
        ++council_failed;
      }
    }
  });
  FloodOutcome outcome;
  for (int round = 0; round < 3; ++round) {
    for (const absl::Status& s : Burst(server, kPolice, 48)) {
      if (s.ok()) ++outcome.police_served;
      if (s.code() != absl::StatusCode::kResourceExhausted) continue;
      EXPECT_EQ(ErrorReasonOf(s), "AGENCY_CALL_LIMIT") << s;
      bool retry_info = false;
      const google::rpc::Status sent = ToRpcStatus(s);
      for (const auto& any : sent.details()) retry_info = retry_info || any.Is<google::rpc::RetryInfo>();
      EXPECT_TRUE(retry_info) << s;
      ++outcome.police_limited;
    }
  }
  done = true;
  council.join();
  outcome.council_ok = council_ok.load();
  outcome.council_failed = council_failed.load();
  return outcome;
}

TEST(LimitsTest, OneAgencyAtItsCallLimitWhileAnotherIsServed) {
  auto server = StartWith([](config::v1::ServerConfig* c) { c->mutable_limits()->set_max_calls_per_agency(2); });
  ASSERT_NE(server, nullptr);
  const FloodOutcome outcome = PoliceFloodWhileTheCouncilCalls(*server);
  EXPECT_GT(outcome.police_limited, 0) << "the police never reached their share";
  EXPECT_GT(outcome.police_served, 0);
  EXPECT_GT(outcome.council_ok, 0);
  EXPECT_EQ(outcome.council_failed, 0) << "the council was refused while the police were at their limit";
  EXPECT_GT(AuditedRefusals(*server, "AGENCY_CALL_LIMIT"), 0);
}

// Once the server holds limits.busy_calls_in_flight calls, a flooding agency
// is refused beyond its fair share long before its own per-agency limit,
// and a partner with a call at a time is never refused.
TEST(LimitsTest, ABusyServerRefusesTheFlooderBeyondItsFairShareAndServesAPartner) {
  auto server = StartWith([](config::v1::ServerConfig* c) { c->mutable_limits()->set_busy_calls_in_flight(4); });
  ASSERT_NE(server, nullptr);
  const FloodOutcome outcome = PoliceFloodWhileTheCouncilCalls(*server);
  EXPECT_GT(outcome.police_limited, 0) << "48 calls at once under a per-agency limit of 256 were never refused as busy";
  EXPECT_GT(outcome.police_served, 0);
  EXPECT_GT(outcome.council_ok, 0);
  EXPECT_EQ(outcome.council_failed, 0) << "the partner was refused while the police held the busy server";
}

// A write waits for its group commit without holding a worker thread (the
// store answers it from the commit), so one commit can hold every write in
// flight, not just one per worker: with 2 workers and 48 concurrent
// creates, some commit holds more than 4 (before, never more than 2).
TEST(LimitsTest, WritesInFlightShareACommitWhateverTheWorkerThreads) {
  auto server = StartWith([](config::v1::ServerConfig* c) {
    c->mutable_limits()->set_worker_threads(2);
    c->mutable_ops()->set_listen_address("127.0.0.1:0");
  });
  ASSERT_NE(server, nullptr);
  auto channel = server->Channel(server->pki().Agency(kPolice));
  constexpr int kClients = 48, kEach = 4;
  std::atomic<int> created{0};
  std::vector<std::thread> clients;
  absl::Notification go;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      go.WaitForNotification();
      for (int j = 0; j < kEach; ++j) {
        auto r = On(*server, channel).CreateReferral(ValidReferral(), absl::StrCat("shared-commit-", i, "-", j));
        EXPECT_TRUE(r.ok()) << r.status();
        if (r.ok()) ++created;
      }
    });
  }
  go.Notify();
  for (auto& t : clients) t.join();
  EXPECT_EQ(created.load(), kClients * kEach);

  httplib::Client http("127.0.0.1", server->server()->ops_http_port());
  http.set_read_timeout(std::chrono::seconds(10));
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  auto number = [&](const std::string& series) -> double {
    std::smatch m;
    const std::regex line("\\n" + std::regex_replace(series, std::regex("[{}\"=.]"), "\\$&") + " ([0-9.e+]+)");
    return std::regex_search(metrics->body, m, line) ? std::stod(m[1]) : -1;
  };
  const double commits = number("refx_store_commit_batch_writes_count");
  const double at_most_four = number("refx_store_commit_batch_writes_bucket{le=\"4\"}");
  ASSERT_GT(commits, 0) << metrics->body;
  ASSERT_GE(at_most_four, 0) << metrics->body;
  EXPECT_LT(at_most_four, commits) << "no commit held more than 4 writes: writes still wait on a worker thread";
  // And they shared: far fewer commits than writes.
  EXPECT_LT(commits, kClients * kEach / 2);
}

TEST(LimitsTest, ShedCallsAreRefusedWithAReasonAndAudited) {
  auto server = StartWith([](config::v1::ServerConfig* c) {
    c->mutable_limits()->set_worker_threads(1);
    c->mutable_limits()->set_max_queued_calls(1);
  });
  ASSERT_NE(server, nullptr);
  int shed = 0;
  for (int round = 0; round < 5 && shed == 0; ++round) {
    for (const absl::Status& s : Burst(*server, kPolice, 48)) {
      if (s.code() == absl::StatusCode::kResourceExhausted && ErrorReasonOf(s) == "SERVER_OVERLOADED") ++shed;
    }
  }
  ASSERT_GT(shed, 0);
  // Aggregated: at least the first of the minute is written at once.
  EXPECT_GT(AuditedRefusals(*server, "SERVER_OVERLOADED"), 0);
}

TEST(LimitsTest, ReadMasksAreBoundedAndTheirErrorsStaySmall) {
  auto server = StartWith([](config::v1::ServerConfig*) {});
  ASSERT_NE(server, nullptr);
  auto created = server->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "mask");
  ASSERT_TRUE(created.ok());
  Api council(server->Channel(server->pki().Agency(kCityCouncil)), "caseworker");
  std::vector<std::string> too_many(65, "area");
  auto refused = council.Get(created->name(), too_many);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "READ_MASK_TOO_LARGE");
  // Ten thousand unknown paths: refused the same way, in a small answer.
  std::vector<std::string> unknown;
  for (int i = 0; i < 10000; ++i) unknown.push_back(absl::StrCat("no_such_field_", i));
  auto huge = council.Get(created->name(), unknown);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted) << huge.status().message();
  EXPECT_LT(ToRpcStatus(huge.status()).ByteSizeLong(), 1024u);
  // Within the limit, an unknown path is still named (and bounded).
  std::vector<std::string> some_unknown(30, "no_such_field");
  auto invalid = council.Get(created->name(), some_unknown);
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LE(FieldViolationsOf(invalid.status()).size(), kMaxFieldViolations + 1);
  // The police, and the council with a sane mask, are served.
  EXPECT_TRUE(council.Get(created->name(), {"area", "state"}).ok());
  EXPECT_TRUE(server->Client(kPolice).GetReferral(created->name()).ok());
}

TEST(LimitsTest, RecipientsPerReferralAreBounded) {
  auto server = StartWith([](config::v1::ServerConfig* c) { c->mutable_limits()->set_max_recipients_per_referral(3); });
  ASSERT_NE(server, nullptr);
  v1::Referral many = ValidReferral(kCityCouncil);
  for (const char* r : {kBlaby, "charnwood-borough-council", "rutland-county-council"}) {
    many.add_recipient_agencies(absl::StrCat("agencies/", r));
  }
  auto refused = server->Client(kPolice).CreateReferral(many, "many");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "TOO_MANY_RECIPIENTS");
  many.mutable_recipient_agencies()->RemoveLast();
  EXPECT_TRUE(server->Client(kPolice).CreateReferral(many, "three").ok());
}

TEST(LimitsTest, AWatchReplayCannotStartTooFarBack) {
  auto server = StartWith([](config::v1::ServerConfig* c) { c->mutable_watch()->set_max_replay_events(3); });
  ASSERT_NE(server, nullptr);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(server->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), absl::StrCat("r", i)).ok());
  }
  auto watch_from = [&](int64_t after, bool head) {
    v1::WatchReferralsRequest request;
    request.set_after_sequence(after);
    request.set_start_at_head(head);
    int64_t seen = 0;
    absl::Status status = server->Client(kCityCouncil).Watch(request, [&](const v1::WatchReferralsResponse& m) {
      seen = m.sequence();
      return m.kind() == v1::WatchReferralsResponse::SUBSCRIBED || m.sequence() < 6;
    });
    return std::make_pair(status, seen);
  };
  auto [from_zero, unused] = watch_from(0, false);
  EXPECT_EQ(from_zero.code(), absl::StatusCode::kResourceExhausted) << from_zero;
  EXPECT_EQ(ErrorReasonOf(from_zero), "WATCH_REPLAY_TOO_LONG");
  auto [recent, last] = watch_from(4, false);
  EXPECT_TRUE(recent.ok()) << recent;
  EXPECT_EQ(last, 6);
  // The police (another agency) are served meanwhile.
  EXPECT_TRUE(server->Client(kPolice).WhoAmI().ok());
}

TEST(LimitsTest, ConcurrentStreamsPerConnectionAreBounded) {
  auto server =
      StartWith([](config::v1::ServerConfig* c) { c->mutable_limits()->set_max_concurrent_streams_per_connection(1); });
  ASSERT_NE(server, nullptr);
  auto channel = server->Channel(server->pki().Agency(kCityCouncil));
  // A watch holds the connection's only stream...
  client::WatchCancellation cancel;
  absl::Notification subscribed;
  std::thread watcher([&] {
    v1::WatchReferralsRequest request;
    request.set_start_at_head(true);
    On(*server, channel)
        .Watch(request,
               [&](const v1::WatchReferralsResponse& m) {
                 if (m.kind() == v1::WatchReferralsResponse::SUBSCRIBED) subscribed.Notify();
                 return true;
               },
               &cancel)
        .IgnoreError();
  });
  ASSERT_TRUE(subscribed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // ...so a second call on that connection waits (here, past its deadline),
  auto waited = On(*server, channel, absl::Seconds(1)).WhoAmI();
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kDeadlineExceeded) << waited.status();
  // while another connection (another agency's) is served.
  EXPECT_TRUE(server->Client(kPolice).WhoAmI().ok());
  cancel.Cancel();
  watcher.join();
}

}  // namespace
}  // namespace refx::testing
