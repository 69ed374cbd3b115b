// The statements that read the same in every dialect refx supports (SQLite
// and PostgreSQL): written once here and filled into each dialect's
// SqlDialect by WithPortableStatements, so a portable statement cannot drift
// between backends. A statement that needs a dialect's own syntax (upserts,
// JSON, casts the PostgreSQL planner needs) lives in that dialect's
// statements file, and only those are listed there.
#ifndef REFX_STORAGE_SQL_PORTABLE_STATEMENTS_H_
#define REFX_STORAGE_SQL_PORTABLE_STATEMENTS_H_

#include "storage/sql_driver.h"

namespace refx::storage::portable_sql {

inline constexpr char kSelectSchemaVersion[] =
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

inline constexpr char kRecordMigration[] =
    "INSERT INTO schema_migrations (version, name, applied_time_us) "
    "VALUES (:version, :name, :applied_time_us)";

inline constexpr char kSelectCreateRequest[] =
    "SELECT fingerprint, referral_id FROM create_requests "
    "WHERE sender_agency = :sender_agency AND request_id = :request_id";

inline constexpr char kInsertCreateRequest[] =
    "INSERT INTO create_requests (sender_agency, request_id, fingerprint, referral_id) "
    "VALUES (:sender_agency, :request_id, :fingerprint, :referral_id)";

inline constexpr char kInsertReferral[] =
    "INSERT INTO referrals (id, sender_agency, state, area, report_type, create_time_us, "
    "update_time_us, response_deadline_us, etag, document, recipients, strands) VALUES (:id, :sender_agency, "
    ":state, :area, :report_type, :create_time_us, :update_time_us, :response_deadline_us, :etag, :document, "
    ":recipients, :strands)";

// The referral with its recipients and strands (migration 19: sorted and
// comma-joined in its row), one row read.
inline constexpr char kSelectReferral[] =
    "SELECT r.id, r.sender_agency, r.state, r.area, r.report_type, r.create_time_us, r.update_time_us, "
    "r.etag, r.document, r.response_deadline_us, r.recipients, r.strands "
    "FROM referrals r WHERE r.id = :id AND r.state <> 0";

inline constexpr char kInsertParty[] =
    "INSERT INTO referral_parties (agency_id, referral_id, party_role, create_time_us) "
    "VALUES (:agency_id, :referral_id, :party_role, :create_time_us)";

inline constexpr char kInsertAudit[] =
    "INSERT INTO audit_events (sequence, time_us, action, method, agency_id, certificate_serial, "
    "acting_user_hmac, purpose, referral_ids, data_classes, outcome, agreement, previous_hash, hash, derived, "
    "reason, event_count, release) "
    "VALUES (:sequence, :time_us, :action, :method, :agency_id, :certificate_serial, :acting_user_hmac, "
    ":purpose, :referral_ids, :data_classes, :outcome, :agreement, :previous_hash, :hash, :derived, :reason, "
    ":event_count, :release)";

inline constexpr char kUpsertAuditHead[] =
    "INSERT INTO audit_head (id, sequence, hash, signature) VALUES (1, :sequence, :hash, :signature) "
    "ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash, "
    "signature = excluded.signature";

inline constexpr char kSelectAuditHash[] = "SELECT hash FROM audit_events WHERE sequence = :sequence";

inline constexpr char kSelectAuditHead[] = "SELECT sequence, hash, signature FROM audit_head WHERE id = 1";

inline constexpr char kSelectUpdateRequest[] =
    "SELECT fingerprint, referral_id, document FROM update_requests "
    "WHERE agency_id = :agency_id AND request_id = :request_id";

inline constexpr char kInsertUpdateRequest[] =
    "INSERT INTO update_requests (agency_id, request_id, fingerprint, referral_id, document) "
    "VALUES (:agency_id, :request_id, :fingerprint, :referral_id, :document)";

// A tombstone (state 0: a deleted referral, below) is not found.
inline constexpr char kSelectReferralEtag[] = "SELECT etag FROM referrals WHERE id = :id AND state <> 0";

inline constexpr char kUpdateReferral[] =
    "UPDATE referrals SET state = :state, update_time_us = :update_time_us, "
    "response_deadline_us = :response_deadline_us, etag = :etag, document = :document, recipients = :recipients "
    "WHERE id = :id";

inline constexpr char kInsertEvent[] =
    "INSERT INTO referral_events (sequence, time_us, kind, referral_id, referral_document, update_document) "
    "VALUES (:sequence, :time_us, :kind, :referral_id, :referral_document, :update_document)";

inline constexpr char kSelectLatestEvent[] = "SELECT COALESCE(MAX(sequence), 0) FROM referral_events";

inline constexpr char kNextCaseUpdateSequence[] =
    "SELECT COALESCE(MAX(sequence), 0) + 1 FROM case_updates WHERE referral_id = :referral_id";

inline constexpr char kInsertCaseUpdate[] =
    "INSERT INTO case_updates (referral_id, sequence, update_id, kind, author_agency, create_time_us, document) "
    "VALUES (:referral_id, :sequence, :update_id, :kind, :author_agency, :create_time_us, :document)";

inline constexpr char kSelectCaseUpdate[] =
    "SELECT referral_id, sequence, update_id, kind, author_agency, create_time_us, document FROM case_updates "
    "WHERE referral_id = :referral_id AND update_id = :update_id";

inline constexpr char kHealthCheck[] = "SELECT 1 FROM referrals LIMIT 1";

inline constexpr char kReferralsByVictimToken[] =
    "SELECT DISTINCT referral_id FROM victim_tokens WHERE token = :token ORDER BY referral_id";

inline constexpr char kInsertTensionAcknowledgement[] =
    "INSERT INTO tension_acknowledgements (alert, week, agency_id, request_id, note, time_us) "
    "VALUES (:alert, :week, :agency_id, :request_id, :note, :time_us)";

inline constexpr char kSelectTensionAcknowledgement[] =
    "SELECT alert, week, agency_id, request_id, note, time_us FROM tension_acknowledgements WHERE alert = :alert";

inline constexpr char kListTensionAcknowledgements[] =
    "SELECT alert, week, agency_id, request_id, note, time_us FROM tension_acknowledgements "
    "WHERE week >= :first_week AND week <= :last_week ORDER BY alert";

inline constexpr char kSelectDataKeys[] = "SELECT key_id, kek_id, wrapped FROM data_keys ORDER BY key_id";

inline constexpr char kInsertDataKey[] =
    "INSERT INTO data_keys (key_id, kek_id, wrapped, create_time_us) "
    "VALUES (:key_id, :kek_id, :wrapped, :create_time_us) ON CONFLICT DO NOTHING";

inline constexpr char kRewrapDataKey[] =
    "UPDATE data_keys SET kek_id = :kek_id, wrapped = :wrapped WHERE key_id = :key_id AND kek_id = :old_kek_id";

inline constexpr char kListEventDocumentsOfReferral[] =
    "SELECT sequence, referral_document, update_document FROM referral_events "
    "WHERE referral_id = :referral_id ORDER BY sequence";

inline constexpr char kUpdateEventDocuments[] =
    "UPDATE referral_events SET referral_document = :referral_document, update_document = :update_document "
    "WHERE sequence = :sequence";

inline constexpr char kListReplaysOfReferral[] =
    "SELECT agency_id, request_id, document FROM update_requests WHERE referral_id = :referral_id "
    "ORDER BY agency_id, request_id";

inline constexpr char kUpdateReplayDocument[] =
    "UPDATE update_requests SET document = :document WHERE agency_id = :agency_id AND request_id = :request_id";

inline constexpr char kUpdateCaseUpdateDocument[] =
    "UPDATE case_updates SET document = :document WHERE referral_id = :referral_id AND sequence = :sequence";

inline constexpr char kDeleteVictimTokensOfReferral[] = "DELETE FROM victim_tokens WHERE referral_id = :referral_id";

inline constexpr char kUpdateReferralDocument[] =
    "UPDATE referrals SET etag = :etag, document = :document, strands = :strands WHERE id = :id";

// A deleted referral's row stays, as a tombstone, because the event log's
// rows point at it (the sequence stays gapless): state 0 (which no referral
// has) marks it, so every read of a referral passes it by, and it keeps
// only its id, its creation time (the scans' key) and `document` (its name
// and erasures).
inline constexpr char kTombstoneReferral[] =
    "UPDATE referrals SET sender_agency = '', state = 0, area = '', report_type = 0, "
    "update_time_us = :update_time_us, response_deadline_us = NULL, etag = :etag, document = :document, "
    "recipients = '', strands = '' WHERE id = :id";

inline constexpr char kListEventSequencesOfReferral[] =
    "SELECT sequence FROM referral_events WHERE referral_id = :referral_id ORDER BY sequence";

inline constexpr char kDeletePartiesOfReferral[] = "DELETE FROM referral_parties WHERE referral_id = :referral_id";

inline constexpr char kDeleteCaseUpdatesOfReferral[] = "DELETE FROM case_updates WHERE referral_id = :referral_id";

inline constexpr char kDeleteCreateRequestsOfReferral[] =
    "DELETE FROM create_requests WHERE referral_id = :referral_id";

inline constexpr char kDeleteUpdateRequestsOfReferral[] =
    "DELETE FROM update_requests WHERE referral_id = :referral_id";

// Every audience is among the referral's parties (an agency that passed it
// on stays one), so the key (agency, sequence) finds each row: SQLite has
// no index of the audience by sequence alone.
inline constexpr char kDeleteEventAudienceOfReferral[] =
    "DELETE FROM referral_event_audience "
    "WHERE agency_id IN (SELECT agency_id FROM referral_parties WHERE referral_id = :referral_id) "
    "AND sequence IN (SELECT sequence FROM referral_events WHERE referral_id = :referral_id)";

// Read through the partial index of migration 18: only releases have a
// release text, and a period's are few. (No ORDER BY: SQLite's planner
// would then scan the whole log in sequence order; the caller sorts.)
inline constexpr char kListLedgerReleases[] =
    "SELECT sequence, agency_id, release FROM audit_events "
    "WHERE release <> '' AND outcome = 'OK' AND release LIKE CAST(:pattern AS TEXT)";

inline constexpr char kInsertLegalHold[] =
    "INSERT INTO legal_holds (referral_id, agency_id, reason, time_us) "
    "VALUES (:referral_id, :agency_id, :reason, :time_us)";

inline constexpr char kSelectLegalHold[] =
    "SELECT referral_id, agency_id, reason, time_us FROM legal_holds WHERE referral_id = :referral_id";

inline constexpr char kDeleteLegalHold[] = "DELETE FROM legal_holds WHERE referral_id = :referral_id";

inline constexpr char kListLegalHolds[] = "SELECT referral_id, agency_id, reason, time_us FROM legal_holds ORDER BY referral_id";

inline constexpr char kInsertSubjectRequest[] =
    "INSERT INTO subject_requests (id, agency_id, request_id, document, version, create_time_us, update_time_us) "
    "VALUES (:id, :agency_id, :request_id, :document, :version, :create_time_us, :update_time_us)";

inline constexpr char kSelectSubjectRequest[] =
    "SELECT id, agency_id, request_id, document, version, create_time_us, update_time_us FROM subject_requests "
    "WHERE id = :id";

inline constexpr char kSelectSubjectRequestByRequestId[] =
    "SELECT id, agency_id, request_id, document, version, create_time_us, update_time_us FROM subject_requests "
    "WHERE agency_id = :agency_id AND request_id = :request_id";

inline constexpr char kUpdateSubjectRequest[] =
    "UPDATE subject_requests SET document = :document, version = :version, update_time_us = :update_time_us "
    "WHERE id = :id AND version = :expected_version";

// Row-value comparison: one seek of subject_requests_in_order in both
// dialects; the casts give PostgreSQL the parameters' types.
inline constexpr char kListSubjectRequests[] =
    "SELECT id, agency_id, request_id, document, version, create_time_us, update_time_us FROM subject_requests "
    "WHERE (create_time_us, id) > (CAST(:after_time_us AS BIGINT), CAST(:after_id AS TEXT)) "
    "ORDER BY create_time_us, id LIMIT CAST(:limit AS BIGINT)";

// Re-encryption pages: row-value comparisons seek the primary key in both
// dialects; the casts give PostgreSQL the parameters' types.
inline constexpr char kPageReferralDocuments[] =
    "SELECT id, document FROM referrals WHERE id > CAST(:after_id AS TEXT) ORDER BY id "
    "LIMIT CAST(:limit AS BIGINT)";

inline constexpr char kPageEventDocuments[] =
    "SELECT sequence, referral_id, referral_document, update_document FROM referral_events "
    "WHERE sequence > CAST(:after_sequence AS BIGINT) ORDER BY sequence LIMIT CAST(:limit AS BIGINT)";

inline constexpr char kPageReplayDocuments[] =
    "SELECT agency_id, request_id, referral_id, document FROM update_requests "
    "WHERE (agency_id, request_id) > (CAST(:after_agency AS TEXT), CAST(:after_request AS TEXT)) "
    "ORDER BY agency_id, request_id LIMIT CAST(:limit AS BIGINT)";

inline constexpr char kPageCaseUpdateDocuments[] =
    "SELECT referral_id, sequence, document FROM case_updates "
    "WHERE (referral_id, sequence) > (CAST(:after_referral AS TEXT), CAST(:after_sequence AS BIGINT)) "
    "ORDER BY referral_id, sequence LIMIT CAST(:limit AS BIGINT)";

inline constexpr char kInsertSubjectNotification[] =
    "INSERT INTO subject_notifications (referral_id, sequence, agency_id, request_id, create_time_us, document) "
    "VALUES (:referral_id, :sequence, :agency_id, :request_id, :create_time_us, :document)";
inline constexpr char kSelectSubjectNotificationByRequestId[] =
    "SELECT referral_id, sequence, agency_id, request_id, create_time_us, document FROM subject_notifications "
    "WHERE referral_id = :referral_id AND request_id = :request_id";
inline constexpr char kCountSubjectNotifications[] =
    "SELECT count(*), COALESCE(MAX(sequence), 0) + 1 FROM subject_notifications WHERE referral_id = :referral_id";
inline constexpr char kListSubjectNotifications[] =
    "SELECT referral_id, sequence, agency_id, request_id, create_time_us, document FROM subject_notifications "
    "WHERE referral_id = :referral_id ORDER BY sequence";
inline constexpr char kDeleteSubjectNotificationsOfReferral[] =
    "DELETE FROM subject_notifications WHERE referral_id = :referral_id";
inline constexpr char kPageSubjectNotificationDocuments[] =
    "SELECT referral_id, sequence, document FROM subject_notifications "
    "WHERE (referral_id, sequence) > (CAST(:after_referral AS TEXT), CAST(:after_sequence AS BIGINT)) "
    "ORDER BY referral_id, sequence LIMIT CAST(:limit AS BIGINT)";
inline constexpr char kUpdateSubjectNotificationDocument[] =
    "UPDATE subject_notifications SET document = :document WHERE referral_id = :referral_id AND sequence = :sequence";

inline constexpr char kUpdateReferralSealedDocument[] = "UPDATE referrals SET document = :document WHERE id = :id";

// `dialect` with every statement above filled in, so a dialect's own
// SqlDialect lists only the statements it spells its own way.
inline SqlDialect WithPortableStatements(SqlDialect dialect) {
  dialect.select_schema_version = kSelectSchemaVersion;
  dialect.record_migration = kRecordMigration;
  dialect.health_check = kHealthCheck;
  dialect.insert_referral = kInsertReferral;
  dialect.select_referral = kSelectReferral;
  dialect.insert_party = kInsertParty;
  dialect.select_referral_etag = kSelectReferralEtag;
  dialect.update_referral = kUpdateReferral;
  dialect.select_create_request = kSelectCreateRequest;
  dialect.insert_create_request = kInsertCreateRequest;
  dialect.select_update_request = kSelectUpdateRequest;
  dialect.insert_update_request = kInsertUpdateRequest;
  dialect.insert_audit = kInsertAudit;
  dialect.upsert_audit_head = kUpsertAuditHead;
  dialect.select_audit_head = kSelectAuditHead;
  dialect.select_audit_hash = kSelectAuditHash;
  dialect.insert_event = kInsertEvent;
  dialect.select_latest_event = kSelectLatestEvent;
  dialect.next_case_update_sequence = kNextCaseUpdateSequence;
  dialect.insert_case_update = kInsertCaseUpdate;
  dialect.select_case_update = kSelectCaseUpdate;
  dialect.referrals_by_victim_token = kReferralsByVictimToken;
  dialect.insert_tension_acknowledgement = kInsertTensionAcknowledgement;
  dialect.select_tension_acknowledgement = kSelectTensionAcknowledgement;
  dialect.list_tension_acknowledgements = kListTensionAcknowledgements;
  dialect.select_data_keys = kSelectDataKeys;
  dialect.insert_data_key = kInsertDataKey;
  dialect.rewrap_data_key = kRewrapDataKey;
  dialect.list_event_documents_of_referral = kListEventDocumentsOfReferral;
  dialect.update_event_documents = kUpdateEventDocuments;
  dialect.list_replays_of_referral = kListReplaysOfReferral;
  dialect.update_replay_document = kUpdateReplayDocument;
  dialect.update_case_update_document = kUpdateCaseUpdateDocument;
  dialect.delete_victim_tokens_of_referral = kDeleteVictimTokensOfReferral;
  dialect.update_referral_document = kUpdateReferralDocument;
  dialect.list_ledger_releases = kListLedgerReleases;
  dialect.tombstone_referral = kTombstoneReferral;
  dialect.list_event_sequences_of_referral = kListEventSequencesOfReferral;
  dialect.delete_parties_of_referral = kDeletePartiesOfReferral;
  dialect.delete_case_updates_of_referral = kDeleteCaseUpdatesOfReferral;
  dialect.delete_create_requests_of_referral = kDeleteCreateRequestsOfReferral;
  dialect.delete_update_requests_of_referral = kDeleteUpdateRequestsOfReferral;
  dialect.delete_event_audience_of_referral = kDeleteEventAudienceOfReferral;
  dialect.page_referral_documents = kPageReferralDocuments;
  dialect.page_event_documents = kPageEventDocuments;
  dialect.page_replay_documents = kPageReplayDocuments;
  dialect.page_case_update_documents = kPageCaseUpdateDocuments;
  dialect.update_referral_sealed_document = kUpdateReferralSealedDocument;
  dialect.insert_legal_hold = kInsertLegalHold;
  dialect.select_legal_hold = kSelectLegalHold;
  dialect.delete_legal_hold = kDeleteLegalHold;
  dialect.list_legal_holds = kListLegalHolds;
  dialect.insert_subject_request = kInsertSubjectRequest;
  dialect.select_subject_request = kSelectSubjectRequest;
  dialect.select_subject_request_by_request_id = kSelectSubjectRequestByRequestId;
  dialect.update_subject_request = kUpdateSubjectRequest;
  dialect.list_subject_requests = kListSubjectRequests;
  dialect.insert_subject_notification = kInsertSubjectNotification;
  dialect.select_subject_notification_by_request_id = kSelectSubjectNotificationByRequestId;
  dialect.count_subject_notifications = kCountSubjectNotifications;
  dialect.list_subject_notifications = kListSubjectNotifications;
  dialect.delete_subject_notifications_of_referral = kDeleteSubjectNotificationsOfReferral;
  dialect.page_subject_notification_documents = kPageSubjectNotificationDocuments;
  dialect.update_subject_notification_document = kUpdateSubjectNotificationDocument;
  return dialect;
}

}  // namespace refx::storage::portable_sql

#endif  // REFX_STORAGE_SQL_PORTABLE_STATEMENTS_H_
