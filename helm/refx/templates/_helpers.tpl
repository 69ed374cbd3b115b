{{/* Names, labels and the checks that make a wrong install fail at render time. */}}

{{- define "refx.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "refx.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "refx.labels" -}}
{{ include "refx.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/*
The rules values.schema.json cannot express. SQLite is one file on one
volume: a second replica would be a second, diverging database.
*/}}
{{- define "refx.validate" -}}
{{- if and (eq .Values.storage.backend "sqlite") (ne (int .Values.replicas) 1) -}}
{{- fail (printf "replicas: %d with storage.backend sqlite; SQLite serves exactly one replica. Use storage.backend postgres for more." (int .Values.replicas)) -}}
{{- end -}}
{{- if eq .Values.storage.backend "postgres" -}}
{{- if not .Values.storage.postgres.host -}}
{{- fail "storage.postgres.host is required with storage.backend postgres" -}}
{{- end -}}
{{- if not .Values.storage.postgres.passwordSecret.name -}}
{{- fail "storage.postgres.passwordSecret.name is required with storage.backend postgres (a Secret you create; see docs/operations.md)" -}}
{{- end -}}
{{- end -}}
{{- if not .Values.partnership -}}
{{- fail "partnership is required: --set-file partnership=partnership.yaml" -}}
{{- end -}}
{{- if not .Values.agreement -}}
{{- fail "agreement is required: --set-file agreement=agreement.yaml" -}}
{{- end -}}
{{- end -}}

{{/* The server's configuration file (proto/refx/config/v1/server_config.proto). */}}
{{- define "refx.serverConfig" -}}
{{- $v := .Values -}}
{{- $config := dict
  "listen_address" (printf "0.0.0.0:%d" (int $v.server.port))
  "partnership_file" "/etc/refx/partnership/partnership.yaml"
  "agreement_file" "/etc/refx/partnership/agreement.yaml"
  "audit_key_file" "/etc/refx/keys/audit.key"
  "audit_signing_key_file" "/etc/refx/keys/audit-signing.key"
  "victim_token_key_file" "/etc/refx/keys/victim-token.key"
  "tls" (dict
    "server_cert_file" "/etc/refx/tls/tls.crt"
    "server_key_file" "/etc/refx/tls/tls.key"
    "client_ca_file" "/etc/refx/agency-ca/ca.crt"
    "revocation_list_file" "/etc/refx/revocation/revocations.txt")
  "ops" (dict
    "listen_address" (printf "0.0.0.0:%d" (int $v.server.opsHttpPort))
    "grpc_health_address" (printf "0.0.0.0:%d" (int $v.server.opsGrpcPort)))
  "limits" (dict
    "shutdown_grace_seconds" (int $v.server.shutdownGraceSeconds)
    "worker_threads" (int $v.server.workerThreads))
  "logging" (dict "level" $v.server.logLevel "format" "json")
-}}
{{- if eq $v.storage.backend "postgres" -}}
{{- $pg := $v.storage.postgres -}}
{{- $postgres := dict
  "host" $pg.host
  "port" (int $pg.port)
  "dbname" $pg.dbname
  "user" $pg.user
  "sslmode" $pg.sslmode
  "password_file" "/etc/refx/db/password"
  "pool_size" (int $pg.poolSize)
  "statement_timeout_ms" (int $pg.statementTimeoutMs)
-}}
{{- if $pg.rootCertSecret.name -}}
{{- $_ := set $postgres "sslrootcert" "/etc/refx/db-ca/ca.crt" -}}
{{- end -}}
{{- $_ := set $config "storage" (dict "backend" "postgres" "postgres" $postgres "encryption_key_file" "/etc/refx/keys/data-encryption.key") -}}
{{- else -}}
{{- $_ := set $config "storage" (dict "backend" "sqlite" "sqlite_path" "/var/lib/refx/data/refx.db" "encryption_key_file" "/etc/refx/keys/data-encryption.key") -}}
{{- end -}}
{{- mergeOverwrite $config $v.server.extraConfig | toYaml -}}
{{- end -}}
