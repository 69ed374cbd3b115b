// WatchReferrals end to end over real mTLS: live delivery to the parties and
// no one else, each event trimmed exactly as a GetReferral by the subscriber
// would be and audited, exact resumption by sequence across forced
// disconnects, 500 concurrent watchers, a stalled subscriber that slows no
// one and is closed with a resumable status, clean closure on shutdown, and
// the refusals (wrong role, invalid input, field not shared, no acting user).
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using Response = v1::WatchReferralsResponse;

// A watcher on its own thread, collecting what it receives.
class Watcher {
 public:
  Watcher(client::ReferralClient client, v1::WatchReferralsRequest request) : client_(std::move(client)) {
    thread_ = std::thread([this, request] {
      status_ = client_.Watch(request, [this](const Response& m) {
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(m);
        if (m.kind() == Response::SUBSCRIBED) subscribed_.Notify();
        return true;
      }, &cancel_);
      done_.Notify();
    });
  }
  ~Watcher() {
    cancel_.Cancel();
    thread_.join();
  }
  bool WaitSubscribed() { return subscribed_.WaitForNotificationWithTimeout(absl::Seconds(20)); }
  bool WaitDone(absl::Duration limit = absl::Seconds(20)) { return done_.WaitForNotificationWithTimeout(limit); }
  absl::Status status() {
    done_.WaitForNotification();
    return status_;
  }
  // Events (not SUBSCRIBED) received so far.
  std::vector<Response> events() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Response> out;
    for (const auto& m : messages_) {
      if (m.kind() != Response::SUBSCRIBED) out.push_back(m);
    }
    return out;
  }
  // Waits until `n` events arrived; true if they did within `limit`.
  bool WaitEvents(size_t n, absl::Duration limit = absl::Seconds(30)) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      if (events().size() >= n) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return events().size() >= n;
  }

 private:
  client::ReferralClient client_;
  client::WatchCancellation cancel_;
  std::mutex mu_;
  std::vector<Response> messages_;
  absl::Notification subscribed_, done_;
  absl::Status status_;
  std::thread thread_;
};

// Whether `status` is INVALID_ARGUMENT naming `field`.
bool Names(const absl::Status& status, const std::string& field) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return false;
  for (const auto& v : FieldViolationsOf(status)) {
    if (v.field == field) return true;
  }
  return false;
}

v1::WatchReferralsRequest FromNow() {
  v1::WatchReferralsRequest r;
  r.set_start_at_head(true);
  return r;
}

