// SqlStore's reads, each on a connection of the read pool (never waiting for
// the writer), and the audit chain's verification.
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {

template <typename T>
absl::StatusOr<T> SqlStore::WithReader(const std::function<absl::StatusOr<T>(SqlConnection*)>& read) {
  std::unique_ptr<SqlConnection> conn;
  {
    absl::MutexLock lock(&readers_mu_);
    readers_mu_.Await(absl::Condition(
        +[](std::vector<std::unique_ptr<SqlConnection>>* v) { return !v->empty(); }, &readers_));
    conn = std::move(readers_.back());
    readers_.pop_back();
  }
  absl::StatusOr<T> result = read(conn.get());
  // The driver reopens a pooled connection the database closed while it sat
  // idle before sending anything on it; one cut between that check and the
  // read's statement (or mid-read) fails it, and a read is safe to run again.
  if (!result.ok() && absl::IsUnavailable(result.status()) && sql_.retry_failed_commits) result = read(conn.get());
  absl::MutexLock lock(&readers_mu_);
  readers_.push_back(std::move(conn));
  return result;
}

absl::StatusOr<StoredReferral> SqlStore::GetReferral(absl::string_view id) {
  auto found = WithReader<absl::optional<StoredReferral>>(
      [&](SqlConnection* conn) { return rows::SelectReferral(conn, sql_, id); });
  if (!found.ok()) return found.status();
  if (!found->has_value()) return absl::NotFoundError("referral not found");
  REFX_RETURN_IF_ERROR(OpenReferral(&**found));
  return std::move(**found);
}

absl::StatusOr<std::vector<StoredReferral>> SqlStore::ListReferrals(const ListReferralsQuery& query) {
  return WithReader<std::vector<StoredReferral>>([&](SqlConnection* conn) -> absl::StatusOr<std::vector<StoredReferral>> {
    std::vector<StoredReferral> out;
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_referrals));
      stmt->Bind(":agency_id", query.party_agency)
          .Bind(":cursor_time_us",
                query.after ? absl::ToUnixMicros(query.after->create_time) : std::numeric_limits<int64_t>::max())
          .Bind(":cursor_id", query.after ? query.after->id : std::string())
          .Bind(":has_from", int64_t{query.created_from.has_value()})
          .Bind(":from_us", query.created_from ? absl::ToUnixMicros(*query.created_from) : 0)
          .Bind(":has_to", int64_t{query.created_to.has_value()})
          .Bind(":to_us", query.created_to ? absl::ToUnixMicros(*query.created_to) : 0)
          .Bind(":has_deadline_before", int64_t{query.deadline_before.has_value()})
          .Bind(":deadline_before_us", query.deadline_before ? absl::ToUnixMicros(*query.deadline_before) : 0)
          .Bind(":must_respond", int64_t{query.party_must_respond})
          .Bind(":states", rows::JsonArray(query.states))
          .Bind(":areas", rows::JsonArray(query.areas))
          .Bind(":report_types", rows::JsonArray(query.report_types))
          .Bind(":strands", rows::JsonArray(query.strands))
          .Bind(":limit", int64_t{query.limit});
      while (true) {
        REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        out.push_back(rows::ReadReferral(*stmt));
        REFX_RETURN_IF_ERROR(OpenReferral(&out.back()));
      }
    }
    return out;
  });
}

absl::StatusOr<std::vector<StoredReferral>> SqlStore::ScanReferrals(const ScanReferralsQuery& query) {
  return WithReader<std::vector<StoredReferral>>([&](SqlConnection* conn) -> absl::StatusOr<std::vector<StoredReferral>> {
    std::vector<StoredReferral> out;
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.scan_referrals));
    stmt->Bind(":from_us", absl::ToUnixMicros(query.created_from))
        .Bind(":to_us", absl::ToUnixMicros(query.created_to))
        .Bind(":cursor_time_us",
              query.after ? absl::ToUnixMicros(query.after->create_time) : std::numeric_limits<int64_t>::min())
        .Bind(":cursor_id", query.after ? query.after->id : std::string())
        .Bind(":agency_id", query.party_agency)
        .Bind(":limit", int64_t{query.limit});
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      out.push_back(rows::ReadReferral(*stmt));
      REFX_RETURN_IF_ERROR(OpenReferral(&out.back()));
    }
    return out;
  });
}

