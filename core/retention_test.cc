#include "core/retention.h"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/yaml_proto.h"
#include "core/referral_manager.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "refx/v1/case_update.pb.h"
#include "storage/sqlite/sqlite_store.h"

namespace refx::core {
namespace {

using ::testing::HasSubstr;
using google::protobuf::util::TimeUtil;

std::string Source(const std::string& relative) { return std::string(REFX_SOURCE_DIR) + "/" + relative; }

google::protobuf::Timestamp Proto(absl::Time t) { return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t)); }

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto partnership = Partnership::Load(Source("config/partnership.yaml"));
    ASSERT_TRUE(partnership.ok()) << partnership.status();
    config::v1::Agreement config;
    ASSERT_TRUE(ReadYamlFileToProto(Source("config/agreement.yaml"), &config).ok());
    auto agreement = Agreement::Create(config, "agreement.yaml", **partnership);
    ASSERT_TRUE(agreement.ok()) << agreement.status();
    agreement_ = *agreement;
    referral_.set_name("referrals/00000000000000000000000000000001");
    *referral_.mutable_create_time() = Proto(created_);
    referral_.mutable_victim()->set_given_name("Canary");
    referral_.mutable_victim()->set_phone("07700 900123");
    referral_.mutable_victim()->mutable_address()->set_postcode("LE1 1AA");
    referral_.set_incident_narrative("narrative canary");
    referral_.mutable_location()->set_postcode("LE2 2BB");
    referral_.add_strands()->set_strand("race");
    referral_.set_area("leicester");
  }

  // The classes of a schedule, in its order.
  static std::vector<v1::DataClass> Classes(const std::vector<PlannedErasure>& planned) {
    std::vector<v1::DataClass> out;
    for (const PlannedErasure& p : planned) out.push_back(p.data_class);
    return out;
  }

  // An SQLite store in a fresh directory (its file named in `path`), told
  // of each commit by `observer` if one is given.
  static absl::StatusOr<std::unique_ptr<storage::sqlite::SqliteStore>> NewStore(const char* name,
                                                                                storage::CommitObserver observer = {},
                                                                                std::string* path = nullptr) {
    std::string dir = absl::StrCat("/tmp/refx-retention-", name, "-XXXXXX");
    if (mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp");
    storage::sqlite::SqliteStore::Options store_options;
    store_options.path = dir + "/refx.db";
    if (path != nullptr) *path = store_options.path;
    store_options.commit_observer = std::move(observer);
    return storage::sqlite::SqliteStore::Create(store_options);
  }

  // Stores `document` as a referral from the police to the city, closed at
  // `closed`, with the etag "e-{id}".
  void StoreClosed(storage::ReferralStore& store, const std::string& id, absl::Time closed,
                   const std::string& document) {
    storage::CreateReferralRequest request;
    storage::StoredReferral& stored = request.referral;
    stored.id = id;
    stored.sender_agency = "police";
    stored.recipient_agencies = {"city"};
    stored.state = v1::Referral::COMPLETED;
    stored.area = "leicester";
    stored.report_type = 1;
    stored.create_time = created_;
    stored.update_time = closed;
    stored.etag = "e-" + id;
    stored.document = document;
    request.request_id = id;
    request.request_fingerprint = "fp";
    request.audit.action = "COLLECTION";
    ASSERT_TRUE(store.CreateReferral(request).ok());
  }

  // referral_ as `id`, completed at `closed`.
  v1::Referral Closed(const std::string& id, absl::Time closed) const {
    v1::Referral r = referral_;
    r.set_name("referrals/" + id);
    r.set_state(v1::Referral::COMPLETED);
    *r.mutable_close_time() = Proto(closed);
    return r;
  }

  std::shared_ptr<const Agreement> agreement_;
  const absl::Time created_ = absl::FromUnixSeconds(1767225600);  // 2026-01-01
  v1::Referral referral_;
};

