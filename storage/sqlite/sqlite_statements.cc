#include "storage/sqlite/sqlite_statements.h"

#include "storage/sql_portable_statements.h"

namespace refx::storage::sqlite {

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "referrals", R"sql(
CREATE TABLE referrals (
  id              TEXT    NOT NULL PRIMARY KEY,
  sender_agency   TEXT    NOT NULL,
  state           INTEGER NOT NULL,
  area            TEXT    NOT NULL,
  report_type     INTEGER NOT NULL,
  create_time_us  INTEGER NOT NULL,
  update_time_us  INTEGER NOT NULL,
  etag            TEXT    NOT NULL,
  document        BLOB    NOT NULL
) STRICT;

-- One row per agency that may see a referral (sender and each recipient):
-- the record gate and the per-agency listing order in one index.
CREATE TABLE referral_parties (
  agency_id       TEXT    NOT NULL,
  referral_id     TEXT    NOT NULL REFERENCES referrals(id),
  party_role      TEXT    NOT NULL CHECK (party_role IN ('sender', 'recipient')),
  create_time_us  INTEGER NOT NULL,
  PRIMARY KEY (agency_id, referral_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX referral_parties_by_time
  ON referral_parties (agency_id, create_time_us DESC, referral_id DESC);

CREATE TABLE referral_strands (
  referral_id     TEXT    NOT NULL REFERENCES referrals(id),
  strand          TEXT    NOT NULL,
  PRIMARY KEY (referral_id, strand)
) STRICT, WITHOUT ROWID;

-- Idempotency keys of CreateReferral, per sending agency.
CREATE TABLE create_requests (
  sender_agency   TEXT    NOT NULL,
  request_id      TEXT    NOT NULL,
  fingerprint     BLOB    NOT NULL,
  referral_id     TEXT    NOT NULL REFERENCES referrals(id),
  PRIMARY KEY (sender_agency, request_id)
) STRICT, WITHOUT ROWID;
)sql"},
      {2, "audit_log", R"sql(
-- The tamper-evident audit log: one row per call, chained by SHA-256.
CREATE TABLE audit_events (
  sequence            INTEGER NOT NULL PRIMARY KEY,
  time_us             INTEGER NOT NULL,
  action              TEXT    NOT NULL,
  method              TEXT    NOT NULL,
  agency_id           TEXT    NOT NULL,
  certificate_serial  TEXT    NOT NULL,
  acting_user_hmac    TEXT    NOT NULL,
  purpose             TEXT    NOT NULL,
  referral_ids        TEXT    NOT NULL,
  data_classes        TEXT    NOT NULL,
  outcome             TEXT    NOT NULL,
  agreement           TEXT    NOT NULL,
  previous_hash       BLOB    NOT NULL,
  hash                BLOB    NOT NULL
) STRICT;
CREATE INDEX audit_events_by_agency ON audit_events (agency_id, sequence);

-- The chain's head, updated in the same transaction as every append: a
-- deleted tail no longer matches it.
CREATE TABLE audit_head (
  id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
  sequence  INTEGER NOT NULL,
  hash      BLOB    NOT NULL
) STRICT;
)sql"},
      {3, "parties_by_referral", R"sql(
-- Recipients are read by referral on every Get and every listed row:
-- without this the lookup scanned every party row (found by refx-bench).
CREATE INDEX referral_parties_by_referral ON referral_parties (referral_id, party_role, agency_id);
)sql"},
      {4, "update_requests", R"sql(
-- Idempotency keys of lifecycle changes, per acting agency, with the
-- document each change produced (what a retry gets back).
CREATE TABLE update_requests (
  agency_id       TEXT    NOT NULL,
  request_id      TEXT    NOT NULL,
  fingerprint     BLOB    NOT NULL,
  referral_id     TEXT    NOT NULL REFERENCES referrals(id),
  document        BLOB    NOT NULL,
  PRIMARY KEY (agency_id, request_id)
) STRICT, WITHOUT ROWID;
)sql"},
      {5, "referral_events", R"sql(
-- What happened to referrals, in commit order, for WatchReferrals: written
-- in the transaction of the change itself, so a subscriber resuming from a
-- sequence number misses nothing and sees nothing twice.
CREATE TABLE referral_events (
  sequence           INTEGER NOT NULL PRIMARY KEY,
  time_us            INTEGER NOT NULL,
  kind               INTEGER NOT NULL,
  referral_id        TEXT    NOT NULL REFERENCES referrals(id),
  referral_document  BLOB    NOT NULL,
  update_document    BLOB    NOT NULL
) STRICT;

-- Who hears about each event: the referral's parties when it happened.
CREATE TABLE referral_event_audience (
  agency_id  TEXT    NOT NULL,
  sequence   INTEGER NOT NULL REFERENCES referral_events(sequence),
  PRIMARY KEY (agency_id, sequence)
) STRICT, WITHOUT ROWID;
)sql"},
      {6, "case_updates", R"sql(
-- A referral's case record: append-only (the store has no statement that
-- updates or deletes a row). A correction is a new row whose document names
-- the row it supersedes. The idempotency key of an AddCaseUpdate is a row of
-- update_requests (request ids are one namespace per agency), whose
-- document is then the serialized CaseUpdate a retry gets back.
CREATE TABLE case_updates (
  referral_id     TEXT    NOT NULL REFERENCES referrals(id),
  sequence        INTEGER NOT NULL,
  update_id       TEXT    NOT NULL,
  kind            INTEGER NOT NULL,
  author_agency   TEXT    NOT NULL,
  create_time_us  INTEGER NOT NULL,
  document        BLOB    NOT NULL,
  PRIMARY KEY (referral_id, sequence),
  UNIQUE (referral_id, update_id)
) STRICT, WITHOUT ROWID;
)sql"},
      {7, "response_deadlines", R"sql(
-- When a current recipient must respond (microseconds since the epoch).
-- NULL for referrals stored before this version: they have no priority, so
-- no deadline, and are never listed as overdue.
ALTER TABLE referrals ADD COLUMN response_deadline_us INTEGER;

-- 1 once this recipient redirected the referral: it stays a party (it may
-- still read it) but no longer owes a response. Pre-existing redirects are
-- not back-filled (the fact is only in the document); they predate
-- deadlines, so at worst an old redirected referral is listed as awaiting
-- the agency that passed it on.
ALTER TABLE referral_parties ADD COLUMN redirected INTEGER NOT NULL DEFAULT 0;

-- No new index: listings walk referral_parties_by_time for one agency and
-- check the deadline on the joined row; an index on the deadline alone
-- would serve a partnership-wide sweep, which no call makes.
)sql"},
      {8, "victim_tokens", R"sql(
-- Repeat-victim tokens: lowercase hex HMAC-SHA256 of normalised victim
-- identifiers under the server's victim token key (core/victim_tokens.h).
-- No identifier is stored here in any form; the key is not in the database.
CREATE TABLE victim_tokens (
  token           TEXT    NOT NULL,
  referral_id     TEXT    NOT NULL REFERENCES referrals(id),
  create_time_us  INTEGER NOT NULL,
  PRIMARY KEY (token, create_time_us, referral_id)
) STRICT, WITHOUT ROWID;
)sql"},
      {9, "audit_disclosure_detail_and_signed_head", R"sql(
-- What an event records beyond the classes: values derived from other
-- referrals, the reason of a refusal or a replay, and how many calls an
-- aggregated refusal stands for (storage/audit_record.h).
ALTER TABLE audit_events ADD COLUMN derived TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN event_count INTEGER NOT NULL DEFAULT 1;

-- The head's Ed25519 signature by the server's audit signing key (kept
-- outside the database): a head rewritten over a cut tail no longer
-- verifies. NULL until the server first signs it.
ALTER TABLE audit_head ADD COLUMN signature BLOB;
)sql"},
      {10, "event_audience_by_sequence", R"sql(
-- PostgreSQL's replicas read the event log by sequence with each event's
-- audience, which needs referral_event_audience indexed by sequence there.
-- One process reads SQLite's events from memory: nothing to add, the number
-- is kept so that both backends' schema versions mean the same.
SELECT 1;
)sql"},
      {11, "audit_release", R"sql(
-- An aggregate release (refx.v1.ReportingService) names the release in its
-- audit event: the query and a digest of the released cells. The audit log
-- is the release ledger (storage/audit_record.h).
ALTER TABLE audit_events ADD COLUMN release TEXT NOT NULL DEFAULT '';

-- Reports count the referrals created in a period, in creation order.
CREATE INDEX referrals_by_create_time ON referrals (create_time_us, id);
)sql"},
      {12, "events_by_time", R"sql(
-- Response-time reports read what happened to referrals as at a period's
-- end: the lifecycle events of the period, by time.
CREATE INDEX referral_events_by_time ON referral_events (time_us, kind);
)sql"},
      {13, "tension_acknowledgements", R"sql(
-- The tensions group's acknowledgement of a community-tension alert, one
-- per alert. Alerts are computed from referrals; only this is stored.
CREATE TABLE tension_acknowledgements (
  alert           TEXT    NOT NULL PRIMARY KEY,
  week            TEXT    NOT NULL,
  agency_id       TEXT    NOT NULL,
  request_id      TEXT    NOT NULL,
  note            TEXT    NOT NULL,
  time_us         INTEGER NOT NULL
);
CREATE INDEX tension_acknowledgements_by_week ON tension_acknowledgements (week, alert);
)sql"},
      {14, "data_keys", R"sql(
-- The data keys that seal personal data at rest (storage/value_cipher.h),
-- each wrapped by the key-encryption key, which is never stored here:
-- kek_id names it so a wrong key file is recognised as such.
CREATE TABLE data_keys (
  key_id          INTEGER NOT NULL PRIMARY KEY,
  kek_id          TEXT    NOT NULL,
  wrapped         BLOB    NOT NULL,
  create_time_us  INTEGER NOT NULL
) STRICT;
)sql"},
      {15, "retention", R"sql(
-- A data protection officer's hold on a referral: its retention erasures
-- wait until it is released (core/retention.h). The reason names the matter
-- (a case reference), never a person.
CREATE TABLE legal_holds (
  referral_id     TEXT    NOT NULL PRIMARY KEY REFERENCES referrals(id),
  agency_id       TEXT    NOT NULL,
  reason          TEXT    NOT NULL,
  time_us         INTEGER NOT NULL
) STRICT;

-- An erasure rewrites every stored copy of one referral's data: each found
-- by its referral, not by a scan of the whole table.
CREATE INDEX referral_events_by_referral ON referral_events (referral_id, sequence);
CREATE INDEX update_requests_by_referral ON update_requests (referral_id);
CREATE INDEX victim_tokens_by_referral ON victim_tokens (referral_id);
)sql"},
      {16, "subject_requests", R"sql(
-- Data subject requests and their statutory clocks (core/subject_requests.h):
-- a case reference and the clock's steps, never the person. request_id makes
-- a retried creation return the first.
CREATE TABLE subject_requests (
  id              TEXT    NOT NULL PRIMARY KEY,
  agency_id       TEXT    NOT NULL,
  request_id      TEXT    NOT NULL,
  document        BLOB    NOT NULL,
  version         INTEGER NOT NULL,
  create_time_us  INTEGER NOT NULL,
  update_time_us  INTEGER NOT NULL,
  UNIQUE (agency_id, request_id)
) STRICT;
CREATE INDEX subject_requests_in_order ON subject_requests (create_time_us, id);
)sql"},
      {17, "subject_notifications", R"sql(
-- The notification of an NCHI's subject (the Code's notified / reply received
-- / withheld), kept apart from the referral so that recording a step changes
-- nothing any party reads of it; erased with the subject compartment. The
-- document is sealed (storage/value_cipher.h).
CREATE TABLE subject_notifications (
  referral_id     TEXT    NOT NULL REFERENCES referrals(id),
  sequence        INTEGER NOT NULL,
  agency_id       TEXT    NOT NULL,
  request_id      TEXT    NOT NULL,
  create_time_us  INTEGER NOT NULL,
  document        BLOB    NOT NULL,
  PRIMARY KEY (referral_id, sequence),
  UNIQUE (referral_id, request_id)
) STRICT;
)sql"},
      {18, "release_ledger_and_deletion", R"sql(
-- The release ledger's rule (core/reporting/release_ledger.h) reads every
-- earlier release of a period in the transaction that records a new one:
-- the releases only, through a partial index, not the whole audit log.
CREATE INDEX audit_events_releases ON audit_events (release) WHERE release <> '';

-- Deleting a referral whose routing record's period ended takes its create
-- request's idempotency row too, found by the referral under the write
-- lock rather than by scanning every create ever made.
CREATE INDEX create_requests_by_referral ON create_requests (referral_id);
)sql"},
      {19, "referral_lists_in_row", R"sql(
-- A referral's recipients and strands, each a sorted comma-joined list of
-- ids ([a-z0-9_-]), in its own row: a Get or a listed referral reads one row
-- instead of two correlated child queries, and a create writes one row
-- instead of one per strand (issue 12). The parties stay rows: they are the
-- per-agency listing index and the record gate.
ALTER TABLE referrals ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
ALTER TABLE referrals ADD COLUMN strands TEXT NOT NULL DEFAULT '';
UPDATE referrals SET
  recipients = COALESCE((SELECT group_concat(agency_id, ',') FROM (
      SELECT agency_id FROM referral_parties
      WHERE referral_id = referrals.id AND party_role = 'recipient' ORDER BY agency_id)), ''),
  strands = COALESCE((SELECT group_concat(strand, ',') FROM (
      SELECT strand FROM referral_strands WHERE referral_id = referrals.id ORDER BY strand)), '');
DROP TABLE referral_strands;
)sql"},
      {20, "listing_index_covers_party", R"sql(
-- A list page walks this index for one agency, and its filters read the
-- party's role and whether it redirected. Outside the index, each listed
-- row cost a seek into referral_parties, whose key (agency, referral id)
-- is random in time: one more page read per referral, ~75 instead of ~18
-- per page of 50 (a reader's page cache starts empty after any commit, so
-- every page is a pread). In the index, the walk reads nothing else of it.
DROP INDEX referral_parties_by_time;
CREATE INDEX referral_parties_by_time
  ON referral_parties (agency_id, create_time_us DESC, referral_id DESC, party_role, redirected);
)sql"},
  };
  return kMigrations;
}