absl::StatusOr<std::vector<ReferralEvent>> SqlStore::ScanEvents(const ScanEventsQuery& query) {
  return WithReader<std::vector<ReferralEvent>>([&](SqlConnection* conn) -> absl::StatusOr<std::vector<ReferralEvent>> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.scan_events));
    stmt->Bind(":from_us", absl::ToUnixMicros(query.from))
        .Bind(":to_us", absl::ToUnixMicros(query.to))
        .Bind(":kind", int64_t{query.kind})
        .Bind(":after", query.after_sequence)
        .Bind(":limit", int64_t{query.limit});
    std::vector<ReferralEvent> out;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      out.push_back(rows::ReadEvent(*stmt));
      REFX_RETURN_IF_ERROR(OpenEvent(&out.back()));
    }
    return out;
  });
}

absl::Status SqlStore::CheckHealth() {
  return WithReader<bool>([&](SqlConnection* conn) -> absl::StatusOr<bool> {
           {
             REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.health_check));
             REFX_RETURN_IF_ERROR(stmt->Step().status());
           }
           // A data key another replica made since: sealed with from now
           // on, so a re-encryption soon finds no value under the old key.
           REFX_RETURN_IF_ERROR(RefreshDataKeys(conn));
           return true;
         })
      .status();
}

absl::StatusOr<std::map<std::string, int64_t>> SqlStore::CountOverdueByRecipient(
    absl::Time now, const std::vector<int32_t>& awaiting_states) {
  using Counts = std::map<std::string, int64_t>;
  return WithReader<Counts>([&](SqlConnection* conn) -> absl::StatusOr<Counts> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.count_overdue_by_recipient));
    stmt->Bind(":states", rows::JsonArray(awaiting_states)).Bind(":now_us", absl::ToUnixMicros(now));
    Counts counts;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return counts;
      counts[stmt->Text(0)] = stmt->Int(1);
    }
  });
}

absl::StatusOr<absl::optional<UpdateReplay>> SqlStore::FindUpdate(absl::string_view agency_id,
                                                                  absl::string_view request_id) {
  return WithReader<absl::optional<UpdateReplay>>(
      [&](SqlConnection* conn) -> absl::StatusOr<absl::optional<UpdateReplay>> {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_update_request));
        stmt->Bind(":agency_id", agency_id).Bind(":request_id", request_id);
        REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) return absl::optional<UpdateReplay>();
        UpdateReplay replay{stmt->Text(0), stmt->Text(1), stmt->Text(2)};
        REFX_RETURN_IF_ERROR(OpenValue(sealed_column::kReplay, SealedRow(replay.referral_id, agency_id, request_id),
                                       &replay.document));
        return absl::optional<UpdateReplay>(std::move(replay));
      });
}

absl::StatusOr<std::vector<StoredCaseUpdate>> SqlStore::ListCaseUpdates(absl::string_view referral_id,
                                                                        int64_t after_sequence, int limit) {
  return WithReader<std::vector<StoredCaseUpdate>>(
      [&](SqlConnection* conn) -> absl::StatusOr<std::vector<StoredCaseUpdate>> {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_case_updates));
        stmt->Bind(":referral_id", referral_id).Bind(":after", after_sequence).Bind(":limit", int64_t{limit});
        std::vector<StoredCaseUpdate> out;
        while (true) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          out.push_back(rows::ReadCaseUpdate(*stmt));
          REFX_RETURN_IF_ERROR(OpenCaseUpdate(&out.back()));
        }
        return out;
      });
}

