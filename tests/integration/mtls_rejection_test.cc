// Every way a client can fail to be an agency, proven over real mTLS against
// the in-process server: the certificate is refused (in the handshake, or by
// the server's identity rules), every RPC of the service fails with
// UNAVAILABLE or UNAUTHENTICATED, no data comes back, and nothing is stored.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "auth/pki/certificate_authority.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The narrative of the referral every fixture creates: a refused client must
// never see it, not even inside an error message.
constexpr char kSecretNarrative[] = "Seeded narrative 5e1f: abuse at the market.";

// Who a test client claims to be.
struct Case {
  enum class Source {
    kNoCertificate,  // TLS without a client certificate at all.
    kIssued,         // pki.Issue(agency, variant): one defect, fresh key.
    kRegistered,     // pki.Agency(agency): the certificate written at Create.
  };
  const char* name;  // The test name suffix.
  Source source;
  Variant variant = Variant::kGood;
  const char* agency = kPolice;
};

TestPki::ClientCert CertFor(const Case& c, const TestPki& pki) {
  switch (c.source) {
    case Case::Source::kNoCertificate:
      return TestPki::ClientCert{};
    case Case::Source::kRegistered:
      return pki.Agency(c.agency);
    case Case::Source::kIssued:
      break;
  }
  auto cert = pki.Issue(c.agency, c.variant);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? *cert : TestPki::ClientCert{};
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Each certificate is refused; every one but the last two names a registered,
// active agency (leicestershire-police), so the defect is the only reason.
const Case kRefusedCases[] = {
    {"NoClientCertificate", Case::Source::kNoCertificate},
    {"Expired", Case::Source::kIssued, Variant::kExpired},
    {"NotYetValid", Case::Source::kIssued, Variant::kNotYetValid},
    {"ForeignCa", Case::Source::kIssued, Variant::kForeignCa},
    {"CommonNameOnly", Case::Source::kIssued, Variant::kCommonNameOnly},
    {"TwoUriSans", Case::Source::kIssued, Variant::kTwoUriSans},
    {"UriOutsideTrustDomain", Case::Source::kIssued, Variant::kUriOutsideTrustDomain},
    {"ServerAuthOnly", Case::Source::kIssued, Variant::kServerAuthOnly},
    {"SelfSigned", Case::Source::kIssued, Variant::kSelfSigned},
    {"CaAsLeaf", Case::Source::kIssued, Variant::kCaAsLeaf},
    // Profile deviations OpenSSL's chain check lets through: only the
    // server's agency profile check (pki::CheckAgencyClientProfile) refuses.
    {"NoExtendedKeyUsage", Case::Source::kIssued, Variant::kNoExtendedKeyUsage},
    {"CaWithClientAuth", Case::Source::kIssued, Variant::kCaWithClientAuth},
    {"KeyCertSignLeaf", Case::Source::kIssued, Variant::kKeyCertSignLeaf},
    {"KeyAgreementOnly", Case::Source::kIssued, Variant::kKeyAgreementOnly},
    {"AnyExtendedKeyUsage", Case::Source::kIssued, Variant::kAnyExtendedKeyUsage},
    {"WeakRsaKey", Case::Source::kIssued, Variant::kWeakRsaKey},
    // A good certificate from our CA for an agency that is not a party.
    {"UnregisteredAgency", Case::Source::kRegistered, Variant::kGood, kUnregistered},
    // A good certificate for an agency the partnership has suspended.
    {"SuspendedAgency", Case::Source::kRegistered, Variant::kGood, kSuspended},
};

const Case kAcceptedCases[] = {
    {"GoodRegisteredCertificate", Case::Source::kRegistered},
    {"GoodFreshlyIssuedCertificate", Case::Source::kIssued, Variant::kGood},
    // What the profile allows without refx issuing it.
    {"NoKeyUsage", Case::Source::kIssued, Variant::kNoKeyUsage},
    {"NoBasicConstraints", Case::Source::kIssued, Variant::kNoBasicConstraints},
    {"Rsa2048Key", Case::Source::kIssued, Variant::kRsa2048Key},
};

// What a raw stub call gave back: the status, and the response message's
// bytes (which must be empty when the call is refused).
struct Outcome {
  grpc::Status status;
  std::string response_bytes;
};

class MtlsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    v1::Referral referral = ValidReferral(kCityCouncil);
    referral.set_incident_narrative(kSecretNarrative);
    auto created = server_->Client(kPolice).CreateReferral(referral, "seed-1");
    ASSERT_TRUE(created.ok()) << created.status();
    seeded_name_ = created->name();
    ASSERT_EQ(CountFor(kPolice), 1);
    ASSERT_EQ(CountFor(kCityCouncil), 1);
  }

  // How many referrals a good client of `agency` can list; -1 on error.
  int CountFor(const char* agency) {
    auto page = server_->Client(agency).ListReferrals(v1::ListReferralsRequest());
    EXPECT_TRUE(page.ok()) << agency << ": " << page.status();
    return page.ok() ? page->referrals_size() : -1;
  }

  // One call on a fresh channel (so a fresh handshake) presenting `cert`.
  template <typename Request, typename Response>
  Outcome Call(const TestPki::ClientCert& cert,
               grpc::Status (v1::ReferralService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                                   Response*),
               const Request& request) {
    auto stub = v1::ReferralService::NewStub(server_->Channel(cert));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Response response;
    Outcome out;
    out.status = ((*stub).*method)(&context, request, &response);
    out.response_bytes = response.SerializeAsString();
    return out;
  }

  // Every RPC of the service, presenting `cert`, as a good client would.
  std::vector<std::pair<std::string, Outcome>> CallEveryRpc(const TestPki::ClientCert& cert) {
    std::vector<std::pair<std::string, Outcome>> outcomes;
    v1::CreateReferralRequest create;
    *create.mutable_referral() = ValidReferral(kCityCouncil);
    create.set_request_id("refused-create-1");
    outcomes.emplace_back("CreateReferral", Call(cert, &v1::ReferralService::Stub::CreateReferral, create));
    v1::GetReferralRequest get;
    get.set_name(seeded_name_);
    outcomes.emplace_back("GetReferral", Call(cert, &v1::ReferralService::Stub::GetReferral, get));
    outcomes.emplace_back("ListReferrals",
                          Call(cert, &v1::ReferralService::Stub::ListReferrals, v1::ListReferralsRequest()));
    outcomes.emplace_back("WhoAmI", Call(cert, &v1::ReferralService::Stub::WhoAmI, v1::WhoAmIRequest()));
    return outcomes;
  }

  // Asserts that every RPC presenting `cert` is refused with no data.
  void ExpectEveryRpcRefused(const TestPki::ClientCert& cert) {
    for (const auto& [method, outcome] : CallEveryRpc(cert)) {
      SCOPED_TRACE(method);
      EXPECT_THAT(outcome.status.error_code(),
                  AnyOf(Eq(grpc::StatusCode::UNAVAILABLE), Eq(grpc::StatusCode::UNAUTHENTICATED)))
          << outcome.status.error_message();
      EXPECT_THAT(outcome.response_bytes, IsEmpty());
      EXPECT_THAT(outcome.status.error_message(), Not(HasSubstr(kSecretNarrative)));
      EXPECT_THAT(outcome.status.error_details(), Not(HasSubstr(kSecretNarrative)));
      EXPECT_THAT(outcome.status.error_message(), Not(HasSubstr(seeded_name_)));
    }
    // The refused CreateReferral stored nothing, and the good clients still
    // see exactly the seeded referral.
    EXPECT_EQ(CountFor(kPolice), 1);
    EXPECT_EQ(CountFor(kCityCouncil), 1);
  }

  std::unique_ptr<TestServer> server_;
  std::string seeded_name_;
};

