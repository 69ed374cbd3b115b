#include "core/partnership.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace refx::core {
namespace {

using ::testing::HasSubstr;

config::v1::Partnership Minimal() {
  config::v1::Partnership p;
  p.set_id("llr");
  p.set_trust_domain("llr.refx.example");
  p.add_areas()->set_id("leicester");
  p.add_strands()->set_id("race");
  auto* a = p.add_agencies();
  a->set_id("leicestershire-police");
  a->set_display_name("Leicestershire Police");
  a->set_type(config::v1::POLICE);
  a->set_role("police");
  a->add_areas("leicester");
  return p;
}

TEST(PartnershipTest, LooksUpAgenciesAreasAndStrands) {
  auto p = Partnership::Create(Minimal(), "test");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_NE((*p)->FindAgency("leicestershire-police"), nullptr);
  EXPECT_EQ((*p)->FindAgency("met-police"), nullptr);
  EXPECT_NE((*p)->FindArea("leicester"), nullptr);
  EXPECT_NE((*p)->FindStrand("race"), nullptr);
}

TEST(PartnershipTest, SpiffeIdsRoundTripAndRejectOtherDomainsAndShapes) {
  auto p = *Partnership::Create(Minimal(), "test");
  EXPECT_EQ(p->SpiffeIdOf("x"), "spiffe://llr.refx.example/agency/x");
  EXPECT_EQ(p->AgencyIdFromSpiffeId("spiffe://llr.refx.example/agency/leicestershire-police"),
            "leicestershire-police");
  EXPECT_EQ(p->AgencyIdFromSpiffeId("spiffe://evil.example/agency/leicestershire-police"), "");
  EXPECT_EQ(p->AgencyIdFromSpiffeId("spiffe://llr.refx.example/agency/a/b"), "");
  EXPECT_EQ(p->AgencyIdFromSpiffeId("spiffe://llr.refx.example/agency/"), "");
  EXPECT_EQ(p->AgencyIdFromSpiffeId("spiffe://llr.refx.example/agency/UPPER"), "");
}

TEST(PartnershipTest, RefusesDuplicatesUnknownAreasAndMissingFields) {
  auto dup = Minimal();
  *dup.add_agencies() = dup.agencies(0);
  EXPECT_THAT(Partnership::Create(dup, "p.yaml").status().message(), HasSubstr("agencies[1].id: duplicate"));
  auto area = Minimal();
  area.mutable_agencies(0)->add_areas("atlantis");
  EXPECT_THAT(Partnership::Create(area, "p.yaml").status().message(), HasSubstr("unknown area 'atlantis'"));
  auto role = Minimal();
  role.mutable_agencies(0)->clear_role();
  EXPECT_THAT(Partnership::Create(role, "p.yaml").status().message(), HasSubstr("agencies[0].role: required"));
  auto domain = Minimal();
  domain.clear_trust_domain();
  EXPECT_FALSE(Partnership::Create(domain, "p.yaml").ok());
}

TEST(PartnershipTest, AgencyNames) {
  EXPECT_EQ(AgencyName("x-1"), "agencies/x-1");
  EXPECT_EQ(AgencyIdFromName("agencies/x-1"), "x-1");
  EXPECT_EQ(AgencyIdFromName("agency/x-1"), "");
  EXPECT_EQ(AgencyIdFromName("agencies/X"), "");
}

}  // namespace
}  // namespace refx::core