absl::StatusOr<StoredCaseUpdate> SqlStore::GetCaseUpdate(absl::string_view referral_id, absl::string_view update_id) {
  return WithReader<StoredCaseUpdate>([&](SqlConnection* conn) -> absl::StatusOr<StoredCaseUpdate> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_case_update));
    stmt->Bind(":referral_id", referral_id).Bind(":update_id", update_id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError("case update not found");
    StoredCaseUpdate update = rows::ReadCaseUpdate(*stmt);
    REFX_RETURN_IF_ERROR(OpenCaseUpdate(&update));
    return update;
  });
}

absl::StatusOr<std::vector<ReferralEvent>> SqlStore::ListEvents(const EventQuery& query) {
  return WithReader<std::vector<ReferralEvent>>([&](SqlConnection* conn) -> absl::StatusOr<std::vector<ReferralEvent>> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_events));
    stmt->Bind(":agency_id", query.agency_id).Bind(":after", query.after_sequence).Bind(":limit", int64_t{query.limit});
    std::vector<ReferralEvent> out;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      ReferralEvent e = rows::ReadEvent(*stmt);
      REFX_RETURN_IF_ERROR(OpenEvent(&e));
      e.audience = {query.agency_id};
      out.push_back(std::move(e));
    }
    return out;
  });
}

absl::StatusOr<bool> SqlStore::HasVictimTokens() {
  return WithReader<bool>([&](SqlConnection* conn) -> absl::StatusOr<bool> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.any_victim_token));
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    return row && stmt->Int(0) != 0;
  });
}

absl::StatusOr<std::vector<TensionAcknowledgement>> SqlStore::ListTensionAcknowledgements(
    absl::string_view first_week, absl::string_view last_week) {
  return WithReader<std::vector<TensionAcknowledgement>>(
      [&](SqlConnection* conn) -> absl::StatusOr<std::vector<TensionAcknowledgement>> {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_tension_acknowledgements));
        stmt->Bind(":first_week", first_week).Bind(":last_week", last_week);
        std::vector<TensionAcknowledgement> out;
        for (;;) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          out.push_back(rows::ReadTensionAcknowledgement(*stmt));
        }
        return out;
      });
}

absl::StatusOr<std::vector<std::string>> SqlStore::FindReferralsByVictimToken(absl::string_view token) {
  return WithReader<std::vector<std::string>>(
      [&](SqlConnection* conn) -> absl::StatusOr<std::vector<std::string>> {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.referrals_by_victim_token));
        stmt->Bind(":token", token);
        std::vector<std::string> ids;
        for (;;) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) return ids;
          ids.push_back(stmt->Text(0));
        }
      });
}

absl::StatusOr<AuditHead> SqlStore::AuditChainHead() {
  return WithReader<AuditHead>([&](SqlConnection* conn) { return rows::ReadAuditHead(conn, sql_); });
}

absl::StatusOr<int64_t> SqlStore::LatestEventSequence() {
  return WithReader<int64_t>([&](SqlConnection* conn) -> absl::StatusOr<int64_t> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_latest_event));
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    return row ? stmt->Int(0) : int64_t{0};
  });
}

absl::StatusOr<std::vector<AuditRecord>> SqlStore::ListAuditEvents(const AuditQuery& query) {
  return WithReader<std::vector<AuditRecord>>([&](SqlConnection* conn) -> absl::StatusOr<std::vector<AuditRecord>> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_audit));
    stmt->Bind(":after", query.after_sequence)
        .Bind(":agency_id", query.agency_id)
        .Bind(":action", query.action)
        .Bind(":referral_id", query.referral_id)
        .Bind(":has_from", int64_t{query.from.has_value()})
        .Bind(":from_us", query.from ? absl::ToUnixMicros(*query.from) : 0)
        .Bind(":has_to", int64_t{query.to.has_value()})
        .Bind(":to_us", query.to ? absl::ToUnixMicros(*query.to) : 0)
        .Bind(":limit", int64_t{query.limit});
    std::vector<AuditRecord> out;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      out.push_back(rows::ReadAudit(*stmt));
    }
    return out;
  });
}

