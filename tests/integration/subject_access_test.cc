// Subject access across partners (issue 16 item 3): the data protection
// officer finds every referral about one person, however three agencies
// wrote the person's identifiers, by the keyed tokens and never a plaintext
// search; the search answers with routing facts and what matched, the bundle
// with each controller's part exactly as that controller reads it; nobody
// else may search or export; the identifiers are in no audit row.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";

class SubjectAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  v1::Referral Create(const std::string& sender, const std::string& recipient, const v1::Victim& victim,
                      const std::string& request_id) {
    v1::Referral r = ValidReferral(recipient);
    *r.mutable_victim() = victim;
    r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
    auto created = server_->Client(sender).CreateReferral(r, request_id);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  std::unique_ptr<TestServer> server_;
};

TEST_F(SubjectAccessTest, TheDpoFindsEveryReferralAboutAPersonHoweverEachAgencyWroteIt) {
  v1::Victim police_wrote;
  police_wrote.set_given_name("Qzsar");
  police_wrote.set_family_name("Person");
  police_wrote.set_birth_date("1990-01-02");
  police_wrote.set_phone("07700 900123");
  v1::Victim council_wrote;
  council_wrote.set_given_name("QZSAR");
  council_wrote.set_phone("+44 7700 900123");
  v1::Victim health_wrote;
  health_wrote.set_given_name("Q.");
  health_wrote.set_email("QZSAR.Person@Example.org");
  v1::Victim someone_else;
  someone_else.set_given_name("Other");
  someone_else.set_phone("07700 900999");
  const v1::Referral a = Create(kPolice, kCityCouncil, police_wrote, "a");
  const v1::Referral b = Create(kCityCouncil, kPolice, council_wrote, "b");
  const v1::Referral c = Create(kHealth, kCityCouncil, health_wrote, "c");
  Create(kPolice, kBlaby, someone_else, "d");

  v1::FindSubjectReferralsRequest request;
  request.set_phone("0044-7700-900123");
  request.set_email("qzsar.person@example.org");
  request.set_given_name("Qzsar");
  request.set_family_name("Person");
  request.set_birth_date("1990-01-02");
  auto found = server_->Client(kDpo).FindSubjectReferrals(request);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->referrals_size(), 3) << found->ShortDebugString();
  EXPECT_EQ(found->referrals(0).referral(), a.name());
  EXPECT_EQ(found->referrals(1).referral(), b.name());
  EXPECT_EQ(found->referrals(2).referral(), c.name());
  EXPECT_THAT(found->referrals(0).matched_on(), ElementsAre("name-and-birth-date", "phone"));
  EXPECT_THAT(found->referrals(1).matched_on(), ElementsAre("phone"));
  EXPECT_THAT(found->referrals(2).matched_on(), ElementsAre("email"));
  // Routing facts: who holds what, nothing of the referral's content.
  EXPECT_EQ(found->referrals(1).sender_agency(), absl::StrCat("agencies/", kCityCouncil));
  EXPECT_THAT(found->referrals(1).recipient_agencies(), ElementsAre(absl::StrCat("agencies/", kPolice)));
  EXPECT_EQ(found->referrals(1).state(), v1::Referral::REQUESTED);
  EXPECT_FALSE(absl::StrContains(found->SerializeAsString(), "Qzsar"));
  EXPECT_FALSE(absl::StrContains(found->SerializeAsString(), "bus stop"));

  // One identifier is enough; a person nobody referred has none.
  v1::FindSubjectReferralsRequest email_only;
  email_only.set_email(" QZSAR.PERSON@example.org ");
  auto by_email = server_->Client(kDpo).FindSubjectReferrals(email_only);
  ASSERT_TRUE(by_email.ok()) << by_email.status();
  ASSERT_EQ(by_email->referrals_size(), 1);
  EXPECT_EQ(by_email->referrals(0).referral(), c.name());
  v1::FindSubjectReferralsRequest nobody;
  nobody.set_phone("07700 900000");
  auto none = server_->Client(kDpo).FindSubjectReferrals(nobody);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->referrals_size(), 0);

  // Audited as a consultation naming the referrals found; no identifier
  // given is in any audit row.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<std::string> searches;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.AuditService.FindSubjectReferrals") continue;
    searches.push_back(absl::StrCat(e.action(), " ", e.referrals_size()));
  }
  EXPECT_THAT(searches, ElementsAre("CONSULTATION 3", "CONSULTATION 1", "CONSULTATION 0"));
  TestDatabase db(server_->config().storage());
  for (const char* canary : {"900123", "qzsar", "QZSAR", "Qzsar", "1990-01-02"}) {
    EXPECT_EQ(db.Int(absl::StrCat("SELECT count(*) FROM audit_events WHERE referral_ids LIKE '%", canary,
                                  "%' OR reason LIKE '%", canary, "%' OR release LIKE '%", canary, "%'")),
              0)
        << canary;
  }

  // Refusals: no usable identifier (a name alone would match strangers),
  // roles without SUBJECT_ACCESS, no certificate.
  v1::FindSubjectReferralsRequest name_only;
  name_only.set_given_name("Qzsar");
  name_only.set_family_name("Person");
  auto vague = server_->Client(kDpo).FindSubjectReferrals(name_only);
  EXPECT_EQ(vague.status().code(), absl::StatusCode::kInvalidArgument) << vague.status();
  EXPECT_FALSE(FieldViolationsOf(vague.status()).empty());
  EXPECT_FALSE(absl::StrContains(vague.status().ToString(), "Qzsar"));
  for (const char* agency : {kPolice, kCityCouncil, kOversight}) {
    auto denied = server_->Client(agency).FindSubjectReferrals(request);
    EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << agency << " " << denied.status();
    EXPECT_EQ(ErrorReasonOf(denied.status()), "METHOD_NOT_PERMITTED");
  }
  auto no_cert = server_->ClientWith(TestPki::ClientCert{}).FindSubjectReferrals(request);
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();
}

