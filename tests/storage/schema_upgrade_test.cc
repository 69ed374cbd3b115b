// A database a previous release wrote is upgraded in place when this one
// opens it, on both backends: each test builds the schema as it stood before
// a migration, with that release's rows, opens the store, and reads them
// back through the contract.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/postgres/pg_statements.h"
#include "storage/sqlite/sqlite_statements.h"
#include "tests/storage/store_test_support.h"

namespace refx::storage {
namespace {

class SchemaUpgradeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") REFX_SKIP_UNLESS_POSTGRES();
    auto config = NewDatabaseConfig(GetParam(), testing::MakeTempDir("upgrade"));
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
  }

  const SqlDialect& dialect() const {
    return GetParam() == "postgres" ? postgres::PostgresDialect() : sqlite::SqliteDialect();
  }

  // The schema as every migration up to `version` left it, as the store
  // itself records them.
  void MigrateTo(SqlConnection* conn, int version) {
    ASSERT_TRUE(conn->Exec(dialect().create_migrations_table).ok());
    for (const Migration& m : dialect().migrations) {
      if (m.version > version) break;
      ASSERT_TRUE(conn->Exec(m.sql).ok()) << m.name;
      auto stmt = conn->Prepare(dialect().record_migration);
      ASSERT_TRUE(stmt.ok()) << stmt.status();
      (*stmt)->Bind(":version", int64_t{m.version}).Bind(":name", m.name).Bind(":applied_time_us", int64_t{0});
      ASSERT_TRUE((*stmt)->Run().ok()) << m.name;
    }
  }

  void Run(
      SqlConnection* conn, const std::string& sql,
      const std::function<void(SqlStatement*)>& bind = [](SqlStatement*) {}) {
    auto stmt = conn->Prepare(sql.c_str());
    ASSERT_TRUE(stmt.ok()) << stmt.status() << ": " << sql;
    bind(stmt->get());
    ASSERT_TRUE((*stmt)->Run().ok()) << sql;
  }

  // A referral as schema 18 stored it: its strands as rows of
  // referral_strands, its recipients only as party rows.
  void InsertVersion18Referral(SqlConnection* conn, const std::string& id, int64_t create_us,
                               const std::vector<std::string>& recipients, const std::vector<std::string>& strands) {
    Run(conn,
        "INSERT INTO referrals (id, sender_agency, state, area, report_type, create_time_us, update_time_us, "
        "etag, document, response_deadline_us) VALUES (:id, 'police', 1, 'leicester', 1, :t, :t, :etag, :document, "
        "NULL)",
        [&](SqlStatement* s) {
          s->Bind(":id", id).Bind(":t", create_us).Bind(":etag", "e-" + id).BindBlob(":document", "doc-" + id);
        });
    auto party = [&](const std::string& agency, const std::string& role) {
      Run(conn,
          "INSERT INTO referral_parties (agency_id, referral_id, party_role, create_time_us) "
          "VALUES (:agency, :id, :role, :t)",
          [&](SqlStatement* s) {
            s->Bind(":agency", agency).Bind(":id", id).Bind(":role", role).Bind(":t", create_us);
          });
    };
    party("police", "sender");
    for (const std::string& r : recipients) party(r, "recipient");
    for (const std::string& strand : strands) {
      Run(conn, "INSERT INTO referral_strands (referral_id, strand) VALUES (:id, :strand)",
          [&](SqlStatement* s) { s->Bind(":id", id).Bind(":strand", strand); });
    }
  }

  // The ids `query` lists, in order; a refused query fails the test.
  static std::vector<std::string> ListedIds(ReferralStore* store, const ListReferralsQuery& query) {
    auto page = store->ListReferrals(query);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const auto& r : *page) ids.push_back(r.id);
    }
    return ids;
  }

  config::v1::StorageConfig config_;
};

