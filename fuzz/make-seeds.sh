#!/usr/bin/env bash
# Writes the committed seed corpora (fuzz/corpus/<target>/) from the
# project's own files and a few hand-written inputs. Synthetic data only:
# no personal data, no private keys (the CSR seed's key is thrown away).
# Rerun after a schema change and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus
rm -rf "$out"
mkdir -p "$out"/{api_requests,report_requests,page_token,revocation_list,csr,server_config,partnership,agreement,client_profile,referral_file}

cp config/partnership.yaml "$out/partnership/llr.yaml"
cat > "$out/partnership/minimal.yaml" <<'YAML'
id: tiny
trust_domain: tiny.example
areas:
  - {id: north, display_name: North}
strands:
  - {id: race, display_name: Race}
agencies:
  - {id: police, display_name: Police, type: AGENCY_TYPE_POLICE, role: police, areas: [north]}
YAML
cp config/agreement.yaml "$out/agreement/llr.yaml"
cp config/dev-server.yaml "$out/server_config/dev.yaml"
printf 'listen_address: "127.0.0.1:0"\nlimits: {max_receive_message_bytes: 1024, worker_threads: 2}\nstorage: {backend: sqlite, sqlite_path: x.db}\n' \
  > "$out/server_config/small.yaml"
cat > "$out/client_profile/profiles.yaml" <<'YAML'
default_profile: leicestershire-police
profiles:
  leicestershire-police:
    server: localhost:50051
    ca_file: root-ca.pem
    cert_file: agencies/leicestershire-police.pem
    key_file: agencies/leicestershire-police.key
    acting_user: caseworker.one
    timeout: 10s
YAML
cp docs/examples/referral.yaml "$out/referral_file/example.yaml"
printf '{"reportType": "HATE_INCIDENT", "area": "rutland", "strands": [{"strand": "disability", "basis": "ACTUAL"}]}\n' \
  > "$out/referral_file/partial.json"

printf '' > "$out/page_token/empty"
printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' > "$out/page_token/base64url"
printf '1780000000000000|0123456789abcdef0123456789abcdef' > "$out/page_token/cursor"

cat > "$out/revocation_list/signed-body" <<'TXT'
S# refx revocation list
refx-revocation-list 1
issuer-sha256 @ISSUER@
sequence 7
generated 2026-11-28T10:00:00Z
next-update 2026-12-28T10:00:00Z
revoked 0A1B2C3D 2026-11-27T09:00:00Z key-compromise
revoked 0F 2026-11-27T09:30:00Z superseded
TXT
cat > "$out/revocation_list/unsigned" <<'TXT'
refx-revocation-list 1
issuer-sha256 00000000000000000000000000000000000000000000000000000000000000AA
sequence 1
generated 2026-11-28T10:00:00Z
next-update 2026-12-28T10:00:00Z
signature AAAA
TXT

key=$(mktemp)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
openssl req -new -key "$key" -subj "/CN=leicestershire-police/O=Synthetic" -out "$out/csr/p256.csr" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$key" 2>/dev/null
openssl req -new -key "$key" -subj "/CN=leicester-city-council" -out "$out/csr/ed25519.csr" 2>/dev/null
rm -f "$key"

# API requests: a method byte and an agency byte (indexes into the lists in
# api_requests_fuzzer.cc), then the request encoded from text format.
api() {  # api FILE METHOD_INDEX AGENCY_INDEX MESSAGE TEXT
  local file=$1 method=$2 agency=$3 message=$4 text=$5
  { printf "\\x$(printf %02x "$method")\\x$(printf %02x "$agency")"
    printf '%s' "$text" | protoc -I proto --encode="refx.v1.$message" refx/v1/referral_service.proto
  } > "$out/api_requests/$file"
}
referral='referral { report_type: HATE_CRIME strands { strand: "race" basis: PERCEIVED }
  perceived_by: PERCEIVED_BY_VICTIM reporting_channel: REPORTING_CHANNEL_POLICE area: "leicester"
  incident_narrative: "synthetic" victim { given_name: "Synthetic" consent { status: GIVEN } }
  recipient_agencies: "agencies/leicester-city-council" }'
api create 0 0 CreateReferralRequest "$referral request_id: \"seed-create\""
nchi='referral { report_type: HATE_INCIDENT strands { strand: "race" basis: PERCEIVED }
  perceived_by: PERCEIVED_BY_VICTIM reporting_channel: REPORTING_CHANNEL_POLICE area: "leicester"
  incident_narrative: "synthetic" victim { given_name: "Synthetic" consent { status: GIVEN } }
  recipient_agencies: "agencies/leicester-city-council"
  nchi_subject_record { subjects { description: "synthetic" }
    attestation { limb: RISK_OF_SIGNIFICANT_HARM rationale: "synthetic" supervising_officer: "PS 1" } } }'
api create-nchi 0 0 CreateReferralRequest "$nchi request_id: \"seed-create-nchi\""
screened='referral { report_type: HATE_INCIDENT strands { strand: "race" basis: PERCEIVED }
  perceived_by: PERCEIVED_BY_VICTIM reporting_channel: REPORTING_CHANNEL_POLICE area: "leicester"
  incident_narrative: "synthetic" victim { given_name: "Synthetic" consent { status: GIVEN } }
  recipient_agencies: "agencies/leicester-city-council" nchi_screened_out: NCHI_SCREENED_OUT_TRIVIAL }'
