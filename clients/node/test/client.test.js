// The Node client against a real refx-server over mutual TLS: the back-office
// integration (create, watch, accept) and the refusals a program branches on.
// The server runs on a throwaway development PKI and SQLite file; binaries
// from REFX_SERVER_BINARY / REFX_ADMIN_BINARY (CTest sets them) or build/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";

import { Client, RefxError, grpc, loadProfile } from "../index.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const binary = (variable, relative) => {
  const path = process.env[variable] || join(REPO, "build", relative);
  accessSync(path, constants.X_OK);
  return path;
};

let server, port, profiles, work;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "refx-node-"));
  const pki = join(work, "pki");
  execFileSync(binary("REFX_ADMIN_BINARY", "clients/admin/refx-admin"),
    ["dev-pki", pki, "--partnership", join(REPO, "config/partnership.yaml")]);
  profiles = join(pki, "profiles.yaml");
  const config = join(work, "server.yaml");
  writeFileSync(config, `listen_address: 127.0.0.1:0
partnership_file: ${REPO}/config/partnership.yaml
agreement_file: ${REPO}/config/agreement.yaml
tls:
  server_cert_file: ${pki}/server.pem
  server_key_file: ${pki}/server.key
  client_ca_file: ${pki}/agency-ca.pem
  revocation_list_file: ${pki}/revocations.txt
storage:
  sqlite_path: ${work}/data/refx.db
`);
  server = spawn(binary("REFX_SERVER_BINARY", "server/refx-server"), ["--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  port = await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`refx-server did not report its port:\n${log}`)), 20000);
    server.stderr.on("data", (chunk) => {
      log += chunk;
      const m = /serving on port (\d+)/.exec(log);
      if (m) { clearTimeout(timer); done(Number(m[1])); }
    });
    server.on("exit", (code) => fail(new Error(`refx-server exited (${code}):\n${log}`)));
  });
});

after(async () => {
  server.kill("SIGTERM");
  const code = await new Promise((done) => server.on("exit", done));
  assert.equal(code, 0);
});

const clientFor = (agency, options = {}) => {
  const profile = loadProfile(profiles, agency);
  profile.server = `localhost:${port}`;
  return new Client(profile, { actingUser: "node-test", ...options });
};

const validReferral = (area = "leicester") => ({
  report_type: "HATE_CRIME",
  strands: [{ strand: "race", basis: "PERCEIVED" }],
  perceived_by: "PERCEIVED_BY_VICTIM",
  reporting_channel: "REPORTING_CHANNEL_POLICE",
  area,
  incident_narrative: "Racist abuse shouted at the victim at a bus stop.",
  victim: { given_name: "Sam", family_name: "Example", consent: { status: "GIVEN" } },
  recipient_agencies: ["agencies/leicester-city-council"],
});

test("whoami names the agency from its certificate", async () => {
  const me = await clientFor("leicestershire-police").whoAmI();
  assert.equal(me.agency, "agencies/leicestershire-police");
});

test("create, watch, accept: the back-office integration", async () => {
  const police = clientFor("leicestershire-police");
  const council = clientFor("leicester-city-council");
  const events = council.watch({ startAtHead: true });
  const first = await events.next();
  assert.equal(first.value.kind, "SUBSCRIBED");
  const created = await police.createReferral(validReferral());
  let event;
  for (;;) {
    event = (await events.next()).value;
    if (event.kind === "REFERRAL_CREATED" && event.referral.name === created.name) break;
  }
  await events.return();
  const accepted = await council.acceptReferral(event.referral);  // the etag the event carried
  assert.equal(accepted.state, "ACCEPTED");
  assert.equal((await police.getReferral(created.name)).state, "ACCEPTED");
});

test("a retried request id is applied once", async () => {
  const police = clientFor("leicestershire-police");
  const id = randomUUID();
  const first = await police.createReferral(validReferral(), id);
  const again = await police.createReferral(validReferral(), id);
  assert.equal(again.name, first.name);
  assert.equal(again.etag, first.etag);
});

test("NOT_FOUND is the same for an absent referral and one the caller is not a party to", async () => {
  const created = await clientFor("leicestershire-police").createReferral(validReferral());
  const blaby = clientFor("blaby-district-council");
  const notParty = await blaby.getReferral(created.name).catch((e) => e);
  const absent = await blaby.getReferral(`referrals/${"0".repeat(32)}`).catch((e) => e);
  assert.ok(notParty instanceof RefxError);
  assert.equal(notParty.code, grpc.status.NOT_FOUND);
  assert.equal(absent.code, grpc.status.NOT_FOUND);
  assert.equal(notParty.reason, absent.reason);
  // Each call has its own call id (RequestInfo) to quote, random per call.
  assert.match(notParty.callId, /^[0-9a-f]{16}$/);
  assert.notEqual(notParty.callId, absent.callId);
});

test("INVALID_ARGUMENT carries field violations and is not worth retrying unchanged", async () => {
  const error = await clientFor("leicestershire-police").createReferral(validReferral("atlantis")).catch((e) => e);
  assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
  assert.ok(error.fieldViolations.some((v) => v.field === "referral.area"), JSON.stringify(error.fieldViolations));
  assert.equal(error.outcomeUnknown, false);
});

test("a field the agreement withholds is refused with its reason", async () => {
  const created = await clientFor("leicestershire-police").createReferral(validReferral());
  const error = await clientFor("leicester-city-council").getReferral(created.name, ["subjects"]).catch((e) => e);
  assert.equal(error.code, grpc.status.PERMISSION_DENIED);
  assert.equal(error.reason, "FIELD_NOT_SHARED");
});

test("without a client certificate nothing is served", async () => {
  const profile = loadProfile(profiles, "leicestershire-police");
  profile.server = `localhost:${port}`;
  profile.cert_file = profile.key_file = "";
  profile.timeout = 3;
  const error = await new Client(profile, { retries: 1 }).whoAmI().catch((e) => e);
  assert.ok(error instanceof RefxError);
  assert.ok([grpc.status.UNAVAILABLE, grpc.status.UNAUTHENTICATED].includes(error.code), error.message);
});

test("a profile file with an unknown key is refused", () => {
  const path = join(work, "bad-profiles.yaml");
  writeFileSync(path, "default_profile: x\nprofile: {}\n");
  assert.throws(() => loadProfile(path), /unknown key "profile"/);
});