// The bundle: four controllers, each holding exactly what its own reads
// return (the agency that redirected a referral away: routing facts only),
// the sender told whom its data reached, each agency what it received; the
// export audited as a disclosure to the DPO; every other role refused.
TEST_F(SubjectAccessTest, TheBundleGivesEachControllersPartAsThatControllerReadsIt) {
  v1::Victim police_wrote;
  police_wrote.set_given_name("Qzbundle");
  police_wrote.set_family_name("Person");
  police_wrote.set_birth_date("1990-01-02");
  police_wrote.set_phone("07700 900321");
  v1::Victim council_wrote;
  council_wrote.set_given_name("QZBUNDLE");
  council_wrote.set_phone("+44 7700 900321");
  v1::Victim health_wrote;
  health_wrote.set_given_name("Q.");
  health_wrote.set_email("qzbundle@example.org");
  const v1::Referral a = Create(kPolice, kCityCouncil, police_wrote, "a");
  const v1::Referral b = Create(kCityCouncil, kPolice, council_wrote, "b");
  const v1::Referral c = Create(kHealth, kCityCouncil, health_wrote, "c");
  // The council passes `a` on to Blaby, which reads it; the police add a
  // case update to it.
  ASSERT_TRUE(server_->Client(kCityCouncil).GetReferral(a.name()).ok());
  v1::RedirectReferralRequest redirect;
  redirect.set_name(a.name());
  redirect.set_etag(a.etag());
  redirect.set_request_id("redirect-a");
  redirect.set_target_agency(absl::StrCat("agencies/", kBlaby));
  auto redirected = server_->Client(kCityCouncil).RedirectReferral(redirect);
  ASSERT_TRUE(redirected.ok()) << redirected.status();
  ASSERT_TRUE(server_->Client(kBlaby).GetReferral(a.name()).ok());
  v1::AddCaseUpdateRequest note;
  note.set_parent(a.name());
  note.set_etag(redirected->etag());
  note.set_request_id("note-a");
  note.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_MADE);
  note.mutable_update()->set_text("Qzbundle reached by phone");
  ASSERT_TRUE(server_->Client(kPolice).AddCaseUpdate(note).ok());

  v1::ExportSubjectAccessBundleRequest request;
  request.set_phone("07700900321");
  request.set_email("QZBUNDLE@example.org");
  auto bundle = server_->Client(kDpo).ExportSubjectAccessBundle(request);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_EQ(bundle->referrals_size(), 3);
  EXPECT_EQ(bundle->referrals(0).referral(), a.name());
  EXPECT_FALSE(bundle->agreement().empty());
  std::map<std::string, const v1::SubjectAccessController*> parts;
  for (const auto& part : bundle->controllers()) parts[part.agency()] = &part;
  ASSERT_EQ(parts.size(), 4u) << bundle->ShortDebugString();

  // Each holding is exactly the controller's own read, now.
  using Relationship = v1::SubjectAccessHolding;
  std::map<std::string, std::vector<std::string>> relationships;
  for (const auto& [agency_name, part] : parts) {
    const std::string agency = agency_name.substr(std::string("agencies/").size());
    for (const auto& holding : part->holdings()) {
      relationships[agency].push_back(
          absl::StrCat(holding.referral().name() == a.name()   ? "a"
                       : holding.referral().name() == b.name() ? "b"
                                                               : "c",
                       " ", Relationship::Relationship_Name(holding.relationship())));
      auto own = server_->Client(agency).GetReferral(holding.referral().name());
      ASSERT_TRUE(own.ok()) << agency << " " << own.status();
      EXPECT_TRUE(MessageDifferencer::Equals(holding.referral(), *own))
          << agency << "\nbundle: " << holding.referral().ShortDebugString() << "\nown: " << own->ShortDebugString();
      v1::ListCaseUpdatesRequest updates;
      updates.set_parent(holding.referral().name());
      auto own_updates = server_->Client(agency).ListCaseUpdates(updates);
      ASSERT_TRUE(own_updates.ok()) << own_updates.status();
      ASSERT_EQ(holding.case_updates_size(), own_updates->updates_size()) << agency;
      for (int i = 0; i < holding.case_updates_size(); ++i) {
        EXPECT_TRUE(MessageDifferencer::Equals(holding.case_updates(i), own_updates->updates(i))) << agency;
      }
    }
  }
  EXPECT_THAT(relationships[kPolice], ElementsAre("a SENDER", "b RECIPIENT"));
  EXPECT_THAT(relationships[kCityCouncil], ElementsAre("a FORMER_RECIPIENT", "b SENDER", "c RECIPIENT"));
  EXPECT_THAT(relationships[kBlaby], ElementsAre("a RECIPIENT"));
  EXPECT_THAT(relationships[kHealth], ElementsAre("c SENDER"));
  // What that means: the police hold the victim and the note; the council,
  // having passed `a` on, holds none of its victim data.
  const auto& police_a = parts[absl::StrCat("agencies/", kPolice)]->holdings(0);
  EXPECT_EQ(police_a.referral().victim().given_name(), "Qzbundle");
  ASSERT_EQ(police_a.case_updates_size(), 1);
  EXPECT_EQ(police_a.case_updates(0).text(), "Qzbundle reached by phone");
  const auto& council_a = parts[absl::StrCat("agencies/", kCityCouncil)]->holdings(0);
  EXPECT_EQ(council_a.referral().victim().given_name(), "") << council_a.referral().victim().ShortDebugString();
  EXPECT_EQ(council_a.referral().victim().phone(), "");
  EXPECT_EQ(council_a.case_updates(0).text(), "");
  EXPECT_EQ(parts[absl::StrCat("agencies/", kBlaby)]->display_name(), "Blaby District Council");

  // Whom the police's data reached, and what Blaby received.
  std::set<std::string> reached;
  for (const auto& d : police_a.disclosures()) reached.insert(d.agency());
  EXPECT_THAT(reached,
              UnorderedElementsAre(absl::StrCat("agencies/", kCityCouncil), absl::StrCat("agencies/", kBlaby)));
  const auto& blaby_a = parts[absl::StrCat("agencies/", kBlaby)]->holdings(0);
  ASSERT_FALSE(blaby_a.receipts().empty());
  EXPECT_EQ(blaby_a.receipts(0).method(), "refx.v1.ReferralService.GetReferral");
  EXPECT_FALSE(blaby_a.receipts(0).data_classes().empty());
  EXPECT_TRUE(blaby_a.disclosures().empty());  // only the sender's part says whom it reached

  // Audited as a disclosure to the DPO of the three referrals and what the
  // bundle carries; no identifier given is in any audit row.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  int exports = 0;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.AuditService.ExportSubjectAccessBundle") continue;
    ++exports;
    EXPECT_EQ(e.action(), "DISCLOSURE");
    EXPECT_EQ(e.referrals_size(), 3);
    EXPECT_THAT(e.data_classes(), ::testing::Contains(v1::DATA_CLASS_VICTIM_IDENTITY));
  }
  EXPECT_EQ(exports, 1);
  TestDatabase db(server_->config().storage());
  for (const char* canary : {"900321", "qzbundle", "QZBUNDLE"}) {
    EXPECT_EQ(db.Int(absl::StrCat("SELECT count(*) FROM audit_events WHERE referral_ids LIKE '%", canary,
                                  "%' OR reason LIKE '%", canary, "%' OR purpose LIKE '%", canary, "%'")),
              0)
        << canary;
  }

  // Refusals: no usable identifier, roles without SUBJECT_ACCESS (a party
  // to every one of these referrals among them), no certificate.
  v1::ExportSubjectAccessBundleRequest name_only;
  name_only.set_given_name("Qzbundle");
  auto vague = server_->Client(kDpo).ExportSubjectAccessBundle(name_only);
  EXPECT_EQ(vague.status().code(), absl::StatusCode::kInvalidArgument) << vague.status();
  EXPECT_FALSE(FieldViolationsOf(vague.status()).empty());
  EXPECT_FALSE(absl::StrContains(vague.status().ToString(), "Qzbundle"));
  for (const char* agency : {kPolice, kCityCouncil, kBlaby, kOversight}) {
    auto denied = server_->Client(agency).ExportSubjectAccessBundle(request);
    EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << agency << " " << denied.status();
    EXPECT_EQ(ErrorReasonOf(denied.status()), "METHOD_NOT_PERMITTED");
  }
  auto no_cert = server_->ClientWith(TestPki::ClientCert{}).ExportSubjectAccessBundle(request);
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();
}