namespace sql {

const char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version         INTEGER NOT NULL PRIMARY KEY,
  name            TEXT    NOT NULL,
  applied_time_us INTEGER NOT NULL
) STRICT)sql";

const char kListAudit[] = R"sql(
SELECT sequence, time_us, action, method, agency_id, certificate_serial, acting_user_hmac, purpose,
       referral_ids, data_classes, outcome, agreement, previous_hash, hash, derived, reason, event_count,
       release
FROM audit_events
WHERE sequence > :after
  AND (:agency_id = '' OR agency_id = :agency_id)
  AND (:action = '' OR action = :action)
  AND (:referral_id = '' OR instr(',' || referral_ids || ',', ',' || :referral_id || ',') > 0)
  AND (:has_from = 0 OR time_us >= :from_us)
  AND (:has_to = 0 OR time_us < :to_us)
ORDER BY sequence
LIMIT :limit)sql";

// The keyset cursor is always bound (the first page starts after the
// largest possible position): as a plain row-value range it seeks the index,
// where an "OR no cursor" form made SQLite walk every earlier row of the
// agency (22.8 ms a page 50,000 rows deep, against 0.23 ms). Each listed
// referral is found through (create_time_us, id), which a party row repeats:
// a page's referrals are then neighbours in that index, where probing the
// random ids of the primary key touched a different page for each, and every
// page is read afresh from the OS (a reader's cache is emptied whenever a
// write commits).
const char kListReferrals[] = R"sql(
SELECT r.id, r.sender_agency, r.state, r.area, r.report_type, r.create_time_us,
       r.update_time_us, r.etag, r.document, r.response_deadline_us, r.recipients, r.strands
