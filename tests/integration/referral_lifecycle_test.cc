// The referral lifecycle end to end over real mTLS: every (state, action,
// acting party) allowed or refused as the lifecycle table says, etags,
// idempotent retries, racing accepts, and one ALTERATION audit event per
// transition.
#include <barrier>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using State = v1::Referral::State;

constexpr char kCharnwood[] = "charnwood-borough-council";  // never a party unless redirected to
constexpr char kRutland[] = "rutland-county-council";       // never a party

enum Action { kAccept, kDecline, kRedirect, kStart, kComplete, kCancel, kReopen };
const char* ActionName(Action a) {
  static const char* kNames[] = {"accept", "decline", "redirect", "start", "complete", "cancel", "reopen"};
  return kNames[a];
}

// The table this suite holds the server to, written out independently of
// core/referral_lifecycle.cc: (from, action) -> (to, who). "recipient" is the
// recipient acting on it (kCityCouncil, or kBlaby once kCityCouncil has
// redirected it to kBlaby); "owner" is the one that accepted; "sender" and
// "police" are kPolice.
struct Expected {
  State to;
  std::string who;
};
const std::map<std::pair<State, Action>, Expected>& Table() {
  static const auto* kTable = new std::map<std::pair<State, Action>, Expected>{
      {{v1::Referral::REQUESTED, kAccept}, {v1::Referral::ACCEPTED, "recipient"}},
      {{v1::Referral::REQUESTED, kDecline}, {v1::Referral::DECLINED, "recipient"}},
      {{v1::Referral::REQUESTED, kRedirect}, {v1::Referral::REDIRECTED, "recipient"}},
      {{v1::Referral::REQUESTED, kCancel}, {v1::Referral::CANCELLED, "sender"}},
      {{v1::Referral::REDIRECTED, kAccept}, {v1::Referral::ACCEPTED, "recipient"}},
      {{v1::Referral::REDIRECTED, kDecline}, {v1::Referral::DECLINED, "recipient"}},
      {{v1::Referral::REDIRECTED, kRedirect}, {v1::Referral::REDIRECTED, "recipient"}},
      {{v1::Referral::REDIRECTED, kCancel}, {v1::Referral::CANCELLED, "sender"}},
      {{v1::Referral::ACCEPTED, kStart}, {v1::Referral::IN_PROGRESS, "owner"}},
      {{v1::Referral::ACCEPTED, kComplete}, {v1::Referral::COMPLETED, "owner"}},
      {{v1::Referral::ACCEPTED, kCancel}, {v1::Referral::CANCELLED, "sender"}},
      {{v1::Referral::IN_PROGRESS, kComplete}, {v1::Referral::COMPLETED, "owner"}},
      {{v1::Referral::IN_PROGRESS, kCancel}, {v1::Referral::CANCELLED, "sender"}},
      {{v1::Referral::COMPLETED, kReopen}, {v1::Referral::IN_PROGRESS, "police"}},
  };
  return *kTable;
}

class ReferralLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // Calls `action` on `referral` as `agency` with `etag` and `request_id`.
  absl::StatusOr<v1::Referral> Act(const std::string& agency, Action action, const std::string& name,
                                   const std::string& etag, const std::string& request_id,
                                   const std::string& target = kCharnwood) {
    auto client = server_->Client(agency);
    switch (action) {
      case kAccept: {
        v1::AcceptReferralRequest r;
        r.set_name(name), r.set_etag(etag), r.set_request_id(request_id);
        return client.AcceptReferral(r);
      }
      case kDecline: {
        v1::DeclineReferralRequest r;
        r.set_name(name), r.set_etag(etag), r.set_request_id(request_id);
        r.set_reason(v1::DECLINE_REASON_NOT_ELIGIBLE);
        return client.DeclineReferral(r);
      }
      case kRedirect: {
        v1::RedirectReferralRequest r;
        r.set_name(name), r.set_etag(etag), r.set_request_id(request_id);
        r.set_target_agency(absl::StrCat("agencies/", target));
        return client.RedirectReferral(r);
      }
      case kStart: {
        v1::StartReferralRequest r;
        r.set_name(name), r.set_etag(etag), r.set_request_id(request_id);
        return client.StartReferral(r);
      }
      case kComplete: {
        v1::CompleteReferralRequest r;
        r.set_name(name), r.set_etag(etag), r.set_request_id(request_id);
        r.set_outcome(v1::OUTCOME_SUPPORTED);
        return client.CompleteReferral(r);
      }
      case kCancel: {
        v1::CancelReferralRequest r;
        r.set_name(name), r.set_etag(etag), r.set_request_id(request_id);
        r.set_reason("sent in error");
        return client.CancelReferral(r);
      }
      case kReopen: {
        v1::ReopenReferralRequest r;
        r.set_name(name), r.set_etag(etag), r.set_request_id(request_id);
        r.set_reason("new evidence");
        return client.ReopenReferral(r);
      }
    }
    return absl::InternalError("unknown action");
  }

  std::string NextId() { return absl::StrCat("life-", ++ids_); }

  // A referral from kPolice to kCityCouncil, driven into `state`.
  v1::Referral Into(State state) {
    auto created = server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), NextId());
    EXPECT_TRUE(created.ok()) << created.status();
    v1::Referral r = *created;
    auto step = [&](const std::string& agency, Action action) {
      auto next = Act(agency, action, r.name(), r.etag(), NextId(), kBlaby);
      EXPECT_TRUE(next.ok()) << ActionName(action) << ": " << next.status();
      if (next.ok()) r = *next;
    };
    switch (state) {
      case v1::Referral::ACCEPTED: step(kCityCouncil, kAccept); break;
      case v1::Referral::DECLINED: step(kCityCouncil, kDecline); break;
      case v1::Referral::REDIRECTED: step(kCityCouncil, kRedirect); break;
      case v1::Referral::IN_PROGRESS: step(kCityCouncil, kAccept), step(kCityCouncil, kStart); break;
      case v1::Referral::COMPLETED:
        step(kCityCouncil, kAccept), step(kCityCouncil, kStart), step(kCityCouncil, kComplete);
        break;
      case v1::Referral::CANCELLED: step(kPolice, kCancel); break;
      default: break;
    }
    EXPECT_EQ(r.state(), state);
    return r;
  }

  int64_t AuditCount(const std::string& where) {
    return TestDatabase(server_->config().storage()).Int(absl::StrCat("SELECT count(*) FROM audit_events WHERE ", where));
  }

  std::unique_ptr<TestServer> server_;
  int ids_ = 0;
};

TEST_F(ReferralLifecycleTest, EveryStateActionAndPartyIsAllowedOrRefusedAsTheTableSays) {
  const State states[] = {v1::Referral::REQUESTED,   v1::Referral::ACCEPTED,  v1::Referral::DECLINED,
                          v1::Referral::REDIRECTED,  v1::Referral::IN_PROGRESS, v1::Referral::COMPLETED,
                          v1::Referral::CANCELLED};
  const char* agencies[] = {kPolice, kCityCouncil, kBlaby, kRutland};
  int allowed = 0;
  for (State state : states) {
    for (int a = kAccept; a <= kReopen; ++a) {
      const Action action = static_cast<Action>(a);
      for (const char* agency : agencies) {
        SCOPED_TRACE(absl::StrCat(v1::Referral::State_Name(state), " ", ActionName(action), " by ", agency));
        const v1::Referral r = Into(state);
        // Who is what, in this state.
        const bool party = agency == kPolice || agency == kCityCouncil ||
                           (agency == kBlaby && state == v1::Referral::REDIRECTED);
        const std::string acting_recipient = state == v1::Referral::REDIRECTED ? kBlaby : kCityCouncil;
        auto it = Table().find({state, action});
        absl::StatusCode want = absl::StatusCode::kOk;
        if (!party) {
          want = absl::StatusCode::kNotFound;
        } else if (it == Table().end()) {
          want = absl::StatusCode::kFailedPrecondition;
        } else {
          const std::string& who = it->second.who;
          const bool is = (who == "recipient" && agency == acting_recipient) ||
                          (who == "owner" && agency == kCityCouncil) ||
                          ((who == "sender" || who == "police") && agency == kPolice);
          if (!is) want = absl::StatusCode::kPermissionDenied;
        }
        auto got = Act(agency, action, r.name(), r.etag(), NextId());
        ASSERT_EQ(got.status().code(), want) << got.status();
        if (want == absl::StatusCode::kOk) {
          ++allowed;
          EXPECT_EQ(got->state(), it->second.to);
          EXPECT_NE(got->etag(), r.etag());
          auto reread = server_->Client(kPolice).GetReferral(r.name());
          ASSERT_TRUE(reread.ok()) << reread.status();
          EXPECT_EQ(reread->state(), it->second.to);
          EXPECT_EQ(reread->etag(), got->etag());
        } else if (want == absl::StatusCode::kFailedPrecondition) {
          auto violations = PreconditionViolationsOf(got.status());
          ASSERT_EQ(violations.size(), 1u);
          EXPECT_EQ(violations[0].type, "STATE");
          EXPECT_EQ(violations[0].subject, r.name());
        } else if (want == absl::StatusCode::kPermissionDenied) {
          EXPECT_EQ(ErrorReasonOf(got.status()), "NOT_ACTING_PARTY");
        } else if (want == absl::StatusCode::kNotFound) {
          EXPECT_EQ(got.status().message(), absl::StrCat("referral ", r.name(), " not found"));
        }
      }
    }
  }
  EXPECT_EQ(allowed, static_cast<int>(Table().size()));
}

