// WatchTensionAlerts end to end (issue 15), on a server whose clock the test
// drives over real mTLS: a stream catches up on ended weeks with exactly the
// alerts ListTensionAlerts gives, marks every week it tested, then receives
// each week's alerts when the week ends; every delivery is audited before it
// is sent; resuming from the week a stream names delivers nothing twice;
// a role that the agreement no longer lets list alerts is cut off at its
// next delivery; and the refusals (a role without REPORT_PARTNERSHIP,
// malformed, future and too old weeks, no acting person, no certificate).
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Response = v1::WatchTensionAlertsResponse;

constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
constexpr char kMethod[] = "refx.v1.ReportingService.WatchTensionAlerts";

// A subscriber on its own thread, collecting what it receives.
class TensionWatcher {
 public:
  TensionWatcher(client::ReferralClient client, std::string first_week) : client_(std::move(client)) {
    v1::WatchTensionAlertsRequest request;
    request.set_first_week(std::move(first_week));
    thread_ = std::thread([this, request] {
      status_ = client_.WatchTensionAlerts(
          request,
          [this](const Response& m) {
            std::lock_guard<std::mutex> lock(mu_);
            messages_.push_back(m);
            return true;
          },
          &cancel_);
      done_.Notify();
    });
  }
  ~TensionWatcher() {
    cancel_.Cancel();
    thread_.join();
  }
  // Waits until `n` messages arrived; true if they did in time.
  bool WaitFor(size_t n, absl::Duration limit = absl::Seconds(20)) {
    const absl::Time give_up = absl::Now() + limit;
    while (absl::Now() < give_up) {
      if (messages().size() >= n) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }
  std::vector<Response> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  bool WaitDone(absl::Duration limit = absl::Seconds(20)) { return done_.WaitForNotificationWithTimeout(limit); }
  absl::Status status() {
    done_.WaitForNotification();
    return status_;
  }

 private:
  client::ReferralClient client_;
  client::WatchCancellation cancel_;
  std::mutex mu_;
  std::vector<Response> messages_;
  absl::Status status_;
  absl::Notification done_;
  std::thread thread_;
};

// What a message says, in one line: "SUBSCRIBED next=W", "ALERT name",
// "CHECKED through..next".
std::string Line(const Response& m) {
  switch (m.kind()) {
    case Response::SUBSCRIBED:
      return absl::StrCat("SUBSCRIBED next=", m.next_week());
    case Response::ALERT:
      return absl::StrCat("ALERT ", m.alert().name());
    case Response::WEEKS_CHECKED:
      return absl::StrCat("CHECKED ", m.checked_through_week(), " next=", m.next_week());
    default:
      return "?";
  }
}

std::vector<std::string> Lines(const std::vector<Response>& messages) {
  std::vector<std::string> out;
  for (const Response& m : messages) out.push_back(Line(m));
  return out;
}

class TensionWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::StartOnClock(&clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    // A quiet start of the year, then a rise of race hate in Leicester in
    // 2026-W14 (from Monday 30 March).
    for (int i = 0; i < 12; ++i) {
      clock_.Set(LondonTime(2026, 1, 5, 9) + absl::Hours(20 * i));
      ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), absl::StrCat("q1-", i)).ok());
    }
    for (int i = 0; i < 15; ++i) {
      clock_.Set(LondonTime(2026, 3, 31, 10) + absl::Minutes(i));
      ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), absl::StrCat("w14-", i)).ok());
    }
    // Thursday of 2026-W27.
    clock_.Set(LondonTime(2026, 7, 2, 9));
  }

  // Eight disability hate referrals in Charnwood in the week in progress,
  // a series with nothing before: the next week to end alerts for it.
  void PlantARiseThisWeek() {
    for (int i = 0; i < 8; ++i) {
      v1::Referral r = ValidReferral(kCityCouncil);
      r.set_area("charnwood");
      r.mutable_strands(0)->set_strand("disability");
      auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat("w27-", i));
      ASSERT_TRUE(created.ok()) << created.status();
    }
  }

  // The DISCLOSURE events of the stream's deliveries to the oversight group,
  // by their release.
  std::vector<std::string> Deliveries() {
    v1::ListAuditEventsRequest list;
    list.set_action("DISCLOSURE");
    list.set_agency(absl::StrCat("agencies/", kOversight));
    auto events = server_->Client(kDpo).ListAuditEvents(list);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<std::string> out;
    if (!events.ok()) return out;
    for (const auto& e : events->events()) {
      if (e.method() == kMethod) out.push_back(e.release());
    }
    return out;
  }

  FakeClock clock_{LondonTime(2026, 1, 5, 9)};
  std::unique_ptr<TestServer> server_;
};