class ReferralWatchTest : public ::testing::Test {
 protected:
  void StartServer(std::function<void(config::v1::ServerConfig*)> customize = {}) {
    auto server = TestServer::Start({std::move(customize)});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void SetUp() override { StartServer(); }

  v1::Referral Create(const std::string& recipient = kCityCouncil, const std::string& sender = kPolice) {
    v1::Referral input = ValidReferral(recipient);
    auto created = server_->Client(sender).CreateReferral(input, NewRequestId());
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }
  std::string NewRequestId() { return absl::StrCat("watch-test-", ++request_counter_); }
  // The city council (the recipient of Create) passes `created` on to Blaby.
  absl::StatusOr<v1::Referral> RedirectToBlaby(const v1::Referral& created) {
    v1::RedirectReferralRequest redirect;
    redirect.set_name(created.name());
    redirect.set_etag(created.etag());
    redirect.set_request_id(NewRequestId());
    redirect.set_target_agency(absl::StrCat("agencies/", kBlaby));
    return server_->Client(kCityCouncil).RedirectReferral(redirect);
  }

  int CountAuditRows(const std::string& sql_where) {
    return static_cast<int>(
        TestDatabase(server_->config().storage()).Int("SELECT COUNT(*) FROM audit_events WHERE " + sql_where));
  }

  std::unique_ptr<TestServer> server_;
  std::atomic<int> request_counter_{0};
};

TEST_F(ReferralWatchTest, NewWorkReachesTheRecipientLiveTrimmedAsAGetAndAudited) {
  Watcher city(server_->Client(kCityCouncil), FromNow());
  Watcher police(server_->Client(kPolice), FromNow());
  Watcher blaby(server_->Client(kBlaby), FromNow());  // not a party
  ASSERT_TRUE(city.WaitSubscribed() && police.WaitSubscribed() && blaby.WaitSubscribed());

  const v1::Referral created = Create();
  ASSERT_TRUE(city.WaitEvents(1));
  ASSERT_TRUE(police.WaitEvents(1));
  const Response event = city.events()[0];
  EXPECT_EQ(event.kind(), Response::REFERRAL_CREATED);
  EXPECT_GT(event.sequence(), 0);
  EXPECT_EQ(event.referral().name(), created.name());
  // Exactly what a GetReferral by the same agency returns: the field gate
  // applies to the stream as to any read.
  auto got = server_->Client(kCityCouncil).GetReferral(created.name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(event.referral(), *got))
      << "event:\n" << event.referral().DebugString() << "get:\n" << got->DebugString();
  EXPECT_EQ(police.events()[0].sequence(), event.sequence());

  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(blaby.events().empty()) << "a non-party heard of a referral";
  // The delivery to the city council was audited as a disclosure of that referral.
  const std::string id = created.name().substr(std::string("referrals/").size());
  EXPECT_GE(CountAuditRows("method = 'refx.v1.ReferralService.WatchReferrals' AND action = 'DISCLOSURE' AND "
                           "agency_id = 'leicester-city-council' AND referral_ids LIKE '%" + id + "%'"),
            1);
}

// Streams of one agency that send the same batch at once may share one
// audit event (its count says how many streams it stands for): however
// they were grouped, every stream's delivery is accounted for exactly once.
TEST_F(ReferralWatchTest, EveryStreamsDeliveryIsAccountedForInTheAuditLog) {
  constexpr int kStreams = 6;
  std::vector<std::unique_ptr<Watcher>> city;
  for (int i = 0; i < kStreams; ++i) {
    city.push_back(std::make_unique<Watcher>(server_->Client(kCityCouncil), FromNow()));
  }
  for (auto& watcher : city) ASSERT_TRUE(watcher->WaitSubscribed());

  const v1::Referral created = Create();
  for (auto& watcher : city) ASSERT_TRUE(watcher->WaitEvents(1));
  const std::string id = created.name().substr(std::string("referrals/").size());
  const std::string delivered =
      "method = 'refx.v1.ReferralService.WatchReferrals' AND action = 'DISCLOSURE' AND "
      "agency_id = 'leicester-city-council' AND referral_ids = '" +
      id + "'";
  TestDatabase db(server_->config().storage());
  EXPECT_EQ(db.Int("SELECT SUM(event_count) FROM audit_events WHERE " + delivered), kStreams);
  const int64_t rows = db.Int("SELECT COUNT(*) FROM audit_events WHERE " + delivered);
  EXPECT_GE(rows, 1);
  EXPECT_LE(rows, kStreams);
}

TEST_F(ReferralWatchTest, StateChangesReachThePartiesAndARedirectReachesTheNewRecipient) {
  const v1::Referral created = Create();
  Watcher police(server_->Client(kPolice), FromNow());
  Watcher blaby(server_->Client(kBlaby), FromNow());
  ASSERT_TRUE(police.WaitSubscribed() && blaby.WaitSubscribed());
  auto redirected = RedirectToBlaby(created);
  ASSERT_TRUE(redirected.ok()) << redirected.status();
  ASSERT_TRUE(blaby.WaitEvents(1));
  EXPECT_EQ(blaby.events()[0].kind(), Response::REFERRAL_CHANGED);
  EXPECT_EQ(blaby.events()[0].referral().state(), v1::Referral::REDIRECTED);
  ASSERT_TRUE(police.WaitEvents(1));
  EXPECT_EQ(police.events()[0].referral().state(), v1::Referral::REDIRECTED);
}

// Events are rendered once per view and shared by subscribers alike, but
// an agency that redirected the referral away is not alike the rest of its
// role: on the same events the city council (former party) gets the routing
// facts while Blaby (acting, also community_safety) gets the victim.
TEST_F(ReferralWatchTest, AFormerPartyNeverReceivesTheViewOfTheAgencyActingNow) {
  const v1::Referral created = Create(kCityCouncil);
  auto redirected = RedirectToBlaby(created);
  ASSERT_TRUE(redirected.ok()) << redirected.status();

  Watcher city(server_->Client(kCityCouncil), FromNow());
  Watcher blaby(server_->Client(kBlaby), FromNow());
  ASSERT_TRUE(city.WaitSubscribed() && blaby.WaitSubscribed());
  // Five events on the referral: Blaby accepts, then adds four notes.
  v1::AcceptReferralRequest accept;
  accept.set_name(created.name());
  accept.set_etag(redirected->etag());
  accept.set_request_id(NewRequestId());
  auto accepted = server_->Client(kBlaby).AcceptReferral(accept);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  std::string etag = accepted->etag();
  for (int i = 0; i < 4; ++i) {
    v1::AddCaseUpdateRequest note;
    note.set_parent(created.name());
    note.set_etag(etag);
    note.set_request_id(NewRequestId());
    note.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_MADE);
    note.mutable_update()->set_text("Home visit arranged with Sam");
    ASSERT_TRUE(server_->Client(kBlaby).AddCaseUpdate(note).ok());
    auto now = server_->Client(kBlaby).GetReferral(created.name());
    ASSERT_TRUE(now.ok());
    etag = now->etag();
  }
  ASSERT_TRUE(blaby.WaitEvents(5));
  ASSERT_TRUE(city.WaitEvents(5));
  for (const Response& event : blaby.events()) {
    EXPECT_EQ(event.referral().victim().given_name(), "Sam") << event.sequence();
  }
  for (const Response& event : city.events()) {
    EXPECT_EQ(event.referral().name(), created.name());
    EXPECT_TRUE(event.referral().victim().given_name().empty()) << event.sequence();
    EXPECT_TRUE(event.referral().incident_narrative().empty()) << event.sequence();
    EXPECT_TRUE(event.update().text().empty()) << event.sequence();
    EXPECT_EQ(event.SerializeAsString().find("Sam"), std::string::npos) << event.sequence();
  }
}

