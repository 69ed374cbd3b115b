// A credential must still stand on every call and every watch batch, not
// only at the handshake: a certificate that expires (by the server's clock)
// or is revoked while its connection is open, and an agency suspended by a
// registry reload, are refused at once on that connection, their open watch
// streams get nothing more, and every such refusal is in the audit log
// (aggregated per agency, reason and minute). Real mTLS, a signed
// revocation list, a fake server clock, the connection age left at its
// default (one hour), so nothing here is the connection being recycled.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "auth/pki/certificate_authority.h"
#include "auth/pki/revocation_list.h"
#include "common/clock.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "refx/config/v1/partnership.pb.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

std::string SerialOf(const std::string& pem) {
  auto info = pki::InspectCertificatePem(pem);
  return info.ok() ? info->serial_hex : "";
}

// A watch in its own thread: what it received and how it ended.
class Watcher {
 public:
  explicit Watcher(client::ReferralClient client) : client_(std::move(client)) {
    thread_ = std::thread([this] {
      v1::WatchReferralsRequest request;
      request.set_start_at_head(true);
      status_ = client_.Watch(
          request,
          [this](const v1::WatchReferralsResponse& m) {
            if (m.kind() == v1::WatchReferralsResponse::SUBSCRIBED) {
              subscribed_.Notify();
            } else {
              ++events_;
            }
            return true;
          },
          &cancel_);
      ended_.Notify();
    });
  }
  ~Watcher() {
    if (!ended_.HasBeenNotified()) cancel_.Cancel();
    thread_.join();
  }
  bool WaitSubscribed() { return subscribed_.WaitForNotificationWithTimeout(absl::Seconds(10)); }
  bool WaitEnded(absl::Duration limit) { return ended_.WaitForNotificationWithTimeout(limit); }
  absl::Status status() const { return status_; }
  int events() const { return events_; }

 private:
  client::ReferralClient client_;
  client::WatchCancellation cancel_;
  absl::Notification subscribed_, ended_;
  std::atomic<int> events_{0};
  absl::Status status_;
  std::thread thread_;
};

class CredentialGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServer::Options options;
    options.clock = &clock_;
    options.customize = [](config::v1::ServerConfig* c) {
      c->mutable_tls()->set_revocation_list_file("pki/revocations.txt");
    };
    auto server = TestServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_TRUE(PublishList({}).ok());
    ASSERT_TRUE(WaitUntil([&] { return Fresh(server_->pki().Agency(kPolice)).WhoAmI().ok(); }));
  }

  absl::Status PublishList(const std::vector<std::string>& serials) {
    pki::RevocationList list;
    list.sequence = ++sequence_;
    list.generated = absl::Now();
    list.next_update = absl::Now() + absl::Hours(24 * 30);
    for (const std::string& s : serials) list.revoked.push_back({s, absl::Now(), "key-compromise"});
    const pki::DevPki& m = server_->pki().material();
    auto text = pki::SignRevocationList(list, m.agency_ca, m.agency_ca_key);
    if (!text.ok()) return text.status();
    return pki::WriteFileAtomically(server_->config().tls().revocation_list_file(), *text, 0644);
  }

  // A client on its own channel: one connection, kept open across calls.
  client::ReferralClient Fresh(const TestPki::ClientCert& cert) {
    client::ConnectionOptions options;
    options.server = server_->address();
    options.timeout = absl::Seconds(5);
    options.acting_user = "caseworker";
    return client::ReferralClient(server_->Channel(cert), options);
  }

  static bool WaitUntil(const std::function<bool()>& condition, absl::Duration limit = absl::Seconds(10)) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      if (condition()) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return condition();
  }

  // Audit events recording refusals for `reason` (all agencies).
  std::vector<v1::AuditEvent> Refusals(const std::string& reason) {
    std::vector<v1::AuditEvent> out;
    v1::ListAuditEventsRequest req;
    req.set_page_size(1000);
    auto page = Api(server_->Channel(server_->pki().Agency(kDpo)), "dpo").ListAudit(req);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return out;
    for (const v1::AuditEvent& e : page->events()) {
      if (e.reason() == reason) out.push_back(e);
    }
    return out;
  }

  FakeClock clock_{absl::Now()};
  std::unique_ptr<TestServer> server_;
  int64_t sequence_ = 0;
};