class RefusedCertificateTest : public MtlsFixture, public ::testing::WithParamInterface<Case> {};

TEST_P(RefusedCertificateTest, EveryRpcIsRefusedWithNoDataAndNothingStored) {
  const TestPki::ClientCert cert = CertFor(GetParam(), server_->pki());
  if (GetParam().source != Case::Source::kNoCertificate) {
    ASSERT_FALSE(cert.cert_chain_pem.empty());
  }
  ExpectEveryRpcRefused(cert);
}

TEST_P(RefusedCertificateTest, ClientLibraryWhoAmIFails) {
  // The path an agency's system takes: the client library reports failure.
  auto me = server_->ClientWith(CertFor(GetParam(), server_->pki())).WhoAmI();
  EXPECT_THAT(me.status().code(),
              AnyOf(Eq(absl::StatusCode::kUnavailable), Eq(absl::StatusCode::kUnauthenticated)))
      << me.status();
}

INSTANTIATE_TEST_SUITE_P(Variants, RefusedCertificateTest, ::testing::ValuesIn(kRefusedCases), CaseName);

class AcceptedCertificateTest : public MtlsFixture, public ::testing::WithParamInterface<Case> {};

TEST_P(AcceptedCertificateTest, WhoAmINamesTheAgencyAndCertificate) {
  const TestPki::ClientCert cert = CertFor(GetParam(), server_->pki());
  auto info = pki::InspectCertificatePem(cert.cert_chain_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  auto me = server_->ClientWith(cert).WhoAmI();
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->agency(), "agencies/leicestershire-police");
  EXPECT_EQ(me->spiffe_id(), "spiffe://llr.refx.example/agency/leicestershire-police");
  // The server saw exactly the certificate this test presented.
  EXPECT_EQ(me->certificate_serial(), info->serial_hex);

  // And the agency's data is there for it.
  auto got = server_->ClientWith(cert).GetReferral(seeded_name_);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->incident_narrative(), kSecretNarrative);
}