TEST_F(ReferralWatchTest, HundredForcedDisconnectsDuringAThousandEventsLoseAndRepeatNothing) {
  constexpr int kEvents = 1000;
  constexpr int kDisconnects = 100;
  // Producers: four agencies' systems creating referrals for the city council.
  std::vector<std::string> created_names;
  std::mutex created_mu;
  std::atomic<int> next{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&] {
      auto client = server_->Client(kPolice);
      while (next.fetch_add(1) < kEvents) {
        auto created = client.CreateReferral(ValidReferral(kCityCouncil), NewRequestId());
        ASSERT_TRUE(created.ok()) << created.status();
        std::lock_guard<std::mutex> lock(created_mu);
        created_names.push_back(created->name());
      }
    });
  }
  // The consumer: disconnects after a random number of events, 100 times,
  // alternating a cancelled stream on the same channel with a whole new
  // connection, and resumes from the last sequence it saw.
  std::mt19937 random(42);
  std::vector<int64_t> sequences;
  std::vector<std::string> names;
  int64_t last = 0;
  int disconnects = 0;
  const absl::Time give_up = absl::Now() + absl::Seconds(240);
  auto shared_client = server_->Client(kCityCouncil);
  while (static_cast<int>(names.size()) < kEvents && absl::Now() < give_up) {
    const bool more_disconnects = disconnects < kDisconnects;
    const int take = more_disconnects ? 1 + static_cast<int>(random() % 19) : kEvents;
    int taken = 0;
    v1::WatchReferralsRequest request;
    request.set_after_sequence(last);
    auto client = disconnects % 2 == 0 ? shared_client : server_->Client(kCityCouncil);
    absl::Status ended = client.Watch(request, [&](const Response& m) {
      if (m.kind() == Response::SUBSCRIBED) {
        EXPECT_EQ(m.sequence(), last);
        return true;
      }
      sequences.push_back(m.sequence());
      names.push_back(m.referral().name());
      last = m.sequence();
      if (static_cast<int>(names.size()) >= kEvents) return false;
      return ++taken < take;
    });
    ASSERT_TRUE(ended.ok()) << ended;
    if (more_disconnects) ++disconnects;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(disconnects, kDisconnects);
  ASSERT_EQ(names.size(), static_cast<size_t>(kEvents));
  for (size_t i = 1; i < sequences.size(); ++i) {
    ASSERT_LT(sequences[i - 1], sequences[i]) << "out of order or repeated at " << i;
  }
  std::set<std::string> received(names.begin(), names.end());
  std::set<std::string> expected(created_names.begin(), created_names.end());
  EXPECT_EQ(received.size(), static_cast<size_t>(kEvents)) << "duplicates";
  EXPECT_EQ(received, expected) << "lost or foreign events";
}

