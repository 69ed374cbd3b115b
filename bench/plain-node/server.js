// The plain implementation that issue 12 measures refx-server against: what
// an agency's own developers would write in an afternoon, in Node.js.
//
//   node bench/plain-node/server.js --pki DIR [--listen 127.0.0.1:0] [--db FILE]
//
// It serves refx.v1.ReferralService's CreateReferral, GetReferral,
// ListReferrals and WhoAmI over mutual TLS (grpc-js; the caller is the
// agency its certificate's URI SAN names), stores each referral as JSON in
// SQLite (better-sqlite3, WAL, synchronous=FULL), commits every call's
// writes in groups (all calls that arrive while a commit runs share the
// next one), and appends one hash-chained audit row per call, durable
// before the call is answered (reads too, as refx does). It has none of
// refx's agreement, redaction, field-level audit, encryption at rest,
// validation beyond the required fields, limits or watch. It prints
// "listening on HOST:PORT" once it serves, and stops on SIGTERM or SIGINT.
//
// bench/plain-node/compare.sh runs refx-bench against it and against
// refx-server, interleaved; the README's Performance section has the
// figures.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import Database from "better-sqlite3";

const USAGE = `usage: node server.js --pki DIR [--listen HOST:PORT] [--db FILE]
  --pki DIR      a refx development PKI (refx-admin dev-pki DIR): root-ca.pem, server.pem, server.key
  --listen ADDR  where to serve (default 127.0.0.1:0, a free port; the port is printed)
  --db FILE      the SQLite file (default: a new one in a temporary directory)`;