FROM referral_parties p JOIN referrals r INDEXED BY referrals_by_create_time
  ON r.create_time_us = p.create_time_us AND r.id = p.referral_id
WHERE p.agency_id = :agency_id
  AND (p.create_time_us, p.referral_id) < (:cursor_time_us, :cursor_id)
  AND (:has_from = 0 OR p.create_time_us >= :from_us)
  AND (:has_to = 0 OR p.create_time_us < :to_us)
  AND (:has_deadline_before = 0 OR r.response_deadline_us < :deadline_before_us)
  AND (:must_respond = 0 OR (p.party_role = 'recipient' AND p.redirected = 0))
  AND (json_array_length(:states) = 0 OR r.state IN (SELECT value FROM json_each(:states)))
  AND (json_array_length(:areas) = 0 OR r.area IN (SELECT value FROM json_each(:areas)))
  AND (json_array_length(:report_types) = 0
       OR r.report_type IN (SELECT value FROM json_each(:report_types)))
  AND (json_array_length(:strands) = 0 OR EXISTS (
         SELECT 1 FROM json_each(:strands) f WHERE instr(',' || r.strands || ',', ',' || f.value || ',') > 0))
ORDER BY p.create_time_us DESC, p.referral_id DESC
LIMIT :limit)sql";

const char kScanReferrals[] = R"sql(
SELECT r.id, r.sender_agency, r.state, r.area, r.report_type, r.create_time_us,
       r.update_time_us, r.etag, r.document, r.response_deadline_us, r.recipients, r.strands