TEST_F(ReferralWatchTest, FiveHundredConcurrentWatchersAllReceiveTheEvent) {
  constexpr int kWatchers = 500;
  std::vector<std::unique_ptr<Watcher>> watchers;
  // Ten connections of fifty streams each, as several back-office systems would hold.
  std::vector<client::ReferralClient> clients;
  for (int c = 0; c < 10; ++c) clients.push_back(server_->Client(kCityCouncil));
  for (int i = 0; i < kWatchers; ++i) watchers.push_back(std::make_unique<Watcher>(clients[i % 10], FromNow()));
  for (auto& w : watchers) ASSERT_TRUE(w->WaitSubscribed());
  EXPECT_EQ(server_->server()->watch_subscribers(), static_cast<size_t>(kWatchers));
  const absl::Time published = absl::Now();
  const v1::Referral created = Create();
  int received = 0;
  for (auto& w : watchers) {
    if (w->WaitEvents(1, absl::Seconds(30)) && w->events()[0].referral().name() == created.name()) ++received;
  }
  const absl::Duration took = absl::Now() - published;
  EXPECT_EQ(received, kWatchers);
  std::printf("%d watchers received the event within %lld ms of the create\n", received,
              static_cast<long long>(absl::ToInt64Milliseconds(took)));
}

TEST_F(ReferralWatchTest, AStalledSubscriberSlowsNoOneAndIsClosedResumably) {
  server_.reset();
  StartServer([](config::v1::ServerConfig* c) { c->mutable_watch()->set_stall_timeout_seconds(2); });
  // The stalled subscriber: a channel without BDP probing keeps the stream's
  // flow-control window small, and it stops reading after SUBSCRIBED.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  const TestPki::ClientCert& cert = server_->pki().Agency(kCityCouncil);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = server_->pki().root_ca_pem();
  ssl.pem_private_key = cert.key_pem;
  ssl.pem_cert_chain = cert.cert_chain_pem;
  auto channel = grpc::CreateCustomChannel(server_->address(), grpc::SslCredentials(ssl), args);
  auto stub = v1::ReferralService::NewStub(channel);
  grpc::ClientContext stalled_context;
  stalled_context.AddMetadata("x-refx-acting-user", "stalled-system");
  auto stalled = stub->WatchReferrals(&stalled_context, FromNow());
  Response first;
  ASSERT_TRUE(stalled->Read(&first));
  ASSERT_EQ(first.kind(), Response::SUBSCRIBED);

  Watcher healthy(server_->Client(kCityCouncil), FromNow());
  ASSERT_TRUE(healthy.WaitSubscribed());
  // Large events fill the stalled stream's window quickly.
  constexpr int kEvents = 200;
  const absl::Time start = absl::Now();
  auto police = server_->Client(kPolice);
  for (int i = 0; i < kEvents; ++i) {
    v1::Referral input = ValidReferral(kCityCouncil);
    input.set_incident_narrative(std::string(8000, 'n'));
    ASSERT_TRUE(police.CreateReferral(input, NewRequestId()).ok());
  }
  ASSERT_TRUE(healthy.WaitEvents(kEvents, absl::Seconds(60)));
  const absl::Duration healthy_took = absl::Now() - start;
  // The stalled one is cut within its timeout (plus the twice-a-second sweep).
  const absl::Time wait_end = absl::Now() + absl::Seconds(15);
  while (server_->server()->watch_subscribers() > 1 && absl::Now() < wait_end) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(server_->server()->watch_subscribers(), 1u) << "the stalled stream was not closed";
  // Draining it now ends in a status it can resume from.
  Response m;
  while (stalled->Read(&m)) {
  }
  grpc::Status status = stalled->Finish();
  EXPECT_TRUE(client::IsResumableWatchEnd(client::FromGrpcStatus(status))) << status.error_message();
  std::printf("healthy subscriber received %d events in %lld ms beside a stalled one (closed with %d)\n", kEvents,
              static_cast<long long>(absl::ToInt64Milliseconds(healthy_took)), static_cast<int>(status.error_code()));
}

