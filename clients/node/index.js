// refx-client: a Node.js client of refx, the partnership referral exchange.
//
//   import { Client } from "./clients/node/index.js";
//   const council = Client.fromProfile("dev-pki/profiles.yaml", "leicester-city-council",
//                                      { actingUser: "caseworker.jones" });
//   for await (const event of council.watch({ startAtHead: true })) { ... }  // resumes by itself
//
// Mutual TLS from the same profile file `refx` reads; the acting person and
// purpose sent as x-refx-acting-user / x-refx-purpose; writes carry a request
// id (a fresh UUID unless given) and are retried with it on UNAVAILABLE or
// DEADLINE_EXCEEDED, so a retry never makes a duplicate; errors are RefxError
// with the server's details decoded (reason, fieldViolations, retryDelay).
// Messages are plain objects with the proto's field names (snake_case) and
// enums as strings (proto-loader's keepCase, enums: String).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import YAML from "yaml";

const PROTO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../proto");
const LOADER = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_ROOT] };
const definition = protoLoader.loadSync(["refx/v1/referral_service.proto"], LOADER);
const refx = grpc.loadPackageDefinition(definition).refx.v1;

// google.rpc.Status and its details, for the grpc-status-details-bin trailer.
const rich = new protobuf.Root();
rich.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
rich.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], { keepCase: true });
const Status = rich.lookupType("google.rpc.Status");
const DETAILS = {
  "type.googleapis.com/google.rpc.ErrorInfo": rich.lookupType("google.rpc.ErrorInfo"),
  "type.googleapis.com/google.rpc.BadRequest": rich.lookupType("google.rpc.BadRequest"),
  "type.googleapis.com/google.rpc.RetryInfo": rich.lookupType("google.rpc.RetryInfo"),
  "type.googleapis.com/google.rpc.RequestInfo": rich.lookupType("google.rpc.RequestInfo"),
  "type.googleapis.com/google.rpc.QuotaFailure": rich.lookupType("google.rpc.QuotaFailure"),
};

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));
const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

// An RPC refx refused or could not complete, with its details decoded.
export class RefxError extends Error {
  constructor({ code, message, reason = "", metadata = {}, fieldViolations = [], retryDelay = null, requestId = null,
                callId = null, quotaViolations = [] }) {
    super(`${CODE_NAMES[code] ?? code}: ${message}${reason ? ` [${reason}]` : ""}${callId ? ` (call ${callId})` : ""}`);
    this.name = "RefxError";
    this.code = code;              // a grpc.status value
    this.codeName = CODE_NAMES[code] ?? String(code);
    this.reason = reason;          // ErrorInfo reason, e.g. FIELD_NOT_SHARED, ETAG_MISMATCH
    this.metadata = metadata;
    this.fieldViolations = fieldViolations;  // [{ field, description }]
    this.retryDelay = retryDelay;  // seconds, or null
    this.requestId = requestId;    // a write's idempotency key
    this.callId = callId;          // the server's name for the call (RequestInfo): quote it in a report
    this.quotaViolations = quotaViolations;  // [{ subject, description }]: what limit was hit
  }
  // Whether a write may or may not have happened: retry with the same request id.
  get outcomeUnknown() {
    return [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.INTERNAL, grpc.status.UNKNOWN]
      .includes(this.code);
  }
}

// The RefxError of a grpc-js error, its details decoded.
export function errorFromRpc(error, requestId = null) {
  let message = error.details ?? error.message;
  let reason = "", metadata = {}, fieldViolations = [], retryDelay = null, callId = null, quotaViolations = [];
  const bin = error.metadata?.get("grpc-status-details-bin") ?? [];
  if (bin.length > 0) {
    const status = Status.decode(bin[0]);
    message = status.message || message;
    for (const detail of status.details ?? []) {
      const type = DETAILS[detail.type_url];
      if (!type) continue;
      const decoded = type.toObject(type.decode(detail.value), { longs: Number });
      if (detail.type_url.endsWith("ErrorInfo")) {
        reason = decoded.reason ?? "";
        metadata = decoded.metadata ?? {};
      } else if (detail.type_url.endsWith("BadRequest")) {
        fieldViolations.push(...(decoded.field_violations ?? []));
      } else if (detail.type_url.endsWith("RetryInfo")) {
        retryDelay = (decoded.retry_delay?.seconds ?? 0) + (decoded.retry_delay?.nanos ?? 0) / 1e9;
      } else if (detail.type_url.endsWith("RequestInfo")) {
        callId = decoded.request_id || null;
      } else if (detail.type_url.endsWith("QuotaFailure")) {
        quotaViolations.push(...(decoded.violations ?? []));
      }
    }
  }
  return new RefxError({ code: error.code, message, reason, metadata, fieldViolations, retryDelay, requestId, callId,
                         quotaViolations });
}