TEST_F(RetentionTest, AClosedReferralsClassesFallDueFromItsClosureByTheAgreementsPeriods) {
  referral_.set_state(v1::Referral::COMPLETED);
  const absl::Time closed = created_ + absl::Hours(24 * 30);
  *referral_.mutable_close_time() = Proto(closed);
  const auto planned = RetentionSchedule(*agreement_, referral_, "r1", closed + absl::Hours(1), closed);
  // The routing record (REFERRAL_CORE) is listed last (the longest
  // period): it deletes the referral. OPERATIONAL goes with it, unlisted.
  EXPECT_THAT(Classes(planned),
              ::testing::ElementsAre(
                  v1::DATA_CLASS_VICTIM_CONTACT, v1::DATA_CLASS_HEALTH_AND_DISABILITY, v1::DATA_CLASS_PRECISE_LOCATION,
                  v1::DATA_CLASS_SUBJECT, v1::DATA_CLASS_NCHI_SUBJECT, v1::DATA_CLASS_VICTIM_IDENTITY,
                  v1::DATA_CLASS_INCIDENT_NARRATIVE, v1::DATA_CLASS_SAFEGUARDING_RISK, v1::DATA_CLASS_PREVENT,
                  v1::DATA_CLASS_REFERRAL_CORE, v1::DATA_CLASS_PROTECTED_CHARACTERISTICS, v1::DATA_CLASS_CRIME_DATA));
  EXPECT_EQ(planned[0].due, closed + absl::Hours(24 * 365));
  EXPECT_EQ(planned[0].referral_id, "r1");
  EXPECT_EQ(planned[0].rule, "llr-hate-isa@2026.4 retention DATA_CLASS_VICTIM_CONTACT: 365 days after closure");
  EXPECT_EQ(planned[5].due, closed + absl::Hours(24 * 730));
  EXPECT_EQ(planned.back().due, closed + absl::Hours(24 * 2190));

  // Erased classes are done with.
  v1::Erasure* erased = referral_.add_erasures();
  erased->set_data_class(v1::DATA_CLASS_VICTIM_CONTACT);
  const auto rest = RetentionSchedule(*agreement_, referral_, "r1", closed, closed);
  EXPECT_EQ(rest.size(), planned.size() - 1);
  EXPECT_EQ(rest[0].data_class, v1::DATA_CLASS_HEALTH_AND_DISABILITY);
}

TEST_F(RetentionTest, AnOpenReferralKeepsEverythingUntilItIsAbandonedThenCountsFromCreation) {
  referral_.set_state(v1::Referral::ACCEPTED);
  const absl::Time touched = created_ + absl::Hours(24 * 10);
  EXPECT_TRUE(RetentionSchedule(*agreement_, referral_, "r1", touched, touched + absl::Hours(24 * 364)).empty());
  // 365 days untouched (config/agreement.yaml abandoned_after_days).
  const auto abandoned = RetentionSchedule(*agreement_, referral_, "r1", touched, touched + absl::Hours(24 * 365));
  ASSERT_FALSE(abandoned.empty());
  EXPECT_EQ(abandoned[0].due, created_ + absl::Hours(24 * 365));
  EXPECT_THAT(abandoned[0].rule, HasSubstr("365 days after creation (abandoned)"));
}

TEST_F(RetentionTest, AReferralClosedBeforeCloseTimeWasRecordedCountsFromItsLastChange) {
  referral_.set_state(v1::Referral::CANCELLED);
  const absl::Time last_change = created_ + absl::Hours(24 * 50);
  const auto planned = RetentionSchedule(*agreement_, referral_, "r1", last_change, last_change);
  ASSERT_FALSE(planned.empty());
  EXPECT_EQ(planned[0].due, last_change + absl::Hours(24 * 365));
}

