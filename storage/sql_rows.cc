#include "storage/sql_rows.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_text.h"
#include "common/status_macros.h"

namespace refx::storage::rows {

std::string JsonArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i > 0 ? "," : "", JsonQuote(values[i]));
  return out + "]";
}

std::string JsonArray(const std::vector<int32_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i > 0 ? "," : "", values[i]);
  return out + "]";
}

absl::StatusOr<std::string> JoinedIds(std::vector<std::string> ids) {
  for (const std::string& id : ids) {
    if (id.empty() || id.find(',') != std::string::npos) {
      return absl::InternalError("a recipient or strand id is empty or holds a comma");
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return absl::StrJoin(ids, ",");
}

StoredReferral ReadReferral(const SqlStatement& row) {
  StoredReferral r;
  r.id = row.Text(0);
  r.sender_agency = row.Text(1);
  r.state = static_cast<int32_t>(row.Int(2));
  r.area = row.Text(3);
  r.report_type = static_cast<int32_t>(row.Int(4));
  r.create_time = absl::FromUnixMicros(row.Int(5));
  r.update_time = absl::FromUnixMicros(row.Int(6));
  r.etag = row.Text(7);
  r.document = row.Text(8);
  if (!row.IsNull(9)) r.response_deadline = absl::FromUnixMicros(row.Int(9));
  // Stored sorted (JoinedIds), as the contract lists them.
  r.recipient_agencies = absl::StrSplit(row.Text(10), ',', absl::SkipEmpty());
  r.strands = absl::StrSplit(row.Text(11), ',', absl::SkipEmpty());
  return r;
}

absl::StatusOr<absl::optional<StoredReferral>> SelectReferral(SqlConnection* conn, const SqlDialect& sql,
                                                              absl::string_view id) {
  StoredReferral r;
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.select_referral));
    stmt->Bind(":id", id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::optional<StoredReferral>();
    r = ReadReferral(*stmt);
  }
  return absl::optional<StoredReferral>(std::move(r));
}

absl::optional<int64_t> DeadlineMicros(const StoredReferral& r) {
  if (!r.response_deadline.has_value()) return absl::nullopt;
  return absl::ToUnixMicros(*r.response_deadline);
}

AuditRecord ReadAudit(const SqlStatement& row) {
  AuditRecord r;
  r.sequence = row.Int(0);
  r.time = absl::FromUnixMicros(row.Int(1));
  r.action = row.Text(2);
  r.method = row.Text(3);
  r.agency_id = row.Text(4);
  r.certificate_serial = row.Text(5);
  r.acting_user_hmac = row.Text(6);
  r.purpose = row.Text(7);
  r.referral_ids = row.Text(8);
  r.data_classes = row.Text(9);
  r.outcome = row.Text(10);
  r.agreement = row.Text(11);
  r.previous_hash = row.Text(12);
  r.hash = row.Text(13);
  r.derived = row.Text(14);
  r.reason = row.Text(15);
  r.count = row.Int(16);
  r.release = row.Text(17);
  return r;
}

absl::StatusOr<absl::optional<AuditHead>> ReadAuditHeadRow(SqlConnection* conn, const SqlDialect& sql) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.select_audit_head));
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::optional<AuditHead>();
  AuditHead head;
  head.sequence = stmt->Int(0);
  head.hash = stmt->Text(1);
  if (!stmt->IsNull(2)) head.signature = stmt->Text(2);
  return absl::optional<AuditHead>(std::move(head));
}

absl::StatusOr<AuditHead> ReadAuditHead(SqlConnection* conn, const SqlDialect& sql) {
  REFX_ASSIGN_OR_RETURN(auto row, ReadAuditHeadRow(conn, sql));
  if (row.has_value()) return *std::move(row);
  AuditHead genesis;
  genesis.hash = GenesisHash();
  return genesis;
}

StoredCaseUpdate ReadCaseUpdate(const SqlStatement& row) {
  StoredCaseUpdate u;
  u.referral_id = row.Text(0);
  u.sequence = row.Int(1);
  u.update_id = row.Text(2);
  u.kind = static_cast<int32_t>(row.Int(3));
  u.author_agency = row.Text(4);
  u.create_time = absl::FromUnixMicros(row.Int(5));
  u.document = row.Text(6);
  return u;
}

StoredSubjectNotification ReadSubjectNotification(const SqlStatement& row) {
  StoredSubjectNotification n;
  n.referral_id = row.Text(0);
  n.sequence = row.Int(1);
  n.agency_id = row.Text(2);
  n.request_id = row.Text(3);
  n.create_time = absl::FromUnixMicros(row.Int(4));
  n.document = row.Text(5);
  return n;
}

TensionAcknowledgement ReadTensionAcknowledgement(const SqlStatement& row) {
  TensionAcknowledgement a;
  a.alert = row.Text(0);
  a.week = row.Text(1);
  a.agency_id = row.Text(2);
  a.request_id = row.Text(3);
  a.note = row.Text(4);
  a.time = absl::FromUnixMicros(row.Int(5));
  return a;
}

StoredSubjectRequest ReadSubjectRequest(const SqlStatement& row) {
  StoredSubjectRequest r;
  r.id = row.Text(0);
  r.agency_id = row.Text(1);
  r.request_id = row.Text(2);
  r.document = row.Text(3);
  r.version = row.Int(4);
  r.create_time = absl::FromUnixMicros(row.Int(5));
  r.update_time = absl::FromUnixMicros(row.Int(6));
  return r;
}

ReferralEvent ReadEvent(const SqlStatement& row) {
  ReferralEvent e;
  e.sequence = row.Int(0);
  e.time = absl::FromUnixMicros(row.Int(1));
  e.kind = static_cast<int32_t>(row.Int(2));
  e.referral_id = row.Text(3);
  e.referral_document = row.Text(4);
  e.update_document = row.Text(5);
  return e;
}

}  // namespace refx::storage::rows