TEST_F(ReferralWatchTest, ShutdownClosesStreamsWithAResumePointAndResumingAfterRestartLosesNothing) {
  Watcher city(server_->Client(kCityCouncil), FromNow());
  ASSERT_TRUE(city.WaitSubscribed());
  const v1::Referral before = Create();
  ASSERT_TRUE(city.WaitEvents(1));
  const int64_t last = city.events().back().sequence();
  const absl::Time stopping = absl::Now();
  server_->Stop();
  ASSERT_TRUE(city.WaitDone(absl::Seconds(10)));
  const absl::Status ended = city.status();
  EXPECT_EQ(ended.code(), absl::StatusCode::kUnavailable) << ended;
  EXPECT_EQ(ErrorReasonOf(ended), "WATCH_RESUME");
  EXPECT_EQ(ErrorMetadataOf(ended, "resume_after_sequence"), absl::StrCat(last));
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(8)) << "shutdown waited on the watch stream";

  ASSERT_TRUE(server_->Restart().ok());
  const v1::Referral after = Create();
  v1::WatchReferralsRequest resume;
  resume.set_after_sequence(last);
  Watcher resumed(server_->Client(kCityCouncil), resume);
  ASSERT_TRUE(resumed.WaitEvents(1));
  ASSERT_EQ(resumed.events().size(), 1u);
  EXPECT_EQ(resumed.events()[0].referral().name(), after.name());
}

TEST_F(ReferralWatchTest, ReplayFromZeroGivesTheAgencysWholeHistoryInOrder) {
  const v1::Referral a = Create();
  const v1::Referral b = Create(kBlaby);  // not for the city council
  const v1::Referral c = Create();
  Watcher city(server_->Client(kCityCouncil), v1::WatchReferralsRequest());
  ASSERT_TRUE(city.WaitEvents(2));
  absl::SleepFor(absl::Milliseconds(300));
  auto events = city.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].referral().name(), a.name());
  EXPECT_EQ(events[1].referral().name(), c.name());
}

TEST_F(ReferralWatchTest, CaseUpdatesArriveWithTheUpdateAndAReplayHonoursConsentWithdrawnSince) {
  const v1::Referral created = Create();
  Watcher live(server_->Client(kCityCouncil), FromNow());
  ASSERT_TRUE(live.WaitSubscribed());
  // The victim withdraws consent; the police record it under a lawful basis.
  v1::AddCaseUpdateRequest add;
  add.set_parent(created.name());
  add.set_etag(created.etag());
  add.set_request_id(NewRequestId());
  add.mutable_update()->set_kind(v1::CaseUpdate::CONSENT_CHANGE);
  add.mutable_update()->mutable_consent()->set_status(v1::Consent::WITHDRAWN);
  add.mutable_update()->mutable_consent()->set_lawful_basis("cda-1998-s115");
  auto added = server_->Client(kPolice).AddCaseUpdate(add);
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_TRUE(live.WaitEvents(1));
  const Response update_event = live.events()[0];
  EXPECT_EQ(update_event.kind(), Response::CASE_UPDATE_ADDED);
  EXPECT_EQ(update_event.update().name(), added->name());
  EXPECT_EQ(update_event.update().consent().status(), v1::Consent::WITHDRAWN);
  EXPECT_EQ(update_event.referral().victim().given_name(), "");

  // Replaying from the start: the creation event, written while consent
  // was given, now discloses no more than a read now would.
  Watcher replay(server_->Client(kCityCouncil), v1::WatchReferralsRequest());
  ASSERT_TRUE(replay.WaitEvents(2));
  const Response creation = replay.events()[0];
  ASSERT_EQ(creation.kind(), Response::REFERRAL_CREATED);
  EXPECT_EQ(creation.referral().victim().given_name(), "") << "identity disclosed after consent was withdrawn";
  EXPECT_EQ(creation.referral().incident_narrative(), "");
  auto now = server_->Client(kCityCouncil).GetReferral(created.name());
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->victim().given_name(), "");
  // The police, reading identity under s115, still see it in the replay.
  Watcher police(server_->Client(kPolice), v1::WatchReferralsRequest());
  ASSERT_TRUE(police.WaitEvents(1));
  EXPECT_EQ(police.events()[0].referral().victim().given_name(), created.victim().given_name());
}