TEST_F(ReferralLifecycleTest, TransitionsRecordWhoAndWhy) {
  v1::Referral r = Into(v1::Referral::REDIRECTED);
  EXPECT_THAT(r.recipient_agencies(), ::testing::ElementsAre(absl::StrCat("agencies/", kCityCouncil),
                                                             absl::StrCat("agencies/", kBlaby)));
  EXPECT_THAT(r.redirected_agencies(), ::testing::ElementsAre(absl::StrCat("agencies/", kCityCouncil)));
  // The new recipient sees it (and lists it); the one that redirected still may read it.
  ASSERT_TRUE(server_->Client(kBlaby).GetReferral(r.name()).ok());
  ASSERT_TRUE(server_->Client(kCityCouncil).GetReferral(r.name()).ok());
  auto listed = server_->Client(kBlaby).ListReferrals(v1::ListReferralsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->referrals_size(), 1);
  EXPECT_EQ(listed->referrals(0).name(), r.name());

  auto accepted = Act(kBlaby, kAccept, r.name(), r.etag(), NextId());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->owner_agency(), absl::StrCat("agencies/", kBlaby));

  v1::DeclineReferralRequest decline;
  v1::Referral fresh = Into(v1::Referral::REQUESTED);
  decline.set_name(fresh.name()), decline.set_etag(fresh.etag()), decline.set_request_id(NextId());
  decline.set_reason(v1::DECLINE_REASON_OTHER);
  auto refused = server_->Client(kCityCouncil).DeclineReferral(decline);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  decline.set_reason_text("victim has moved to Scotland");
  auto declined = server_->Client(kCityCouncil).DeclineReferral(decline);
  ASSERT_TRUE(declined.ok()) << declined.status();
  EXPECT_EQ(declined->decline_reason(), v1::DECLINE_REASON_OTHER);
  EXPECT_EQ(declined->state_note(), "victim has moved to Scotland");

  // Missing etag is INVALID_ARGUMENT; reopen needs a hate crime.
  auto no_etag = Act(kCityCouncil, kAccept, fresh.name(), "", NextId());
  EXPECT_EQ(no_etag.status().code(), absl::StatusCode::kInvalidArgument);
  v1::Referral incident = ValidReferral(kCityCouncil);
  incident.set_report_type(v1::HATE_INCIDENT);
  auto created = server_->Client(kPolice).CreateReferral(incident, NextId());
  ASSERT_TRUE(created.ok()) << created.status();
  v1::Referral c = *created;
  for (auto [agency, action] : {std::pair{kCityCouncil, kAccept}, {kCityCouncil, kComplete}}) {
    auto next = Act(agency, action, c.name(), c.etag(), NextId());
    ASSERT_TRUE(next.ok()) << next.status();
    c = *next;
  }
  auto reopen = Act(kPolice, kReopen, c.name(), c.etag(), NextId());
  ASSERT_EQ(reopen.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PreconditionViolationsOf(reopen.status()).at(0).type, "REPORT_TYPE");
}

TEST_F(ReferralLifecycleTest, StaleEtagIsAbortedWithARereadHint) {
  v1::Referral r = Into(v1::Referral::REQUESTED);
  ASSERT_TRUE(Act(kCityCouncil, kAccept, r.name(), r.etag(), NextId()).ok());
  auto stale = Act(kPolice, kCancel, r.name(), r.etag(), NextId());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("re-read"));
  EXPECT_EQ(ErrorReasonOf(stale.status()), "ETAG_MISMATCH");
}