FROM referrals r
WHERE r.create_time_us >= :from_us AND r.create_time_us < :to_us
  AND (r.create_time_us, r.id) > (:cursor_time_us, :cursor_id)
  AND (:agency_id = '' OR EXISTS (
         SELECT 1 FROM referral_parties p WHERE p.agency_id = :agency_id AND p.referral_id = r.id))
  AND r.state <> 0
ORDER BY r.create_time_us, r.id
LIMIT :limit)sql";

const char kScanEvents[] = R"sql(
SELECT sequence, time_us, kind, referral_id, referral_document, '' AS update_document
FROM referral_events
WHERE time_us >= :from_us AND time_us < :to_us AND kind = :kind AND sequence > :after
ORDER BY sequence
LIMIT :limit)sql";

const char kCountOverdueByRecipient[] = R"sql(
SELECT p.agency_id, COUNT(*)
FROM referrals r JOIN referral_parties p ON p.referral_id = r.id
WHERE r.state IN (SELECT value FROM json_each(:states))
  AND r.response_deadline_us < :now_us
  AND p.party_role = 'recipient' AND p.redirected = 0
GROUP BY p.agency_id
ORDER BY p.agency_id)sql";

const char kMarkRedirected[] =
    "UPDATE referral_parties SET redirected = 1 WHERE referral_id = :referral_id "
    "AND party_role = 'recipient' AND agency_id IN (SELECT value FROM json_each(:agencies))";