TEST_F(RetentionTest, ErasingClearsEveryFieldOfTheClassesAndNothingElse) {
  referral_.add_erasures()->set_data_class(v1::DATA_CLASS_VICTIM_CONTACT);
  auto erased = EraseFromDocument({v1::DATA_CLASS_VICTIM_CONTACT, v1::DATA_CLASS_PRECISE_LOCATION},
                                  storage::StoredDocumentKind::kReferral, SerializeDeterministic(referral_));
  ASSERT_TRUE(erased.ok()) << erased.status();
  v1::Referral out;
  ASSERT_TRUE(out.ParseFromString(*erased));
  EXPECT_EQ(out.victim().phone(), "");
  EXPECT_FALSE(out.victim().has_address());
  EXPECT_FALSE(out.has_location());
  EXPECT_EQ(out.victim().given_name(), "Canary");
  EXPECT_EQ(out.incident_narrative(), "narrative canary");
  EXPECT_EQ(out.strands_size(), 1);
  EXPECT_EQ(out.erasures_size(), 1);  // the record of erasures stays
  EXPECT_EQ(out.name(), referral_.name());

  // A case update's free text has the class its kind records.
  v1::CaseUpdate contact;
  contact.set_name("referrals/00000000000000000000000000000001/updates/00000000000000000000000000000002");
  contact.set_kind(v1::CaseUpdate::CONTACT_ATTEMPT);
  // Field 3 is a string here and a message in a Referral: a case update's
  // bytes do not parse as a referral.
  contact.set_author_agency("agencies/leicester-city-council");
  contact.set_text("rang 07700 900123");
  v1::CaseUpdate needs = contact;
  needs.set_kind(v1::CaseUpdate::NEEDS_ASSESSMENT);
  needs.set_text("needs canary");
  // A stored retry response may be either; its name tells them apart.
  for (storage::StoredDocumentKind kind : {storage::StoredDocumentKind::kCaseUpdate,
                                           storage::StoredDocumentKind::kReplay}) {
    auto contact_erased = EraseFromDocument({v1::DATA_CLASS_VICTIM_CONTACT}, kind, SerializeDeterministic(contact));
    ASSERT_TRUE(contact_erased.ok()) << contact_erased.status();
    v1::CaseUpdate a;
    ASSERT_TRUE(a.ParseFromString(*contact_erased));
    EXPECT_EQ(a.text(), "");
    EXPECT_EQ(a.kind(), v1::CaseUpdate::CONTACT_ATTEMPT);
    auto needs_kept = EraseFromDocument({v1::DATA_CLASS_VICTIM_CONTACT}, kind, SerializeDeterministic(needs));
    ASSERT_TRUE(needs_kept.ok());
    v1::CaseUpdate b;
    ASSERT_TRUE(b.ParseFromString(*needs_kept));
    EXPECT_EQ(b.text(), "needs canary");
  }
  auto replayed_referral = EraseFromDocument({v1::DATA_CLASS_INCIDENT_NARRATIVE},
                                             storage::StoredDocumentKind::kReplay, SerializeDeterministic(referral_));
  ASSERT_TRUE(replayed_referral.ok());
  ASSERT_TRUE(out.ParseFromString(*replayed_referral));
  EXPECT_EQ(out.incident_narrative(), "");
  EXPECT_EQ(out.victim().phone(), "07700 900123");

  EXPECT_EQ(EraseFromDocument({}, storage::StoredDocumentKind::kReferral, "\xff\xff").status().code(),
            absl::StatusCode::kDataLoss);
}

// A rolling upgrade: a newer version may have stored fields this build does
// not know. Redaction drops unknown fields, so erasing such a copy here would
// lose them, whatever their class: it is refused, and the job leaves the
// referral for a replica of the newer version.
TEST_F(RetentionTest, ACopyHoldingFieldsOfANewerVersionIsNotErasedByThisOne) {
  v1::Referral top = referral_;
  top.GetReflection()->MutableUnknownFields(&top)->AddVarint(999, 1);
  v1::Referral nested = referral_;
  nested.mutable_victim()->GetReflection()->MutableUnknownFields(nested.mutable_victim())->AddVarint(999, 1);
  EXPECT_FALSE(HoldsUnknownFields(referral_));
  for (const v1::Referral& newer : {top, nested}) {
    EXPECT_TRUE(HoldsUnknownFields(newer));
    for (storage::StoredDocumentKind kind :
         {storage::StoredDocumentKind::kReferral, storage::StoredDocumentKind::kReplay}) {
      auto erased = EraseFromDocument({v1::DATA_CLASS_VICTIM_CONTACT}, kind, newer.SerializeAsString());
      EXPECT_EQ(erased.status().code(), absl::StatusCode::kFailedPrecondition) << erased.status();
      EXPECT_THAT(erased.status().message(), HasSubstr("newer version"));
      EXPECT_TRUE(IsLeftForNewerVersion(erased.status()));
    }
  }
  v1::CaseUpdate update;
  update.set_name("referrals/00000000000000000000000000000001/updates/00000000000000000000000000000002");
  update.set_text("note");
  update.GetReflection()->MutableUnknownFields(&update)->AddLengthDelimited(998, "newer");
  EXPECT_TRUE(IsLeftForNewerVersion(EraseFromDocument({v1::DATA_CLASS_VICTIM_CONTACT},
                                                       storage::StoredDocumentKind::kCaseUpdate,
                                                       update.SerializeAsString())
                                         .status()));
  // Any other failed precondition is not mistaken for it.
  EXPECT_FALSE(IsLeftForNewerVersion(absl::FailedPreconditionError("a stored copy holds fields")));
}