TEST_F(TensionWatchTest, AStreamCatchesUpThenReceivesEachWeeksAlertsWhenTheWeekEnds) {
  TensionWatcher watcher(server_->Client(kOversight), "2026-W12");
  // Weeks 12 to 26 have ended: two batches of at most 13 weeks, each marked.
  ASSERT_TRUE(watcher.WaitFor(4)) << ::testing::PrintToString(Lines(watcher.messages()));
  std::vector<Response> got = watcher.messages();
  EXPECT_THAT(Lines(got), ElementsAre("SUBSCRIBED next=2026-W12", "ALERT tensionAlerts/2026-W14/leicester/race",
                                      "CHECKED 2026-W24 next=2026-W25", "CHECKED 2026-W26 next=2026-W27"));
  EXPECT_THAT(got[0].method(), HasSubstr("at most 0.001"));
  EXPECT_EQ(got[0].agreement(), "llr-hate-isa@2026.4");
  EXPECT_EQ(got[3].agreement(), "llr-hate-isa@2026.4");
  // The alert is exactly what a listing of the same weeks gives.
  v1::ListTensionAlertsRequest same;
  same.set_first_week("2026-W12");
  same.set_last_week("2026-W24");
  auto listed = server_->Client(kOversight).ListTensionAlerts(same);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->alerts_size(), 1);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got[1].alert(), listed->alerts(0)))
      << got[1].alert().ShortDebugString();
  EXPECT_EQ(got[1].alert().count_band(), "10 to 19");

  // Nothing more while the week is in progress, whatever happens in it.
  PlantARiseThisWeek();
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(watcher.messages().size(), 4u);
  // The week ends: its alerts arrive, then its mark.
  clock_.Set(LondonTime(2026, 7, 6, 0, 1));
  ASSERT_TRUE(watcher.WaitFor(6)) << ::testing::PrintToString(Lines(watcher.messages()));
  got = watcher.messages();
  EXPECT_EQ(Line(got[4]), "ALERT tensionAlerts/2026-W27/charnwood/disability");
  EXPECT_EQ(got[4].alert().count_band(), "fewer than 10");
  EXPECT_EQ(got[4].alert().baseline_band(), "under 1 a week");
  EXPECT_EQ(Line(got[5]), "CHECKED 2026-W27 next=2026-W28");

  // Every delivery was audited as a disclosure of aggregate data, naming its
  // weeks and how many alerts it carried.
  EXPECT_THAT(Deliveries(), ElementsAre("tension-alerts weeks=2026-W12..2026-W24 alerts=1",
                                        "tension-alerts weeks=2026-W25..2026-W26 alerts=0",
                                        "tension-alerts weeks=2026-W27..2026-W27 alerts=1"));

  // Resuming from the week named delivers nothing twice; a stream from the
  // week in progress (the default) waits for it to end.
  TensionWatcher resumed(server_->Client(kDpo), got[5].next_week());
  TensionWatcher live(server_->Client(kOversight), "");
  ASSERT_TRUE(resumed.WaitFor(1) && live.WaitFor(1));
  EXPECT_THAT(Lines(live.messages()), ElementsAre("SUBSCRIBED next=2026-W28"));
  absl::SleepFor(absl::Seconds(1));
  EXPECT_THAT(Lines(resumed.messages()), ElementsAre("SUBSCRIBED next=2026-W28"));
  clock_.Set(LondonTime(2026, 7, 13, 0, 1));
  ASSERT_TRUE(watcher.WaitFor(7) && resumed.WaitFor(2) && live.WaitFor(2));
  EXPECT_EQ(Line(watcher.messages()[6]), "CHECKED 2026-W28 next=2026-W29");
  EXPECT_THAT(Lines(resumed.messages()), ElementsAre("SUBSCRIBED next=2026-W28", "CHECKED 2026-W28 next=2026-W29"));
}