function options() {
  try {
    const { values } = parseArgs({
      options: { pki: { type: "string" }, listen: { type: "string", default: "127.0.0.1:0" },
                 db: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    if (!values.pki) throw new Error("--pki is required");
    return values;
  } catch (e) {
    console.error(`plain-node: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
}

const PROTO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../proto");
const LOADER = { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true, includeDirs: [PROTO_ROOT] };
const refx = grpc.loadPackageDefinition(protoLoader.loadSync(["refx/v1/referral_service.proto"], LOADER)).refx.v1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS referrals (
  id TEXT PRIMARY KEY, sender TEXT NOT NULL, create_time INTEGER NOT NULL, state TEXT NOT NULL,
  etag TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parties (
  agency TEXT NOT NULL, create_time INTEGER NOT NULL, id TEXT NOT NULL,
  PRIMARY KEY (agency, create_time, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS request_ids (
  agency TEXT NOT NULL, request_id TEXT NOT NULL, id TEXT NOT NULL,
  PRIMARY KEY (agency, request_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, agency TEXT NOT NULL, method TEXT NOT NULL,
  referral TEXT, code INTEGER NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
`;

function openDatabase(file) {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(SCHEMA);
  return db;
}

// One commit for every write that arrived while the last one ran. Each
// write runs in a savepoint of its own, so one that throws fails alone; its
// callback and every other one run after the COMMIT, so nothing is answered
// before it is durable.
class GroupCommitWriter {
  constructor(db) {
    this.db = db;
    this.pending = [];
    this.scheduled = false;
    const last = db.prepare("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").get();
    this.head = last ? last.hash : "0".repeat(64);
    this.appendAudit = db.prepare(
      "INSERT INTO audit (time, agency, method, referral, code, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)");
  }

  // work(db) returns the call's result; done(error, result) after the commit.
  submit(work, done) {
    this.pending.push({ work, done });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  audit(agency, method, referral, code) {
    const time = Date.now();
    const hash = createHash("sha256")
      .update(`${this.head}|${time}|${agency}|${method}|${referral ?? ""}|${code}`)
      .digest("hex");
    this.appendAudit.run(time, agency, method, referral ?? null, code, this.head, hash);
    this.head = hash;
  }

  flush() {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    const outcomes = [];
    const headBefore = this.head;
    try {
      this.db.transaction(() => {
        for (const { work } of batch) {
          const savedHead = this.head;
          try {
            outcomes.push({ result: this.db.transaction(() => work(this))() });
          } catch (error) {
            this.head = savedHead;
            outcomes.push({ error });
          }
        }
      })();
    } catch (error) {
      this.head = headBefore;
      for (const { done } of batch) done(error);
      return;
    }
    batch.forEach(({ done }, i) => done(outcomes[i].error, outcomes[i].result));
  }
}

function grpcError(code, message) {
  return Object.assign(new Error(message), { code, details: message });
}

// The agency the client certificate's URI SAN names, or null.
function callerAgency(call) {
  const san = call.getAuthContext?.()?.sslPeerCertificate?.subjectaltname ?? "";
  const match = /URI:spiffe:\/\/[^/,]+\/agency\/([a-z0-9-]+)/.exec(san);
  return match ? match[1] : null;
}

function timestamp(ms) {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function pageToken(row) {
  return Buffer.from(`${row.create_time}:${row.id}`).toString("base64url");
}

function serve(db, writer) {
  const statements = {
    insertReferral: db.prepare(
      "INSERT INTO referrals (id, sender, create_time, state, etag, body) VALUES (?, ?, ?, ?, ?, ?)"),
    insertParty: db.prepare("INSERT OR IGNORE INTO parties (agency, create_time, id) VALUES (?, ?, ?)"),
    insertRequestId: db.prepare("INSERT INTO request_ids (agency, request_id, id) VALUES (?, ?, ?)"),
    findRequestId: db.prepare("SELECT id FROM request_ids WHERE agency = ? AND request_id = ?"),
    getReferral: db.prepare("SELECT body FROM referrals WHERE id = ?"),
    isParty: db.prepare("SELECT 1 FROM parties WHERE agency = ? AND id = ? LIMIT 1"),
    firstPage: db.prepare(
      "SELECT r.id, r.create_time, r.body FROM parties p JOIN referrals r ON r.id = p.id " +
      "WHERE p.agency = ? ORDER BY p.create_time DESC, p.id DESC LIMIT ?"),
    nextPage: db.prepare(
      "SELECT r.id, r.create_time, r.body FROM parties p JOIN referrals r ON r.id = p.id " +
      "WHERE p.agency = ? AND (p.create_time, p.id) < (?, ?) ORDER BY p.create_time DESC, p.id DESC LIMIT ?"),
  };

  // Every handler: the caller from its certificate, then the call's work and
  // its audit row in the next group commit, then the answer.
  const handle = (method, work) => (call, callback) => {
    const agency = callerAgency(call);
    if (agency === null) {
      callback(grpcError(grpc.status.UNAUTHENTICATED, "no agency URI SAN in the client certificate"));
      return;
    }
    writer.submit(
      (w) => {
        let result;
        try {
          // A savepoint of its own: a call refused halfway keeps none of its
          // rows, only the audit row of its refusal.
          result = w.db.transaction(() => work(agency, call.request))();
        } catch (error) {
          w.audit(agency, method, null, error.code ?? grpc.status.INTERNAL);
          return { error };
        }
        w.audit(agency, method, result.referral ?? null, grpc.status.OK);
        return { response: result.response };
      },
      (error, outcome) => {
        if (error) callback(grpcError(grpc.status.UNAVAILABLE, "the database refused the commit"));
        else if (outcome.error) callback(outcome.error);
        else callback(null, outcome.response);
      });
  };

  const server = new grpc.Server();
  server.addService(refx.ReferralService.service, {
    CreateReferral: handle("CreateReferral", (agency, request) => {
      if (!request.referral) throw grpcError(grpc.status.INVALID_ARGUMENT, "referral is required");
      if (!request.request_id) throw grpcError(grpc.status.INVALID_ARGUMENT, "request_id is required");
      const recipients = request.referral.recipient_agencies ?? [];
      if (recipients.length === 0) throw grpcError(grpc.status.INVALID_ARGUMENT, "recipient_agencies is required");
      const seen = statements.findRequestId.get(agency, request.request_id);
      if (seen) {
        return { referral: seen.id, response: JSON.parse(statements.getReferral.get(seen.id).body) };
      }
      const id = randomBytes(12).toString("hex");
      const now = Date.now();
      const referral = {
        ...request.referral,
        name: `referrals/${id}`,
        sender_agency: `agencies/${agency}`,
        state: "REQUESTED",
        create_time: timestamp(now),
        update_time: timestamp(now),
        etag: randomBytes(8).toString("hex"),
      };
      statements.insertReferral.run(id, agency, now, referral.state, referral.etag, JSON.stringify(referral));
      statements.insertParty.run(agency, now, id);
      for (const r of recipients) statements.insertParty.run(r.replace(/^agencies\//, ""), now, id);
      statements.insertRequestId.run(agency, request.request_id, id);
      return { referral: id, response: referral };
    }),
    GetReferral: handle("GetReferral", (agency, request) => {
      const id = (request.name ?? "").replace(/^referrals\//, "");
      const row = statements.isParty.get(agency, id) ? statements.getReferral.get(id) : undefined;
      if (!row) throw grpcError(grpc.status.NOT_FOUND, `${request.name} not found`);
      return { referral: id, response: JSON.parse(row.body) };
    }),
    ListReferrals: handle("ListReferrals", (agency, request) => {
      const size = Math.min(Math.max(request.page_size || 50, 1), 500);
      let rows;
      if (request.page_token) {
        const [time, id] = Buffer.from(request.page_token, "base64url").toString().split(":");
        if (!id) throw grpcError(grpc.status.INVALID_ARGUMENT, "page_token is not one this server gave");
        rows = statements.nextPage.all(agency, Number(time), id, size + 1);
      } else {
        rows = statements.firstPage.all(agency, size + 1);
      }
      const more = rows.length > size;
      if (more) rows.pop();
      return {
        response: {
          referrals: rows.map((row) => JSON.parse(row.body)),
          next_page_token: more ? pageToken(rows[rows.length - 1]) : "",
        },
      };
    }),
    WhoAmI: handle("WhoAmI", (agency) => ({ response: { agency: `agencies/${agency}`, role: "plain" } })),
  });
  return server;
}

function main() {
  const opts = options();
  const file = opts.db ?? join(mkdtempSync(join(tmpdir(), "refx-plain-node-")), "plain.db");
  const db = openDatabase(file);
  const writer = new GroupCommitWriter(db);
  const server = serve(db, writer);
  const credentials = grpc.ServerCredentials.createSsl(
    readFileSync(join(opts.pki, "root-ca.pem")),
    [{ cert_chain: readFileSync(join(opts.pki, "server.pem")), private_key: readFileSync(join(opts.pki, "server.key")) }],
    true);
  server.bindAsync(opts.listen, credentials, (error, port) => {
    if (error) {
      console.error(`plain-node: cannot listen on ${opts.listen}: ${error.message}`);
      process.exit(1);
    }
    const host = opts.listen.slice(0, opts.listen.lastIndexOf(":"));
    console.log(`listening on ${host}:${port} (database ${file})`);
  });
  const stop = () => server.tryShutdown(() => {
    db.close();
    process.exit(0);
  });
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
