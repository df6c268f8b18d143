{{/* Names, labels and shared fragments of the netstream-publisher chart. */}}

{{- define "netstream-publisher.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "netstream-publisher.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "netstream-publisher.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "netstream-publisher.selectorLabels" -}}
app.kubernetes.io/name: {{ include "netstream-publisher.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "netstream-publisher.labels" -}}
helm.sh/chart: {{ include "netstream-publisher.chart" . }}
{{ include "netstream-publisher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: netstream-publisher
{{- end }}

{{- define "netstream-publisher.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "netstream-publisher.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "netstream-publisher.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The Secret with the credentials: the existing one, or the one this chart creates. */}}
{{- define "netstream-publisher.secretName" -}}
{{- default (include "netstream-publisher.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The Secret with the Kafka TLS files. */}}
{{- define "netstream-publisher.tlsSecretName" -}}
{{- default (printf "%s-kafka-tls" (include "netstream-publisher.fullname" .)) .Values.kafka.tls.existingSecret }}
{{- end }}

{{/* The ConfigMap holding registry.yaml. */}}
{{- define "netstream-publisher.registryConfigMap" -}}
{{- default (include "netstream-publisher.fullname" .) .Values.existingRegistryConfigMap }}
{{- end }}

{{- define "netstream-publisher.saslPasswordAuth" -}}
{{- if has .Values.kafka.sasl.mechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512") }}true{{ end }}
{{- end }}

{{- define "netstream-publisher.saslOauth" -}}
{{- if eq .Values.kafka.sasl.mechanism "OAUTHBEARER" }}true{{ end }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. Each failure is one line naming the value and the fix.
*/}}
{{- define "netstream-publisher.validate" -}}
{{- $v := .Values }}
{{- if and (not (kindIs "invalid" $v.replicaCount)) (ne (int $v.replicaCount) (int $v.shards)) }}
{{- fail (printf "replicaCount (%v) must equal shards (%v): set only shards, or set both to the same number" $v.replicaCount $v.shards) }}
{{- end }}
{{- if not $v.netstream.baseUrl }}
{{- fail "netstream.baseUrl is required: set it to the Netstream API host, e.g. https://sit.sbs.digital" }}
{{- end }}
{{- if not $v.kafka.bootstrapServers }}
{{- fail "kafka.bootstrapServers is required: set it to host:port[,host:port] of your brokers" }}
{{- end }}
{{- if mod (int $v.publisher.statePartitions) (int $v.shards) }}
{{- fail (printf "publisher.statePartitions (%v) must be a multiple of shards (%v) so each shard owns whole state partitions" $v.publisher.statePartitions $v.shards) }}
{{- end }}
{{- if not $v.existingSecret }}
{{- if not (or $v.netstream.token (and $v.netstream.clientId $v.netstream.clientSecret (or $v.netstream.tenantId $v.netstream.tokenUrl))) }}
{{- fail "no Netstream credentials: set netstream.token, or netstream.clientId, netstream.clientSecret and netstream.tenantId (or netstream.tokenUrl), or existingSecret" }}
{{- end }}
{{- if and (include "netstream-publisher.saslPasswordAuth" .) (not (and $v.kafka.sasl.username $v.kafka.sasl.password)) }}
{{- fail (printf "kafka.sasl.mechanism %s needs kafka.sasl.username and kafka.sasl.password (or existingSecret)" $v.kafka.sasl.mechanism) }}
{{- end }}
{{- if and (include "netstream-publisher.saslOauth" .) (not (and $v.kafka.sasl.oauthbearer.clientId $v.kafka.sasl.oauthbearer.clientSecret)) }}
{{- fail "kafka.sasl.mechanism OAUTHBEARER needs kafka.sasl.oauthbearer.clientId and clientSecret (or existingSecret)" }}
{{- end }}
{{- end }}
{{- if and (include "netstream-publisher.saslOauth" .) (not $v.kafka.sasl.oauthbearer.tokenEndpointUrl) }}
{{- fail "kafka.sasl.mechanism OAUTHBEARER needs kafka.sasl.oauthbearer.tokenEndpointUrl" }}
{{- end }}
{{- if and $v.kafka.sasl.mechanism (not (hasPrefix "SASL_" $v.kafka.securityProtocol)) }}
{{- fail (printf "kafka.sasl.mechanism %s needs kafka.securityProtocol SASL_SSL (or SASL_PLAINTEXT)" $v.kafka.sasl.mechanism) }}
{{- end }}
{{- if and (hasPrefix "SASL_" $v.kafka.securityProtocol) (not $v.kafka.sasl.mechanism) }}
{{- fail (printf "kafka.securityProtocol %s needs kafka.sasl.mechanism (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN or OAUTHBEARER)" $v.kafka.securityProtocol) }}
{{- end }}
{{- if and $v.kafka.tls.enabled (not (has $v.kafka.securityProtocol (list "SSL" "SASL_SSL"))) }}
{{- fail "kafka.tls.enabled needs kafka.securityProtocol SSL or SASL_SSL" }}
{{- end }}
{{- if and $v.kafka.tls.clientAuth (not $v.kafka.tls.enabled) }}
{{- fail "kafka.tls.clientAuth needs kafka.tls.enabled: true" }}
{{- end }}
{{- if and $v.kafka.tls.enabled (not $v.kafka.tls.existingSecret) }}
{{- if not $v.kafka.tls.ca }}
{{- fail "kafka.tls.enabled needs kafka.tls.ca (PEM) or kafka.tls.existingSecret" }}
{{- end }}
{{- if and $v.kafka.tls.clientAuth (not (and $v.kafka.tls.cert $v.kafka.tls.key)) }}
{{- fail "kafka.tls.clientAuth needs kafka.tls.cert and kafka.tls.key (PEM) or kafka.tls.existingSecret" }}
{{- end }}
{{- end }}
{{- if and $v.existingRegistryConfigMap (or $v.registry.usage_points $v.registry.usage_point_groups $v.registry.meters $v.registry.meter_groups) }}
{{- fail "set either registry or existingRegistryConfigMap, not both" }}
{{- end }}
{{- if $v.networkPolicy.enabled }}
{{- if not $v.networkPolicy.kafka.cidrs }}
{{- fail "networkPolicy.enabled needs networkPolicy.kafka.cidrs (the brokers' address ranges)" }}
{{- end }}
{{- if not $v.networkPolicy.netstream.cidrs }}
{{- fail "networkPolicy.enabled needs networkPolicy.netstream.cidrs (the Netstream API's and token endpoint's address ranges)" }}
{{- end }}
{{- if and $v.schemaRegistry.url (not $v.networkPolicy.schemaRegistry.cidrs) }}
{{- fail "networkPolicy.enabled with schemaRegistry.url needs networkPolicy.schemaRegistry.cidrs" }}
{{- end }}
{{- end }}
{{- end }}
