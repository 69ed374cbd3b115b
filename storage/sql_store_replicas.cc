// SqlStore on a database shared by several replicas (dialects with
// shared_by_replicas, i.e. PostgreSQL).
//
// Order: every write transaction holds the database's write lock from its
// first statement to its commit (SqlConnection::BeginWrite), and re-reads
// both heads under it. So transactions of all replicas are applied one after
// another, each continues the audit chain and the event sequence exactly
// where the last commit left them, and sequence order is commit order.
//
// Fan-out: events are announced from the log, never from memory. After its
// own commit a replica reads every event after the last it announced (its
// own and any other replica's that came first); a follower thread does the
// same when another replica's NOTIFY arrives, and every `kPoll` in case one
// was missed (a dropped listening connection). Since a sequence is visible
// only once every smaller one is committed, reading "after N" never skips an
// event that commits later.
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {
namespace {

constexpr absl::Duration kPoll = absl::Milliseconds(250);
constexpr int64_t kAnnouncePage = 256;

}  // namespace

absl::Status SqlStore::ReloadHeads(SqlConnection* conn) {
  if (sql_.select_heads != nullptr) {  // one round trip
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_heads));
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::InternalError("storage: the heads query returned no row");
    audit_sequence_ = stmt->IsNull(0) ? 0 : stmt->Int(0);
    audit_hash_ = stmt->IsNull(1) ? GenesisHash() : stmt->Text(1);
    event_sequence_ = stmt->Int(2);
    return absl::OkStatus();
  }
  REFX_ASSIGN_OR_RETURN(AuditHead head, rows::ReadAuditHead(conn, sql_));
  audit_sequence_ = head.sequence;
  audit_hash_ = head.hash;
  return ReloadEventSequence(conn);
}

absl::Status SqlStore::StartFollowing() {
  REFX_ASSIGN_OR_RETURN(auto conn, options_.connect(/*read_only=*/true));
  {
    absl::MutexLock lock(&announce_mu_);
    announce_conn_ = std::move(conn);
    announced_sequence_ = event_sequence_;
  }
  if (sql_.listen_events == nullptr) return absl::OkStatus();
  REFX_ASSIGN_OR_RETURN(auto listener, options_.connect(/*read_only=*/true));
  REFX_RETURN_IF_ERROR(listener->Listen(sql_.listen_events));
  follower_thread_ = std::thread([this, listener = std::move(listener)]() mutable {
    bool reported = false;
    while (!follower_stop_.load()) {
      absl::StatusOr<bool> notified = listener->WaitForNotification(kPoll);
      if (!notified.ok()) {
        if (!reported) log::Warning("storage_listen_failed", {{"code", absl::StatusCodeToString(notified.status().code())}});
        reported = true;
        absl::SleepFor(kPoll);  // the connection is reset on the next wait
      } else {
        reported = false;
      }
      AnnounceFromLog();
    }
  });
  return absl::OkStatus();
}

void SqlStore::StopFollowing() {
  follower_stop_.store(true);
  if (follower_thread_.joinable()) follower_thread_.join();
}

void SqlStore::AnnounceFromLog() {
  absl::MutexLock announce(&announce_mu_);
  if (announce_conn_ == nullptr) return;
  while (true) {
    std::vector<ReferralEvent> events;
    absl::Status read = [&]() -> absl::Status {
      REFX_ASSIGN_OR_RETURN(auto stmt, announce_conn_->Prepare(sql_.list_all_events));
      stmt->Bind(":after", announced_sequence_).Bind(":limit", kAnnouncePage);
      while (true) {
        REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) return absl::OkStatus();
        ReferralEvent e = rows::ReadEvent(*stmt);
        REFX_RETURN_IF_ERROR(OpenEvent(&e));
        e.audience = absl::StrSplit(stmt->Text(6), ',', absl::SkipEmpty());
        events.push_back(std::move(e));
      }
    }();
    if (!read.ok()) {
      // Watchers are behind until the next commit or poll reads again.
      log::Warning("storage_announce_failed", {{"code", absl::StatusCodeToString(read.code())}});
      return;
    }
    if (events.empty()) return;
    announced_sequence_ = events.back().sequence;
    {
      absl::MutexLock lock(&listener_mu_);
      if (listener_) listener_(events);
    }
    if (static_cast<int64_t>(events.size()) < kAnnouncePage) return;
  }
}

}  // namespace refx::storage
