// Offline validation of rendered Kubernetes manifests (no cluster, no network).
//  1. schema: types, required fields, enums  -> kubernetes-models (generated from the Kubernetes OpenAPI spec)
//  2. strict: unknown/misspelt fields          -> model classes of @kubernetes/client-node (dist/gen/models only)
// usage: node k8s-validate.mjs rendered.yaml [...]   ("-" = stdin). Exit 1 on any error.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import * as cn from "@kubernetes/client-node/dist/gen/models/all.js";

const cap = s => s.charAt(0).toUpperCase() + s.slice(1);
const errors = []; let valid = 0, noSchema = 0;

function clientModel(apiVersion, kind) {
  const [group, ver] = apiVersion.includes("/") ? apiVersion.split("/") : ["core", apiVersion];
  const g = group.split(".")[0].split("-").map(cap).join("");
  for (const n of [`${g}${cap(ver)}${kind}`, `${cap(ver)}${kind}`]) if (cn[n]?.getAttributeTypeMap) return n;
}
function unknownFields(value, type, path, out) {
  if (value == null) return;
  let mm;
  if ((mm = /^Array<(.*)>$/.exec(type))) { if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, mm[1], `${path}[${i}]`, out)); return; }
  if ((mm = /^\{ \[key: string\]: (.*); \}$/.exec(type))) { if (typeof value === "object") for (const [k, v] of Object.entries(value)) unknownFields(v, mm[1], `${path}.${k}`, out); return; }
  const cls = cn[type];
  if (!cls?.getAttributeTypeMap || typeof value !== "object" || Array.isArray(value)) return;
  const attrs = new Map(cls.getAttributeTypeMap().map(a => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) attrs.has(k) ? unknownFields(v, attrs.get(k), `${path}.${k}`, out) : out.push(`${path}.${k}: unknown field`);
}

for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file === "-" ? 0 : file, "utf8"))) {
    if (doc.errors.length) { errors.push(`${file}: YAML: ${doc.errors[0].message}`); continue; }
    const obj = doc.toJS();
    if (obj == null) continue;
    const where = `${file}: ${obj.kind ?? "?"}/${obj.metadata?.name ?? "?"}`;
    if (!obj.apiVersion || !obj.kind) { errors.push(`${where}: missing apiVersion or kind`); continue; }
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    let Model;
    try { Model = (await import(`kubernetes-models/${group ? group + "/" : ""}${version}/${obj.kind}`))[obj.kind]; } catch {}
    if (!Model) { console.log(`${where}: no built-in schema for ${obj.apiVersion} ${obj.kind} (CRD?), skipped`); noSchema++; continue; }
    const found = [];
    try { new Model(obj).validate(); } catch (e) { for (const x of e.errors ?? [{ message: e.message }]) found.push(`${x.instancePath || "/"} ${x.message}${x.params?.allowedValues ? " " + JSON.stringify(x.params.allowedValues) : ""}`); }
    const cm = clientModel(obj.apiVersion, obj.kind);
    if (cm) unknownFields(obj, cm, "", found);
    if (found.length) for (const f of found) errors.push(`${where}: ${f}`); else valid++;
  }
}
for (const e of errors) console.error(e);
console.log(`k8s-validate: ${valid} valid, ${errors.length} errors, ${noSchema} skipped (no schema)`);
process.exit(errors.length ? 1 : 0);