INSTANTIATE_TEST_SUITE_P(Variants, AcceptedCertificateTest, ::testing::ValuesIn(kAcceptedCases), CaseName);

// Adding a variant to TestPki without deciding here whether it is refused or
// accepted fails this test.
TEST(MtlsRejectionCoverageTest, EveryTestPkiVariantIsExercised) {
  std::set<Variant> covered;
  for (const Case& c : kRefusedCases) {
    if (c.source == Case::Source::kIssued) covered.insert(c.variant);
  }
  for (const Case& c : kAcceptedCases) {
    if (c.source == Case::Source::kIssued) covered.insert(c.variant);
  }
  for (Variant v : AllVariants()) EXPECT_TRUE(covered.count(v) == 1) << VariantName(v);
}

using MtlsRejectionTest = MtlsFixture;

// The chain of `cert` as OpenSSL on the server checks it: against the agency
// issuing CA only, for client authentication, now.
absl::Status ChainCheck(const TestPki& pki, const TestPki::ClientCert& cert) {
  auto chain = pki::Certificate::AllFromPem(cert.cert_chain_pem);
  if (!chain.ok()) return chain.status();
  if (chain->empty()) return absl::InvalidArgumentError("empty chain");
  std::vector<pki::Certificate> intermediates(chain->begin() + 1, chain->end());
  return pki::VerifyCertificate(chain->front(), intermediates, {pki.material().agency_ca},
                                pki::ExtendedKeyUsage::kClientAuth, absl::Now());
}

TEST_F(MtlsRejectionTest, GoodCertificateOfAnAgencyOutsideThePartnershipIsRefused) {
  const TestPki& pki = server_->pki();
  // Both the certificate written at start and a freshly issued one: each is
  // a perfectly good agency certificate of our CA, in our trust domain...
  auto fresh = pki.Issue(kUnregistered, Variant::kGood);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  for (const TestPki::ClientCert& cert : {pki.Agency(kUnregistered), *fresh}) {
    ASSERT_TRUE(ChainCheck(pki, cert).ok()) << ChainCheck(pki, cert);
    auto info = pki::InspectCertificatePem(cert.cert_chain_pem);
    ASSERT_TRUE(info.ok());
    EXPECT_THAT(info->uri_sans, ::testing::ElementsAre("spiffe://llr.refx.example/agency/met-police"));
    // ...so only the partnership membership check can refuse it.
    ExpectEveryRpcRefused(cert);
  }
}