const char kInsertPartyIfAbsent[] =
    "INSERT OR IGNORE INTO referral_parties (agency_id, referral_id, party_role, create_time_us) "
    "VALUES (:agency_id, :referral_id, 'recipient', :create_time_us)";

const char kInsertEventAudience[] =
    "INSERT OR IGNORE INTO referral_event_audience (agency_id, sequence) VALUES (:agency_id, :sequence)";

const char kListEvents[] = R"sql(
SELECT e.sequence, e.time_us, e.kind, e.referral_id, e.referral_document, e.update_document
FROM referral_event_audience a JOIN referral_events e ON e.sequence = a.sequence
WHERE a.agency_id = :agency_id AND a.sequence > :after
ORDER BY a.sequence
LIMIT :limit)sql";

const char kListCaseUpdates[] =
    "SELECT referral_id, sequence, update_id, kind, author_agency, create_time_us, document FROM case_updates "
    "WHERE referral_id = :referral_id AND sequence > :after ORDER BY sequence LIMIT :limit";

const char kCountRepeatVictims[] =
    "SELECT COUNT(DISTINCT referral_id) FROM victim_tokens "
    "WHERE token IN (SELECT value FROM json_each(:tokens)) AND create_time_us >= :since_us "
    "AND create_time_us <= :now_us AND referral_id != :referral_id";

const char kAnyVictimToken[] = "SELECT EXISTS (SELECT 1 FROM victim_tokens)";

const char kInsertVictimToken[] =
    "INSERT OR IGNORE INTO victim_tokens (token, referral_id, create_time_us) "
    "VALUES (:token, :referral_id, :create_time_us)";


}  // namespace sql

const SqlDialect& SqliteDialect() {
  static const SqlDialect* const kDialect = new SqlDialect(portable_sql::WithPortableStatements({
      .name = "sqlite",
      .migrations = Migrations(),
      .create_migrations_table = sql::kCreateMigrationsTable,
      .insert_party_if_absent = sql::kInsertPartyIfAbsent,
      .list_referrals = sql::kListReferrals,
      .scan_referrals = sql::kScanReferrals,
      .scan_events = sql::kScanEvents,
      .count_overdue_by_recipient = sql::kCountOverdueByRecipient,
      .mark_redirected = sql::kMarkRedirected,
      .list_audit = sql::kListAudit,
      .insert_event_audience = sql::kInsertEventAudience,
      .list_events = sql::kListEvents,
      .list_case_updates = sql::kListCaseUpdates,
      .count_repeat_victims = sql::kCountRepeatVictims,
      .insert_victim_token = sql::kInsertVictimToken,
      .any_victim_token = sql::kAnyVictimToken,
      .shared_by_replicas = false,
  }));
  return *kDialect;
}

}  // namespace refx::storage::sqlite