function seconds(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(String(text ?? "10s").trim());
  if (!m) throw new Error(`timeout: "${text}" is not like 10s, 1m or 500ms`);
  return Number(m[1]) * (m[2] === "ms" ? 0.001 : m[2] === "m" ? 60 : 1);
}

// Profile `name` (default: the file's default_profile) of a refx profile file;
// relative paths are resolved against the file's directory.
export function loadProfile(path, name) {
  const config = YAML.parse(readFileSync(path, "utf8")) ?? {};
  const unknown = Object.keys(config).filter((k) => !["default_profile", "profiles"].includes(k));
  if (unknown.length) throw new Error(`${path}: unknown key "${unknown[0]}"`);
  name = name ?? config.default_profile;
  const profile = config.profiles?.[name];
  if (!profile) throw new Error(`${path}: no profile "${name}" (profiles: ${Object.keys(config.profiles ?? {}).join(", ")})`);
  const base = dirname(resolve(path));
  const file = (p) => (p && !isAbsolute(p) ? join(base, p) : p);
  return {
    server: profile.server ?? "localhost:50051",
    ca_file: file(profile.ca_file), cert_file: file(profile.cert_file), key_file: file(profile.key_file),
    server_name_override: profile.server_name_override ?? "", acting_user: profile.acting_user ?? "",
    purpose: profile.purpose ?? "", timeout: seconds(profile.timeout ?? "10s"),
  };
}

const sleep = (s) => new Promise((done) => setTimeout(done, s * 1000));

export class Client {
  constructor(profile, { actingUser, purpose, retries = 3 } = {}) {
    this.profile = profile;
    this.actingUser = actingUser ?? profile.acting_user;
    this.purpose = purpose ?? profile.purpose;
    this.retries = retries;
    const credentials = grpc.credentials.createSsl(
      readFileSync(profile.ca_file),
      profile.key_file ? readFileSync(profile.key_file) : null,
      profile.cert_file ? readFileSync(profile.cert_file) : null);
    const options = profile.server_name_override ? { "grpc.ssl_target_name_override": profile.server_name_override } : {};
    this.stub = new refx.ReferralService(profile.server, credentials, options);
  }

  static fromProfile(path, name, options) {
    return new Client(loadProfile(path, name), options);
  }

  close() { this.stub.close(); }

  metadata() {
    const m = new grpc.Metadata();
    if (this.actingUser) m.set("x-refx-acting-user", this.actingUser);
    if (this.purpose) m.set("x-refx-purpose", this.purpose);
    return m;
  }

  async call(method, request, requestId = null) {
    const attempts = requestId ? this.retries : 1;
    let delay = 0.2;
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise((done, fail) => {
          const deadline = new Date(Date.now() + this.profile.timeout * 1000);
          this.stub[method](request, this.metadata(), { deadline }, (error, response) => (error ? fail(error) : done(response)));
        });
      } catch (e) {
        const error = errorFromRpc(e, requestId);
        if (!RETRYABLE.has(error.code) || attempt >= attempts) throw error;
        await sleep(error.retryDelay ?? delay);
        delay *= 2;
      }
    }
  }

  whoAmI() { return this.call("WhoAmI", {}); }
  getReferral(name, fields = []) {
    return this.call("GetReferral", { name, read_mask: fields.length ? { paths: fields } : null });
  }
  listReferrals(request = {}) { return this.call("ListReferrals", request); }
  createReferral(referral, requestId = randomUUID()) {
    return this.call("CreateReferral", { referral, request_id: requestId }, requestId);
  }
  // `referral` as last read (its name and etag are used).
  acceptReferral(referral, requestId = randomUUID()) {
    return this.call("AcceptReferral", { name: referral.name, etag: referral.etag, request_id: requestId }, requestId);
  }
  startReferral(referral, requestId = randomUUID()) {
    return this.call("StartReferral", { name: referral.name, etag: referral.etag, request_id: requestId }, requestId);
  }

  // WatchReferralsResponse messages (SUBSCRIBED first, then events) for as
  // long as the caller iterates. A resumable end (UNAVAILABLE: a restart or
  // shutdown, a stalled stream, a dropped connection) reconnects from the
  // last sequence received: no event lost or repeated. Other ends throw.
  async *watch({ afterSequence = 0, startAtHead = false, maxBackoff = 10 } = {}) {
    let last = afterSequence;
    let backoff = 0.5;
    for (;;) {
      const call = this.stub.WatchReferrals({ after_sequence: last, start_at_head: startAtHead && last === 0 }, this.metadata());
      try {
        for await (const message of call) {
          backoff = 0.5;
          last = Math.max(last, Number(message.sequence));
          yield message;
        }
      } catch (e) {
        const error = errorFromRpc(e);
        if (error.code !== grpc.status.UNAVAILABLE) throw error;
      } finally {
        call.on("error", () => {});  // the cancellation's own CANCELLED: expected
        call.cancel();
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }
}

export { grpc };