// A restriction withholds classes from one controller's part (or every
// part), marked with the exemption it rests on and recorded in the export's
// audit event; a bad restriction is refused naming its field.
TEST_F(SubjectAccessTest, ARestrictionWithholdsClassesMarksThemAndIsRecorded) {
  v1::Victim victim;
  victim.set_given_name("Qzrestrict");
  victim.set_phone("07700 900654");
  const v1::Referral a = Create(kPolice, kCityCouncil, victim, "a");
  const std::string police = absl::StrCat("agencies/", kPolice);
  const std::string council = absl::StrCat("agencies/", kCityCouncil);

  v1::ExportSubjectAccessBundleRequest request;
  request.set_phone("07700 900654");
  v1::SubjectAccessRestriction* restriction = request.add_restrictions();
  restriction->set_referral(a.name());
  restriction->add_data_classes(v1::DATA_CLASS_INCIDENT_NARRATIVE);
  restriction->add_data_classes(v1::DATA_CLASS_VICTIM_CONTACT);
  restriction->set_basis(v1::DPA_2018_S45_4_B_CRIME);
  restriction->set_controller(police);
  auto bundle = server_->Client(kDpo).ExportSubjectAccessBundle(request);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  std::map<std::string, const v1::SubjectAccessHolding*> holdings;
  for (const auto& part : bundle->controllers()) holdings[part.agency()] = &part.holdings(0);
  ASSERT_EQ(holdings.size(), 2u);

  // The police part: both classes gone, and said to be withheld, and why.
  const v1::SubjectAccessHolding& withheld = *holdings[police];
  EXPECT_EQ(withheld.referral().incident_narrative(), "");
  EXPECT_EQ(withheld.referral().victim().phone(), "");
  EXPECT_EQ(withheld.referral().victim().given_name(), "Qzrestrict");  // not restricted
  ASSERT_EQ(withheld.withheld_size(), 2);
  EXPECT_EQ(withheld.withheld(0).data_class(), v1::DATA_CLASS_INCIDENT_NARRATIVE);
  EXPECT_EQ(withheld.withheld(1).data_class(), v1::DATA_CLASS_VICTIM_CONTACT);
  EXPECT_EQ(withheld.withheld(1).basis(), v1::DPA_2018_S45_4_B_CRIME);
  // The council's part is untouched: exactly its own read.
  const v1::SubjectAccessHolding& untouched = *holdings[council];
  EXPECT_TRUE(untouched.withheld().empty());
  auto own = server_->Client(kCityCouncil).GetReferral(a.name());
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_FALSE(own->incident_narrative().empty());
  EXPECT_TRUE(MessageDifferencer::Equals(untouched.referral(), *own));

  // Recorded with the export: ids, classes and the exemption, no content.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_FALSE(events->events().empty());
  const v1::AuditEvent& exported = events->events(events->events_size() - 1);
  EXPECT_EQ(exported.method(), "refx.v1.AuditService.ExportSubjectAccessBundle");
  EXPECT_EQ(exported.reason(), absl::StrCat("restricted ", a.name().substr(std::string("referrals/").size()),
                                            ":INCIDENT_NARRATIVE+VICTIM_CONTACT@DPA_2018_S45_4_B_CRIME>", kPolice));

  // Refused, each bad field named: a referral the identifiers do not find,
  // the routing record, a controller that is no party, an unknown class;
  // and a restriction without its basis.
  v1::ExportSubjectAccessBundleRequest bad;
  bad.set_phone("07700 900654");
  auto add = [&](const std::string& referral, v1::DataClass data_class, const std::string& controller) {
    v1::SubjectAccessRestriction* r = bad.add_restrictions();
    r->set_referral(referral);
    r->add_data_classes(data_class);
    r->set_basis(v1::DPA_2018_S45_4_A_INQUIRY);
    r->set_controller(controller);
  };
  add("referrals/0123456789abcdef0123456789abcdef", v1::DATA_CLASS_SUBJECT, "");
  add(a.name(), v1::DATA_CLASS_REFERRAL_CORE, "");
  add(a.name(), v1::DATA_CLASS_SUBJECT, absl::StrCat("agencies/", kBlaby));
  add(a.name(), static_cast<v1::DataClass>(77), "");
  auto refused = server_->Client(kDpo).ExportSubjectAccessBundle(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  std::vector<std::string> fields;
  for (const auto& v : FieldViolationsOf(refused.status())) fields.push_back(v.field);
  EXPECT_THAT(fields, ElementsAre("restrictions[0].referral", "restrictions[1].data_classes[0]",
                                  "restrictions[2].controller", "restrictions[3].data_classes[0]"));
  v1::ExportSubjectAccessBundleRequest no_basis = request;
  no_basis.mutable_restrictions(0)->clear_basis();
  auto unbased = server_->Client(kDpo).ExportSubjectAccessBundle(no_basis);
  EXPECT_EQ(unbased.status().code(), absl::StatusCode::kInvalidArgument) << unbased.status();
  EXPECT_THAT(unbased.status().ToString(), HasSubstr("restrictions[0].basis"));
}

// The restrictions of an access request are kept with it: the export that
// names the request records them, a later export naming it applies them
// without being told again, and lifting them is recorded too; a request of
// another kind, one that does not exist, and lifting without a request are
// refused, and the DPO's change to the request is audited.
TEST_F(SubjectAccessTest, RestrictionsKeptWithTheRequestApplyToEveryLaterExport) {
  v1::Victim victim;
  victim.set_given_name("Qzkept");
  victim.set_phone("07700 900655");
  const v1::Referral a = Create(kPolice, kCityCouncil, victim, "a");
  auto open = [&](v1::SubjectRequest::Kind kind, const std::string& request_id) {
    v1::CreateSubjectRequestRequest create;
    create.mutable_subject_request()->set_kind(kind);
    create.mutable_subject_request()->set_reference("DPO-2026-0300");
    create.mutable_subject_request()->set_received_date("2026-11-30");
    create.set_request_id(request_id);
    return server_->Client(kDpo).CreateSubjectRequest(create);
  };
  auto access = open(v1::SubjectRequest::ACCESS, "sar-access");
  ASSERT_TRUE(access.ok()) << access.status();
  auto read_request = [&]() {
    v1::GetSubjectRequestRequest get;
    get.set_name(access->name());
    return server_->Client(kDpo).GetSubjectRequest(get);
  };
  // How many classes each controller's part of the bundle withholds.
  auto withheld = [&](const v1::ExportSubjectAccessBundleRequest& request) {
    std::vector<int> out;
    auto bundle = server_->Client(kDpo).ExportSubjectAccessBundle(request);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    if (!bundle.ok()) return out;
    EXPECT_EQ(bundle->subject_request(), request.subject_request());
    for (const auto& part : bundle->controllers()) {
      for (const auto& holding : part.holdings()) {
        out.push_back(holding.withheld_size());
        EXPECT_EQ(holding.referral().incident_narrative().empty(), holding.withheld_size() > 0);
      }
    }
    return out;
  };

  v1::ExportSubjectAccessBundleRequest first;
  first.set_phone("07700 900655");
  first.set_subject_request(access->name());
  v1::SubjectAccessRestriction* restriction = first.add_restrictions();
  restriction->set_referral(a.name());
  restriction->add_data_classes(v1::DATA_CLASS_INCIDENT_NARRATIVE);
  restriction->set_basis(v1::DPA_2018_S45_4_B_CRIME);
  EXPECT_THAT(withheld(first), ElementsAre(1, 1));
  auto recorded = read_request();
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->restrictions_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(recorded->restrictions(0), *restriction));
  EXPECT_NE(recorded->etag(), access->etag());

  // Named again, with no restrictions given: the same is withheld. An
  // export naming no request states its own.
  v1::ExportSubjectAccessBundleRequest again;
  again.set_phone("07700 900655");
  again.set_subject_request(access->name());
  EXPECT_THAT(withheld(again), ElementsAre(1, 1));
  v1::ExportSubjectAccessBundleRequest unnamed;
  unnamed.set_phone("07700 900655");
  EXPECT_THAT(withheld(unnamed), ElementsAre(0, 0));

  // Lifted: nothing withheld, and nothing recorded any more.
  v1::ExportSubjectAccessBundleRequest lift = again;
  lift.set_lift_restrictions(true);
  EXPECT_THAT(withheld(lift), ElementsAre(0, 0));
  EXPECT_EQ(read_request()->restrictions_size(), 0);
  EXPECT_THAT(withheld(again), ElementsAre(0, 0));

  // The change to the request is audited with it.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<std::string> changes;
  for (const auto& e : events->events()) {
    if (absl::StartsWith(e.reason(), access->name() + " restrictions")) changes.push_back(e.reason());
  }
  EXPECT_THAT(changes, ElementsAre(absl::StrCat(access->name(), " restrictions recorded: 1"),
                                   absl::StrCat(access->name(), " restrictions lifted")));

  // Refused: lifting without the request or beside new restrictions, a
  // malformed name, a request of another kind, one that does not exist, and
  // anyone but the DPO.
  v1::ExportSubjectAccessBundleRequest lift_alone = unnamed;
  lift_alone.set_lift_restrictions(true);
  auto refused = server_->Client(kDpo).ExportSubjectAccessBundle(lift_alone);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), ElementsAre("lift_restrictions"));
  v1::ExportSubjectAccessBundleRequest lift_and_restrict = first;
  lift_and_restrict.set_lift_restrictions(true);
  refused = server_->Client(kDpo).ExportSubjectAccessBundle(lift_and_restrict);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), ElementsAre("lift_restrictions"));
  v1::ExportSubjectAccessBundleRequest malformed = again;
  malformed.set_subject_request("subjectRequests/nope");
  refused = server_->Client(kDpo).ExportSubjectAccessBundle(malformed);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), ElementsAre("subject_request"));
  auto erasure = open(v1::SubjectRequest::ERASURE, "sar-erasure");
  ASSERT_TRUE(erasure.ok()) << erasure.status();
  v1::ExportSubjectAccessBundleRequest wrong_kind = again;
  wrong_kind.set_subject_request(erasure->name());
  refused = server_->Client(kDpo).ExportSubjectAccessBundle(wrong_kind);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "SUBJECT_REQUEST_NOT_ACCESS");
  v1::ExportSubjectAccessBundleRequest missing = again;
  missing.set_subject_request("subjectRequests/0123456789abcdef0123456789abcdef");
  refused = server_->Client(kDpo).ExportSubjectAccessBundle(missing);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "SUBJECT_REQUEST_NOT_FOUND");
  refused = server_->Client(kPolice).ExportSubjectAccessBundle(again);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_EQ(read_request()->restrictions_size(), 0);
}

}  // namespace
}  // namespace refx::testing