TEST_F(CredentialGateTest, ARevocationStopsCallsOnAnOpenConnectionAtOnceAndIsAudited) {
  auto cert = server_->pki().Issue(kBlaby, Variant::kGood);
  ASSERT_TRUE(cert.ok());
  client::ReferralClient open = Fresh(*cert);
  ASSERT_TRUE(open.WhoAmI().ok());
  ASSERT_TRUE(PublishList({SerialOf(cert->cert_chain_pem)}).ok());
  // Once the list is in force (a new handshake is refused)...
  ASSERT_TRUE(WaitUntil([&] { return !Fresh(*cert).WhoAmI().ok(); }));
  // ...the connection opened before it is refused too, on its next call.
  auto refused = open.WhoAmI();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "CERTIFICATE_REVOKED");
  EXPECT_TRUE(Fresh(server_->pki().Agency(kCityCouncil)).WhoAmI().ok());

  const auto events = Refusals("CERTIFICATE_REVOKED");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().agency(), absl::StrCat("agencies/", kBlaby));
  EXPECT_EQ(events.back().certificate_serial(), SerialOf(cert->cert_chain_pem));
  EXPECT_EQ(events.back().outcome(), "UNAUTHENTICATED");
  EXPECT_EQ(events.back().method(), "refx.v1.ReferralService.WhoAmI");
}

TEST_F(CredentialGateTest, ARevocationPublishedMidStreamStopsTheNextBatch) {
  auto cert = server_->pki().Issue(kCityCouncil, Variant::kGood);
  ASSERT_TRUE(cert.ok());
  Watcher watcher(Fresh(*cert));
  ASSERT_TRUE(watcher.WaitSubscribed());
  ASSERT_TRUE(PublishList({SerialOf(cert->cert_chain_pem)}).ok());
  ASSERT_TRUE(WaitUntil([&] { return !Fresh(*cert).WhoAmI().ok(); }));
  // A new referral for the council: its revoked stream must not carry it.
  ASSERT_TRUE(Fresh(server_->pki().Agency(kPolice)).CreateReferral(ValidReferral(kCityCouncil), "mid-stream").ok());
  ASSERT_TRUE(watcher.WaitEnded(absl::Seconds(10)));
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kUnauthenticated) << watcher.status();
  EXPECT_EQ(watcher.events(), 0);
}

TEST_F(CredentialGateTest, ACertificateThatExpiresWhileItsConnectionIsOpenStopsWorking) {
  auto short_lived = server_->pki().IssueWithLifetime(kCityCouncil, absl::Hours(1));
  ASSERT_TRUE(short_lived.ok()) << short_lived.status();
  client::ReferralClient open = Fresh(*short_lived);
  ASSERT_TRUE(open.WhoAmI().ok());
  Watcher watcher(Fresh(*short_lived));
  ASSERT_TRUE(watcher.WaitSubscribed());

  clock_.Advance(absl::Hours(2));  // past its end, by the server's clock
  // The police's certificate (90 days) still stands: a new referral for the
  // council is made, and the council's expired stream does not carry it.
  ASSERT_TRUE(Fresh(server_->pki().Agency(kPolice)).CreateReferral(ValidReferral(kCityCouncil), "expiry").ok());
  ASSERT_TRUE(watcher.WaitEnded(absl::Seconds(10)));
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kUnauthenticated) << watcher.status();
  EXPECT_EQ(watcher.events(), 0);
  auto refused = open.ListReferrals(v1::ListReferralsRequest());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "CERTIFICATE_EXPIRED");
  EXPECT_FALSE(Refusals("CERTIFICATE_EXPIRED").empty());
}

TEST_F(CredentialGateTest, SuspendingAnAgencyTakesEffectWithoutARestart) {
  client::ReferralClient council = Fresh(server_->pki().Agency(kCityCouncil));
  ASSERT_TRUE(council.WhoAmI().ok());
  Watcher watcher(Fresh(server_->pki().Agency(kCityCouncil)));
  ASSERT_TRUE(watcher.WaitSubscribed());

  const std::string path = server_->config().partnership_file();
  std::string original;
  {
    std::ifstream in(path);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  config::v1::Partnership registry;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(original, &registry).ok());
  bool found = false;
  for (auto& agency : *registry.mutable_agencies()) {
    if (agency.id() == kCityCouncil) {
      agency.set_suspended(true);
      found = true;
    }
  }
  ASSERT_TRUE(found);
  std::string suspended;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(registry, &suspended).ok());
  {
    std::ofstream out(path + ".tmp");
    out << suspended;
  }
  std::filesystem::rename(path + ".tmp", path);
  ASSERT_TRUE(server_->server()->ReloadRegistryIfChanged().ok());

  // Its open connection is refused on the next call, its stream is closed,
  // and a new connection is refused in the handshake.
  auto refused = council.WhoAmI();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "AGENCY_SUSPENDED");
  ASSERT_TRUE(watcher.WaitEnded(absl::Seconds(10)));
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kUnauthenticated) << watcher.status();
  EXPECT_FALSE(Fresh(server_->pki().Agency(kCityCouncil)).WhoAmI().ok());
  EXPECT_TRUE(Fresh(server_->pki().Agency(kPolice)).WhoAmI().ok());
  const auto events = Refusals("AGENCY_SUSPENDED");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().agency(), absl::StrCat("agencies/", kCityCouncil));

  // Reinstated: served again, on the connection it already had.
  {
    std::ofstream out(path + ".tmp");
    out << original;
  }
  std::filesystem::rename(path + ".tmp", path);
  ASSERT_TRUE(server_->server()->ReloadRegistryIfChanged().ok());
  EXPECT_TRUE(Fresh(server_->pki().Agency(kCityCouncil)).WhoAmI().ok());

  // An invalid registry is refused and the one in force kept.
  {
    std::ofstream out(path + ".tmp");
    out << "{\"id\": \"another-partnership\"}";
  }
  std::filesystem::rename(path + ".tmp", path);
  EXPECT_FALSE(server_->server()->ReloadRegistryIfChanged().ok());
  EXPECT_TRUE(Fresh(server_->pki().Agency(kCityCouncil)).WhoAmI().ok());
}