TEST_F(ReferralWatchTest, OneAgencyCannotTakeEveryWatchSlot) {
  server_.reset();
  StartServer([](config::v1::ServerConfig* c) { c->mutable_watch()->set_max_subscribers_per_agency(2); });
  Watcher first(server_->Client(kCityCouncil), FromNow());
  Watcher second(server_->Client(kCityCouncil), FromNow());
  ASSERT_TRUE(first.WaitSubscribed() && second.WaitSubscribed());
  absl::Status third = server_->Client(kCityCouncil).Watch(FromNow(), [](const Response&) { return false; });
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted) << third;
  EXPECT_EQ(ErrorReasonOf(third), "WATCH_AGENCY_CAPACITY");
  // A partner agency is not affected.
  Watcher police(server_->Client(kPolice), FromNow());
  EXPECT_TRUE(police.WaitSubscribed());
}

TEST_F(ReferralWatchTest, RefusalsAreClearAndAudited) {
  auto watch = [&](const std::string& agency, v1::WatchReferralsRequest request) {
    return server_->Client(agency).Watch(request, [](const Response&) { return false; });
  };
  // A role the agreement does not let read referrals.
  absl::Status dpo = watch(kDpo, FromNow());
  EXPECT_EQ(dpo.code(), absl::StatusCode::kPermissionDenied) << dpo;
  EXPECT_EQ(ErrorReasonOf(dpo), "METHOD_NOT_PERMITTED");
  // Invalid input, each field named.
  v1::WatchReferralsRequest negative;
  negative.set_after_sequence(-1);
  absl::Status bad = watch(kCityCouncil, negative);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Names(bad, "after_sequence")) << bad;
  v1::WatchReferralsRequest both = FromNow();
  both.set_after_sequence(3);
  EXPECT_TRUE(Names(watch(kCityCouncil, both), "start_at_head"));
  v1::WatchReferralsRequest future;
  future.set_after_sequence(1000000);
  EXPECT_TRUE(Names(watch(kCityCouncil, future), "after_sequence"));
  v1::WatchReferralsRequest unknown_path = FromNow();
  unknown_path.mutable_read_mask()->add_paths("no_such_field");
  EXPECT_EQ(watch(kCityCouncil, unknown_path).code(), absl::StatusCode::kInvalidArgument);
  // A field the agreement does not share with the role.
  v1::WatchReferralsRequest prevent_mask = FromNow();
  prevent_mask.mutable_read_mask()->add_paths("prevent_concern");
  absl::Status not_shared = watch(kBlaby, prevent_mask);
  EXPECT_EQ(not_shared.code(), absl::StatusCode::kPermissionDenied) << not_shared;
  EXPECT_EQ(ErrorReasonOf(not_shared), "FIELD_NOT_SHARED");
  // No acting person named.
  client::ConnectionOptions options;
  options.server = server_->address();
  client::ReferralClient anonymous(server_->Channel(server_->pki().Agency(kCityCouncil)), options);
  absl::Status no_user = anonymous.Watch(FromNow(), [](const Response&) { return false; });
  EXPECT_EQ(no_user.code(), absl::StatusCode::kInvalidArgument) << no_user;
  // No client certificate: no stream at all.
  client::ReferralClient no_cert(server_->Channel(TestPki::ClientCert{}), options);
  EXPECT_EQ(no_cert.Watch(FromNow(), [](const Response&) { return false; }).code(), absl::StatusCode::kUnavailable);
  // Every refusal by an identified caller left its audit event.
  EXPECT_GE(CountAuditRows("method = 'refx.v1.ReferralService.WatchReferrals' AND outcome != 'OK'"), 6);
}

}  // namespace
}  // namespace refx::testing