TEST_F(TensionWatchTest, ARoleTheAgreementNoLongerLetsListAlertsIsCutOffAtItsNextDelivery) {
  TensionWatcher watcher(server_->Client(kOversight), "");
  ASSERT_TRUE(watcher.WaitFor(1));
  PlantARiseThisWeek();
  ReloadAgreementWith(*server_, "-no-oversight-tensions", [](config::v1::Agreement& a) {
    for (auto& role : *a.mutable_roles()) {
      if (role.role() != "oversight") continue;
      role.clear_permissions();
      role.add_permissions(config::v1::REPORT_READ);
    }
  });
  clock_.Set(LondonTime(2026, 7, 6, 0, 1));
  ASSERT_TRUE(watcher.WaitDone()) << "the stream stayed open";
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kPermissionDenied) << watcher.status();
  EXPECT_EQ(ErrorReasonOf(watcher.status()), "METHOD_NOT_PERMITTED");
  // Nothing of the ended week was sent or disclosed.
  EXPECT_THAT(Lines(watcher.messages()), ElementsAre("SUBSCRIBED next=2026-W27"));
  EXPECT_THAT(Deliveries(), ::testing::IsEmpty());
}

TEST_F(TensionWatchTest, ShutdownEndsAStreamNamingTheWeekToResumeFrom) {
  TensionWatcher watcher(server_->Client(kOversight), "2026-W20");
  ASSERT_TRUE(watcher.WaitFor(2));
  server_->Stop();
  ASSERT_TRUE(watcher.WaitDone());
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kUnavailable) << watcher.status();
  EXPECT_TRUE(client::IsResumableWatchEnd(watcher.status())) << watcher.status();
  EXPECT_EQ(ErrorMetadataOf(watcher.status())["resume_week"], "2026-W27") << watcher.status();
}

TEST_F(TensionWatchTest, RefusalsArePreciseAndSendNothing) {
  auto refused = [&](client::ReferralClient client, const std::string& first_week, absl::StatusCode code,
                     const std::string& reason, const std::string& field = "") {
    TensionWatcher watcher(std::move(client), first_week);
    ASSERT_TRUE(watcher.WaitDone()) << first_week;
    EXPECT_EQ(watcher.status().code(), code) << first_week << ": " << watcher.status();
    EXPECT_EQ(ErrorReasonOf(watcher.status()), reason) << watcher.status();
    if (!field.empty()) {
      EXPECT_THAT(ViolatedFieldsOf(watcher.status()), ElementsAre(field));
    }
    EXPECT_THAT(watcher.messages(), ::testing::IsEmpty()) << first_week;
  };
  // Roles without REPORT_PARTNERSHIP.
  refused(server_->Client(kCityCouncil), "", absl::StatusCode::kPermissionDenied, "METHOD_NOT_PERMITTED");
  refused(server_->Client(kPolice), "2026-W20", absl::StatusCode::kPermissionDenied, "METHOD_NOT_PERMITTED");
  // Weeks: malformed, after the week in progress, more than 104 weeks back.
  refused(server_->Client(kOversight), "2026-14", absl::StatusCode::kInvalidArgument, "INVALID_REQUEST", "first_week");
  refused(server_->Client(kOversight), "2026-W28", absl::StatusCode::kInvalidArgument, "INVALID_REQUEST", "first_week");
  refused(server_->Client(kOversight), "2024-W26", absl::StatusCode::kInvalidArgument, "INVALID_REQUEST", "first_week");
  // No person named as acting, no certificate.
  client::ConnectionOptions anonymous;
  anonymous.server = server_->address();
  refused(client::ReferralClient(server_->Channel(server_->pki().Agency(kOversight)), anonymous), "",
          absl::StatusCode::kInvalidArgument, "INVALID_REQUEST", "metadata.x-refx-acting-user");
  TensionWatcher no_cert(server_->ClientWith(TestPki::ClientCert{}), "");
  ASSERT_TRUE(no_cert.WaitDone());
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();
  // The week in progress and 104 weeks back are the bounds.
  TensionWatcher oldest(server_->Client(kOversight), "2024-W27");
  ASSERT_TRUE(oldest.WaitFor(2));
  EXPECT_EQ(Line(oldest.messages()[0]), "SUBSCRIBED next=2024-W27");
  EXPECT_EQ(Line(oldest.messages()[1]), "CHECKED 2024-W39 next=2024-W40");
  EXPECT_THAT(Deliveries(), ::testing::Not(::testing::IsEmpty()));
}

}  // namespace
}  // namespace refx::testing