absl::StatusOr<AuditChainReport> SqlStore::VerifyAuditChain(const AuditHead* checkpoint) {
  absl::optional<VerifyingKey> key;
  if (options_.audit_head_key.has_value()) key = options_.audit_head_key->Public();
  return WithReader<AuditChainReport>([&](SqlConnection* conn) {
    return VerifyAuditChainOn(conn, sql_, key.has_value() ? &*key : nullptr, checkpoint);
  });
}

absl::StatusOr<AuditChainReport> VerifyAuditChainWithin(SqlConnection* conn, const SqlDialect& sql,
                                                        const VerifyingKey* key, const AuditHead* checkpoint) {
  auto run = [&]() -> absl::StatusOr<AuditChainReport> {
    AuditChainReport report;
    std::string previous = GenesisHash();
    int64_t expected = 1;
    auto fail = [&](int64_t sequence, std::string problem) {
      report.intact = false;
      report.first_bad_sequence = sequence;
      report.problem = std::move(problem);
    };
    if (checkpoint != nullptr && key != nullptr &&
        !key->Verify(AuditHeadMessage(checkpoint->sequence, checkpoint->hash), checkpoint->signature)) {
      fail(checkpoint->sequence, "the checkpoint is not signed by this audit signing key (forged, or another key)");
      return report;
    }
    int64_t after = 0;
    while (report.intact) {
      std::vector<AuditRecord> events;
      {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.list_audit));
        stmt->Bind(":after", after).Bind(":agency_id", "").Bind(":action", "").Bind(":referral_id", "")
            .Bind(":has_from", int64_t{0}).Bind(":from_us", int64_t{0}).Bind(":has_to", int64_t{0})
            .Bind(":to_us", int64_t{0}).Bind(":limit", int64_t{1000});
        while (true) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          events.push_back(rows::ReadAudit(*stmt));
        }
      }
      if (events.empty()) break;
      for (const AuditRecord& e : events) {
        if (e.sequence != expected) {
          fail(expected, absl::StrCat("event ", expected, " is missing (next is ", e.sequence, ")"));
          break;
        }
        if (e.previous_hash != previous) {
          fail(e.sequence, "does not link to the event before it (deleted, inserted or reordered)");
          break;
        }
        if (AuditHash(e, previous) != e.hash) {
          fail(e.sequence, "its contents do not match its hash (altered)");
          break;
        }
        if (checkpoint != nullptr && e.sequence == checkpoint->sequence && e.hash != checkpoint->hash) {
          fail(e.sequence, "differs from the checkpoint (the log was rewritten from here on)");
          break;
        }
        previous = e.hash;
        ++expected;
        ++report.events_checked;
      }
      after = events.back().sequence;
    }
    REFX_ASSIGN_OR_RETURN(auto head_row, rows::ReadAuditHeadRow(conn, sql));
    report.head = head_row.has_value() ? *head_row : AuditHead{0, GenesisHash(), ""};
    if (report.intact && (report.head.sequence != report.events_checked || report.head.hash != previous)) {
      fail(report.events_checked + 1,
           absl::StrCat("the chain ends at event ", report.events_checked, " but its recorded head is event ",
                        report.head.sequence, " (events removed from the end, or the head altered)"));
    }
    if (key != nullptr) {
      // Every head is signed, the empty log's (sequence 0) too: a log wiped
      // whole, head and all, is not an empty log.
      report.head_signature_verified =
          head_row.has_value() &&
          key->Verify(AuditHeadMessage(report.head.sequence, report.head.hash), report.head.signature);
      if (report.intact && !report.head_signature_verified) {
        fail(report.head.sequence,
             !head_row.has_value()           ? "no signed head is recorded (deleted with the log, or never signed)"
             : report.head.signature.empty() ? "the recorded head is not signed (written without the audit signing key)"
                                             : "the recorded head's signature does not verify with the audit signing "
                                               "key (the head was rewritten, e.g. over a cut tail, or this is "
                                               "another server's key)");
      }
    }
    if (report.intact && checkpoint != nullptr && report.events_checked < checkpoint->sequence) {
      report.missing_events = checkpoint->sequence - report.events_checked;
      fail(report.events_checked + 1,
           absl::StrCat("the log ends at event ", report.events_checked, " but the checkpoint records event ",
                        checkpoint->sequence, ": ", report.missing_events,
                        " events are missing (the log was truncated, or an older copy of the database restored)"));
    }
    return report;
  };
  return run();
}