TEST_F(RetentionTest, TheJobLeavesAReferralANewerVersionWroteAndErasesTheOthers) {
  auto store = NewStore("newer");
  ASSERT_TRUE(store.ok()) << store.status();
  const absl::Time closed = created_ + absl::Hours(24);
  std::map<std::string, std::string> documents;
  for (const std::string id : {"00000000000000000000000000000001", "00000000000000000000000000000002"}) {
    v1::Referral r = Closed(id, closed);
    if (id.back() == '2') {
      r.mutable_victim()->GetReflection()->MutableUnknownFields(r.mutable_victim())->AddVarint(999, 1);
    }
    StoreClosed(**store, id, closed, documents[id] = r.SerializeAsString());
  }
  FakeClock clock(closed + absl::Hours(24) * 2000);  // every period shorter than the routing record's has ended
  AgreementHolder agreements(agreement_);
  RetentionJob::Options options;
  options.store = store->get();
  options.agreements = &agreements;
  options.clock = &clock;
  auto job = RetentionJob::Create(options);
  ASSERT_TRUE(job.ok()) << job.status();
  auto report = (*job)->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->referrals_erased, 1);
  EXPECT_EQ(report->left_for_newer_version, 1);

  v1::Referral erased;
  ASSERT_TRUE(erased.ParseFromString((*store)->GetReferral("00000000000000000000000000000001")->document));
  EXPECT_EQ(erased.victim().phone(), "");
  EXPECT_GT(erased.erasures_size(), 0);
  // Untouched, byte for byte, with its etag.
  auto newer = (*store)->GetReferral("00000000000000000000000000000002");
  ASSERT_TRUE(newer.ok()) << newer.status();
  EXPECT_EQ(newer->document, documents["00000000000000000000000000000002"]);
  EXPECT_EQ(newer->etag, "e-00000000000000000000000000000002");

  // Deleting needs no field's class: when the routing record's period ends
  // both go, the one a newer version wrote too.
  clock.Advance(absl::Hours(24) * 200);
  report = (*job)->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->referrals_deleted, 2);
  EXPECT_EQ(report->left_for_newer_version, 0);
  EXPECT_EQ((*store)->GetReferral("00000000000000000000000000000002").status().code(), absl::StatusCode::kNotFound);
}

// A referral changed after the job read its page and before it erased (by
// a server, while an offline run works): the erasure is conditional on the
// etag read, so the referral is left as the other writer left it, counted,
// and erased by the next run.
TEST_F(RetentionTest, AReferralChangedBetweenTheJobsReadAndItsErasureIsLeftForTheNextRun) {
  const std::string first = "00000000000000000000000000000001", second = "00000000000000000000000000000002";
  std::atomic<bool> armed{false}, changed{false};
  std::string path;
  auto store = NewStore(
      "meanwhile",
      [&](const storage::CommitReport& report) {
        if (!armed.load() || !report.committed || report.writes == 0 || changed.exchange(true)) return;
        // Once the first erasure has committed, the second referral changes
        // underneath the job, through a connection of its own.
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        EXPECT_EQ(
            sqlite3_exec(db, ("UPDATE referrals SET etag = 'changed-elsewhere' WHERE id = '" + second + "'").c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
        sqlite3_close(db);
      },
      &path);
  ASSERT_TRUE(store.ok()) << store.status();
  const absl::Time closed = created_ + absl::Hours(24);
  std::map<std::string, std::string> documents;
  for (const std::string& id : {first, second}) {
    StoreClosed(**store, id, closed, documents[id] = Closed(id, closed).SerializeAsString());
  }
  FakeClock clock(closed + absl::Hours(24) * 400);  // the one-year classes are due, the routing record is not
  AgreementHolder agreements(agreement_);
  RetentionJob::Options options;
  options.store = store->get();
  options.agreements = &agreements;
  options.clock = &clock;
  options.scan_page = 2;  // both read before either is erased
  auto job = RetentionJob::Create(options);
  ASSERT_TRUE(job.ok()) << job.status();

  armed = true;
  auto report = (*job)->RunOnce();
  armed = false;
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(changed.load());
  EXPECT_EQ(report->referrals_erased, 1);
  EXPECT_EQ(report->changed_meanwhile, 1);
  auto untouched = (*store)->GetReferral(second);
  ASSERT_TRUE(untouched.ok()) << untouched.status();
  EXPECT_EQ(untouched->etag, "changed-elsewhere");
  EXPECT_EQ(untouched->document, documents[second]);  // nothing erased from it

  report = (*job)->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->referrals_erased, 1);
  EXPECT_EQ(report->changed_meanwhile, 0);
  v1::Referral erased;
  ASSERT_TRUE(erased.ParseFromString((*store)->GetReferral(second)->document));
  EXPECT_EQ(erased.victim().phone(), "");
  EXPECT_GT(erased.erasures_size(), 0);
  auto verdict = (*store)->VerifyAuditChain();
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_TRUE(verdict->intact) << verdict->problem;
}

}  // namespace
}  // namespace refx::core