TEST_F(MtlsRejectionTest, CommonNameOfARegisteredAgencyDoesNotAuthenticate) {
  auto cert = server_->pki().Issue(kPolice, Variant::kCommonNameOnly);
  ASSERT_TRUE(cert.ok()) << cert.status();
  // TLS accepts this certificate (gRPC would even make the CN the peer
  // identity, security notes V4), and its CN is a registered agency id.
  ASSERT_TRUE(ChainCheck(server_->pki(), *cert).ok()) << ChainCheck(server_->pki(), *cert);
  auto info = pki::InspectCertificatePem(cert->cert_chain_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->subject, HasSubstr("CN=leicestershire-police"));
  EXPECT_THAT(info->uri_sans, IsEmpty());

  // Yet it reads nothing of the police's, not even its own WhoAmI.
  ExpectEveryRpcRefused(*cert);
  auto me = server_->ClientWith(*cert).WhoAmI();
  EXPECT_FALSE(me.ok());
  auto got = server_->ClientWith(*cert).GetReferral(seeded_name_);
  EXPECT_FALSE(got.ok());
}

// The reason the server logs for each profile deviation: one check, one
// sentence naming what is wrong with the certificate (never who it names).
TEST_F(MtlsRejectionTest, EachProfileDeviationIsNamed) {
  const std::pair<Variant, const char*> kDeviations[] = {
      {Variant::kNoExtendedKeyUsage, "no extendedKeyUsage"},
      {Variant::kServerAuthOnly, "does not name clientAuth"},
      {Variant::kAnyExtendedKeyUsage, "does not name clientAuth"},
      {Variant::kCaAsLeaf, "CA:TRUE"},
      {Variant::kCaWithClientAuth, "CA:TRUE"},
      {Variant::kKeyCertSignLeaf, "signing certificates or CRLs"},
      {Variant::kKeyAgreementOnly, "lacks digitalSignature"},
      {Variant::kWeakRsaKey, "shorter than 2048 bits"},
  };
  for (const auto& [variant, reason] : kDeviations) {
    SCOPED_TRACE(VariantName(variant));
    auto cert = server_->pki().Issue(kPolice, variant);
    ASSERT_TRUE(cert.ok()) << cert.status();
    auto leaf = pki::Certificate::FromPem(cert->cert_chain_pem);
    ASSERT_TRUE(leaf.ok());
    const absl::Status verdict = pki::CheckAgencyClientProfile(*leaf);
    EXPECT_EQ(verdict.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(verdict.message(), HasSubstr(reason));
    EXPECT_THAT(verdict.message(), Not(HasSubstr(kPolice)));
  }
  for (Variant variant : {Variant::kGood, Variant::kNoKeyUsage, Variant::kNoBasicConstraints, Variant::kRsa2048Key}) {
    SCOPED_TRACE(VariantName(variant));
    auto cert = server_->pki().Issue(kPolice, variant);
    ASSERT_TRUE(cert.ok()) << cert.status();
    auto leaf = pki::Certificate::FromPem(cert->cert_chain_pem);
    ASSERT_TRUE(leaf.ok());
    EXPECT_TRUE(pki::CheckAgencyClientProfile(*leaf).ok()) << pki::CheckAgencyClientProfile(*leaf);
  }
}

TEST_F(MtlsRejectionTest, RefusedClientsDoNotDisturbAGoodOneOnTheSameServer) {
  // A refused handshake between two good calls: the server keeps serving.
  auto before = server_->Client(kPolice).WhoAmI();
  ASSERT_TRUE(before.ok()) << before.status();
  auto foreign = server_->pki().Issue(kPolice, Variant::kForeignCa);
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  auto bad = server_->ClientWith(*foreign).WhoAmI();
  EXPECT_FALSE(bad.ok());
  auto after = server_->Client(kPolice).WhoAmI();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->certificate_serial(), before->certificate_serial());
}

}  // namespace
}  // namespace refx::testing