absl::StatusOr<AuditChainReport> VerifyAuditChainOn(SqlConnection* conn, const SqlDialect& sql,
                                                    const VerifyingKey* key, const AuditHead* checkpoint) {
  // One snapshot: every page and the head as of one moment.
  REFX_RETURN_IF_ERROR(conn->BeginRead());
  auto result = VerifyAuditChainWithin(conn, sql, key, checkpoint);
  conn->Commit().IgnoreError();
  return result;
}

absl::StatusOr<std::vector<StoredSubjectNotification>> SqlStore::ListSubjectNotifications(
    absl::string_view referral_id) {
  return WithReader<std::vector<StoredSubjectNotification>>(
      [&](SqlConnection* conn) -> absl::StatusOr<std::vector<StoredSubjectNotification>> {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_subject_notifications));
        stmt->Bind(":referral_id", referral_id);
        std::vector<StoredSubjectNotification> out;
        while (true) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          out.push_back(rows::ReadSubjectNotification(*stmt));
          StoredSubjectNotification& n = out.back();
          REFX_RETURN_IF_ERROR(
              OpenValue(sealed_column::kSubjectNotification, SealedRow(n.referral_id, n.sequence), &n.document));
        }
        return out;
      });
}

absl::StatusOr<std::vector<LegalHold>> SqlStore::ListLegalHolds() {
  return WithReader<std::vector<LegalHold>>([&](SqlConnection* conn) -> absl::StatusOr<std::vector<LegalHold>> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_legal_holds));
    std::vector<LegalHold> out;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      out.push_back({stmt->Text(0), stmt->Text(1), stmt->Text(2), absl::FromUnixMicros(stmt->Int(3))});
    }
    return out;
  });
}

absl::StatusOr<absl::optional<StoredSubjectRequest>> SqlStore::GetSubjectRequest(absl::string_view id) {
  using Result = absl::optional<StoredSubjectRequest>;
  return WithReader<Result>([&](SqlConnection* conn) -> absl::StatusOr<Result> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_subject_request));
    stmt->Bind(":id", id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return Result();
    return Result(rows::ReadSubjectRequest(*stmt));
  });
}

absl::StatusOr<std::vector<StoredSubjectRequest>> SqlStore::ListSubjectRequests(absl::Time after_time,
                                                                                absl::string_view after_id,
                                                                                int limit) {
  using Result = std::vector<StoredSubjectRequest>;
  return WithReader<Result>([&](SqlConnection* conn) -> absl::StatusOr<Result> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_subject_requests));
    // Before every stored time: the unix epoch less one microsecond.
    const int64_t after_us = after_id.empty() ? int64_t{-1} : absl::ToUnixMicros(after_time);
    stmt->Bind(":after_time_us", after_us).Bind(":after_id", after_id).Bind(":limit", int64_t{limit});
    Result out;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      out.push_back(rows::ReadSubjectRequest(*stmt));
    }
    return out;
  });
}

}  // namespace refx::storage