TEST_F(ReferralLifecycleTest, ARetryReturnsTheFirstResult) {
  v1::Referral r = Into(v1::Referral::REQUESTED);
  auto first = Act(kCityCouncil, kAccept, r.name(), r.etag(), "accept-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = Act(kCityCouncil, kAccept, r.name(), r.etag(), "accept-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  // Still the same after the referral moved on.
  ASSERT_TRUE(Act(kCityCouncil, kStart, r.name(), first->etag(), "start-1").ok());
  auto later = Act(kCityCouncil, kAccept, r.name(), r.etag(), "accept-1");
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->SerializeAsString(), first->SerializeAsString());
  // The same id with a different request is refused.
  auto other = Act(kCityCouncil, kDecline, r.name(), r.etag(), "accept-1");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(other.status()).at(0).field, "request_id");
  // Request ids are per agency: another agency's "accept-1" is its own.
  v1::Referral fresh = Into(v1::Referral::REQUESTED);
  EXPECT_TRUE(Act(kPolice, kCancel, fresh.name(), fresh.etag(), "accept-1").ok());
}

TEST_F(ReferralLifecycleTest, OfTwoRacingAcceptsExactlyOneWins) {
  for (int trial = 0; trial < 100; ++trial) {
    v1::Referral input = ValidReferral(kCityCouncil);
    input.add_recipient_agencies(absl::StrCat("agencies/", kBlaby));
    auto created = server_->Client(kPolice).CreateReferral(input, NextId());
    ASSERT_TRUE(created.ok()) << created.status();
    std::barrier sync(2);
    absl::Status results[2];
    auto race = [&](int i, const char* agency) {
      const std::string id = absl::StrCat("race-", trial);
      sync.arrive_and_wait();
      results[i] = Act(agency, kAccept, created->name(), created->etag(), id).status();
    };
    std::thread a(race, 0, kCityCouncil), b(race, 1, kBlaby);
    a.join(), b.join();
    const int wins = results[0].ok() + results[1].ok();
    ASSERT_EQ(wins, 1) << "trial " << trial << ": " << results[0] << " / " << results[1];
    const absl::Status& loser = results[0].ok() ? results[1] : results[0];
    EXPECT_EQ(loser.code(), absl::StatusCode::kAborted) << loser;
    auto now = server_->Client(kPolice).GetReferral(created->name());
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(now->owner_agency(), absl::StrCat("agencies/", results[0].ok() ? kCityCouncil : kBlaby));
  }
}

TEST_F(ReferralLifecycleTest, EachTransitionLeavesOneAlterationEvent) {
  v1::Referral r = Into(v1::Referral::REQUESTED);
  const std::string id = r.name().substr(std::string("referrals/").size());
  const std::string mine = absl::StrCat("referral_ids = '", id, "' AND action = 'ALTERATION' AND outcome = 'OK'");
  EXPECT_EQ(AuditCount(mine), 0);
  int n = 0;
  for (auto [agency, action] : {std::pair{kCityCouncil, kAccept}, {kCityCouncil, kStart}, {kCityCouncil, kComplete},
                                {kPolice, kReopen}, {kCityCouncil, kComplete}}) {
    auto next = Act(agency, action, r.name(), r.etag(), NextId());
    ASSERT_TRUE(next.ok()) << ActionName(action) << ": " << next.status();
    r = *next;
    EXPECT_EQ(AuditCount(mine), ++n);
    EXPECT_EQ(AuditCount(absl::StrCat(mine, " AND method = 'refx.v1.ReferralService.",
                                      std::string(1, static_cast<char>(ActionName(action)[0] - 'a' + 'A')),
                                      ActionName(action) + 1, "Referral'")),
              action == kComplete ? (n == 3 ? 1 : 2) : 1);
  }
  // A refusal is recorded too, with its outcome.
  auto refused = Act(kCityCouncil, kAccept, r.name(), r.etag(), NextId());
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(AuditCount("action = 'ALTERATION' AND outcome = 'FAILED_PRECONDITION'"), 1);
}

}  // namespace
}  // namespace refx::testing