TEST_P(SchemaUpgradeTest, Version19MovesRecipientsAndStrandsIntoTheReferralsRow) {
  {
    auto conn = OpenRawConnection(config_, /*read_only=*/false);
    ASSERT_NE(conn, nullptr);
    MigrateTo(conn.get(), 18);
    // Recipients and strands inserted out of order: the upgrade sorts them.
    InsertVersion18Referral(conn.get(), "r1", 1790000000000000, {"county", "city"}, {"religion", "race"});
    InsertVersion18Referral(conn.get(), "r2", 1790000001000000, {"city"}, {});
  }
  auto store = OpenConfiguredStore(config_, KeyEncryptionKey());
  ASSERT_NE(store, nullptr);

  auto r1 = store->GetReferral("r1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->recipient_agencies, (std::vector<std::string>{"city", "county"}));
  EXPECT_EQ(r1->strands, (std::vector<std::string>{"race", "religion"}));
  EXPECT_EQ(r1->document, "doc-r1");
  auto r2 = store->GetReferral("r2");
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->recipient_agencies, (std::vector<std::string>{"city"}));
  EXPECT_TRUE(r2->strands.empty());

  // The strand filter reads the row's list: a strand matches whole, and any
  // one of the asked strands is enough.
  auto listed = [&](std::vector<std::string> strands) {
    ListReferralsQuery query;
    query.party_agency = "city";
    query.strands = std::move(strands);
    return ListedIds(store.get(), query);
  };
  EXPECT_EQ(listed({}), (std::vector<std::string>{"r2", "r1"}));
  EXPECT_EQ(listed({"religion"}), (std::vector<std::string>{"r1"}));
  EXPECT_EQ(listed({"disability", "race"}), (std::vector<std::string>{"r1"}));
  EXPECT_TRUE(listed({"rac"}).empty());
  EXPECT_TRUE(listed({"disability"}).empty());

  // A referral created after the upgrade reads back the same way.
  StoredReferral r3 = Referral("r3", "police", {"county", "city"}, absl::FromUnixMicros(1790000002000000));
  r3.strands = {"sexual_orientation", "race"};
  ASSERT_TRUE(store->CreateReferral(Request(r3, "c3")).ok());
  auto read = store->GetReferral("r3");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->recipient_agencies, (std::vector<std::string>{"city", "county"}));
  EXPECT_EQ(read->strands, (std::vector<std::string>{"race", "sexual_orientation"}));
  EXPECT_EQ(listed({"sexual_orientation"}), (std::vector<std::string>{"r3"}));
  store.reset();

  // The strands' table is gone: nothing is left to drift from the row.
  auto raw = OpenRawConnection(config_);
  ASSERT_NE(raw, nullptr);
  auto gone = raw->Prepare("SELECT COUNT(*) FROM referral_strands");
  EXPECT_TRUE(!gone.ok() || !(*gone)->Step().ok());
}

// Version 20 rebuilds the listing index with the party's role and redirect
// flag in it. Lists read the same referrals, in the same order, with the
// "awaiting my response" filter reading those columns from the index.
TEST_P(SchemaUpgradeTest, Version20ListsTheSameReferralsFromTheRebuiltIndex) {
  {
    auto conn = OpenRawConnection(config_, /*read_only=*/false);
    ASSERT_NE(conn, nullptr);
    MigrateTo(conn.get(), 19);
    auto referral = [&](const std::string& id, int64_t create_us) {
      Run(conn.get(),
          "INSERT INTO referrals (id, sender_agency, state, area, report_type, create_time_us, update_time_us, "
          "etag, document, response_deadline_us, recipients, strands) VALUES (:id, 'police', 1, 'leicester', 1, "
          ":t, :t, :etag, :document, NULL, 'city', '')",
          [&](SqlStatement* s) {
            s->Bind(":id", id).Bind(":t", create_us).Bind(":etag", "e-" + id).BindBlob(":document", "doc-" + id);
          });
    };
    auto party = [&](const std::string& agency, const std::string& id, const std::string& role, int64_t create_us,
                     int64_t redirected) {
      Run(conn.get(),
          "INSERT INTO referral_parties (agency_id, referral_id, party_role, create_time_us, redirected) "
          "VALUES (:agency, :id, :role, :t, :redirected)",
          [&](SqlStatement* s) {
            s->Bind(":agency", agency)
                .Bind(":id", id)
                .Bind(":role", role)
                .Bind(":t", create_us)
                .Bind(":redirected", redirected);
          });
    };
    // Ids out of time order, as random ids are.
    const std::vector<std::pair<std::string, int64_t>> referrals = {
        {"r-c", 1790000000000000}, {"r-a", 1790000001000000}, {"r-d", 1790000002000000}, {"r-b", 1790000003000000}};
    for (const auto& [id, t] : referrals) {
      referral(id, t);
      party("police", id, "sender", t, 0);
      party("city", id, "recipient", t, id == "r-d" ? 1 : 0);  // the city passed r-d on
    }
  }
  auto store = OpenConfiguredStore(config_, KeyEncryptionKey());
  ASSERT_NE(store, nullptr);
  EXPECT_GE(store->SchemaVersion(), 20);
  auto listed = [&](const std::string& agency, bool must_respond, int limit,
                    absl::optional<ListCursor> after = absl::nullopt) {
    ListReferralsQuery query;
    query.party_agency = agency;
    query.party_must_respond = must_respond;
    query.limit = limit;
    query.after = after;
    return ListedIds(store.get(), query);
  };
  EXPECT_EQ(listed("city", false, 10), (std::vector<std::string>{"r-b", "r-d", "r-a", "r-c"}));
  EXPECT_EQ(listed("police", false, 10), (std::vector<std::string>{"r-b", "r-d", "r-a", "r-c"}));
  EXPECT_EQ(listed("city", true, 10), (std::vector<std::string>{"r-b", "r-a", "r-c"}));
  EXPECT_TRUE(listed("police", true, 10).empty()) << "a sender owes no response";
  EXPECT_EQ(listed("city", false, 2, ListCursor{absl::FromUnixMicros(1790000002000000), "r-d"}),
            (std::vector<std::string>{"r-a", "r-c"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, SchemaUpgradeTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace refx::storage