api create-screened 0 0 CreateReferralRequest "$screened request_id: \"seed-create-screened\""
api get 1 1 GetReferralRequest 'name: "@0" read_mask { paths: "victim.given_name" paths: "area" }'
api list 2 1 ListReferralsRequest 'page_size: 2 filter { areas: "leicester" strands: "race" states: REQUESTED }'
api accept 3 1 AcceptReferralRequest 'name: "@0" request_id: "seed-accept" etag: "@"'
api decline 4 1 DeclineReferralRequest 'name: "@2" request_id: "seed-decline" etag: "@" reason: DECLINE_REASON_OTHER reason_text: "x"'
api redirect 5 1 RedirectReferralRequest 'name: "@2" request_id: "seed-redirect" etag: "@" target_agency: "agencies/rutland-county-council"'
api start 6 1 StartReferralRequest 'name: "@0" request_id: "seed-start" etag: "@"'
api complete 7 1 CompleteReferralRequest 'name: "@0" request_id: "seed-complete" etag: "@" outcome: OUTCOME_SUPPORTED'
api cancel 8 0 CancelReferralRequest 'name: "@1" request_id: "seed-cancel" etag: "@" reason: "sent in error"'
api reopen 9 0 ReopenReferralRequest 'name: "@0" request_id: "seed-reopen" etag: "@" reason: "new evidence"'
api update 10 0 AddCaseUpdateRequest 'parent: "@0" request_id: "seed-update" etag: "@" update { kind: CONTACT_ATTEMPT text: "rang" }'
api updates 11 1 ListCaseUpdatesRequest 'parent: "@0" page_size: 1'

# Report requests: the same layout (indexes into report_requests_fuzzer.cc).
report() {  # report FILE METHOD_INDEX AGENCY_INDEX PROTO MESSAGE TEXT
  local file=$1 method=$2 agency=$3 proto=$4 message=$5 text=$6
  { printf "\\x$(printf %02x "$method")\\x$(printf %02x "$agency")"
    printf '%s' "$text" | protoc -I proto --encode="refx.v1.$message" "refx/v1/$proto"
  } > "$out/report_requests/$file"
}
report counts 0 0 reporting_service.proto CountReferralsRequest 'period: "2026-Q1" dimensions: AREA dimensions: STRAND scope: PARTNERSHIP'
report counts-own 0 2 reporting_service.proto CountReferralsRequest 'period: "2026-Q1" dimensions: OUTCOME scope: OWN_REFERRALS'
report times 1 1 reporting_service.proto ReportResponseTimesRequest 'period: "2026-Q1" scope: PARTNERSHIP'
report tensions 2 0 reporting_service.proto ListTensionAlertsRequest 'first_week: "2026-W10" last_week: "2026-W20"'
report acknowledge 3 0 reporting_service.proto AcknowledgeTensionAlertRequest 'name: "tensionAlerts/2026-W14/leicester/race" note: "seen" request_id: "seed-ack"'
report subject 4 1 audit_service.proto FindSubjectReferralsRequest 'phone: "+44 7700 900001" email: "a@example.org"'
report bundle 5 1 audit_service.proto ExportSubjectAccessBundleRequest 'phone: "+44 7700 900001" email: "a@example.org"'
report bundle-restricted 5 1 audit_service.proto ExportSubjectAccessBundleRequest 'phone: "+44 7700 900001" restrictions { referral: "referrals/0123456789abcdef0123456789abcdef" data_classes: DATA_CLASS_SUBJECT basis: DPA_2018_S45_4_B_CRIME controller: "agencies/leicestershire-police" }'
report sar-open 6 1 audit_service.proto CreateSubjectRequestRequest 'subject_request { kind: ACCESS reference: "DPO-2026-0001" received_date: "2026-01-02" } request_id: "seed-sar"'
report sar-get 7 1 audit_service.proto GetSubjectRequestRequest 'name: "subjectRequests/0123456789abcdef0123456789abcdef"'
report sar-list 8 1 audit_service.proto ListSubjectRequestsRequest 'page_size: 2'
report sar-step 9 1 audit_service.proto RecordSubjectRequestStepRequest 'name: "subjectRequests/0123456789abcdef0123456789abcdef" step { action: EXTENDED date: "2026-01-05" ground: COMPLEXITY note: "several systems" } etag: "v1"'
report sar-erase 10 1 audit_service.proto EraseSubjectDataRequest 'subject_request: "subjectRequests/0123456789abcdef0123456789abcdef" referral: "referrals/0123456789abcdef0123456789abcdef" data_classes: DATA_CLASS_VICTIM_CONTACT'
report watch-tensions 12 0 reporting_service.proto WatchTensionAlertsRequest 'first_week: "2026-W10"'
report watch-tensions-live 12 1 reporting_service.proto WatchTensionAlertsRequest ''
echo "seeds: $(find "$out" -type f | wc -l) files in $out"