// A role changed by a registry reload changes what an open stream may
// carry: it ends resumably, and the reconnection is decided under the new
// role.
TEST_F(CredentialGateTest, ARoleChangeEndsOpenStreamsResumably) {
  Watcher watcher(Fresh(server_->pki().Agency(kCityCouncil)));
  ASSERT_TRUE(watcher.WaitSubscribed());
  const std::string path = server_->config().partnership_file();
  config::v1::Partnership registry;
  {
    std::ifstream in(path);
    std::string text(std::istreambuf_iterator<char>(in), {});
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &registry).ok());
  }
  for (auto& agency : *registry.mutable_agencies()) {
    if (agency.id() == kCityCouncil) agency.set_role("health");
  }
  std::string changed;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(registry, &changed).ok());
  {
    std::ofstream out(path + ".tmp");
    out << changed;
  }
  std::filesystem::rename(path + ".tmp", path);
  ASSERT_TRUE(server_->server()->ReloadRegistryIfChanged().ok());
  ASSERT_TRUE(Fresh(server_->pki().Agency(kPolice)).CreateReferral(ValidReferral(kCityCouncil), "role").ok());
  ASSERT_TRUE(watcher.WaitEnded(absl::Seconds(10)));
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kUnavailable) << watcher.status();
  EXPECT_EQ(ErrorReasonOf(watcher.status()), "WATCH_RESUME");
  EXPECT_EQ(watcher.events(), 0);
  auto me = Fresh(server_->pki().Agency(kCityCouncil)).WhoAmI();
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me->role(), "health");
}

// A revoked client calling in a loop does not write a row per call: the
// first refusal at once, the rest as one event with their count when the
// minute has passed.
TEST_F(CredentialGateTest, RefusalsAreAggregatedPerAgencyReasonAndMinute) {
  auto cert = server_->pki().Issue(kBlaby, Variant::kGood);
  ASSERT_TRUE(cert.ok());
  client::ReferralClient open = Fresh(*cert);
  ASSERT_TRUE(open.WhoAmI().ok());
  ASSERT_TRUE(PublishList({SerialOf(cert->cert_chain_pem)}).ok());
  // The probe calls another method: a probe whose handshake won the race
  // with the list's reload is refused at its call, and that refusal must not
  // fall in the window counted below.
  ASSERT_TRUE(WaitUntil([&] { return !Fresh(*cert).ListReferrals(v1::ListReferralsRequest()).ok(); }));
  const std::string serial = SerialOf(cert->cert_chain_pem);
  auto mine = [&] {
    std::vector<v1::AuditEvent> out;
    for (const v1::AuditEvent& e : Refusals("CERTIFICATE_REVOKED")) {
      if (e.certificate_serial() == serial && e.method() == "refx.v1.ReferralService.WhoAmI") out.push_back(e);
    }
    return out;
  };
  // Refused handshakes never reach a call.
  ASSERT_TRUE(mine().empty());
  for (int i = 0; i < 25; ++i) EXPECT_FALSE(open.WhoAmI().ok());
  ASSERT_TRUE(WaitUntil([&] { return mine().size() == 1; }));
  absl::SleepFor(absl::Milliseconds(1500));
  ASSERT_EQ(mine().size(), 1u) << "not one event per refused call";
  EXPECT_EQ(mine()[0].count(), 1);
  clock_.Advance(absl::Seconds(61));
  ASSERT_TRUE(WaitUntil([&] { return mine().size() == 2; }));
  EXPECT_EQ(mine()[1].count(), 24);
}

}  // namespace
}  // namespace refx::testing
