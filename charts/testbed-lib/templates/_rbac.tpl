{{/*
One ServiceAccount, Role and RoleBinding per release, all namespaced: no cluster-scoped object, so
two releases (or two namespaces) never share or overwrite one.
*/}}
{{- define "testbed-lib.rbac" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "testbed-lib.metadata" (list . "spark") | nindent 2 }}
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  {{- include "testbed-lib.metadata" (list . "spark") | nindent 2 }}
rules:
  {{- toYaml .Values.rbac.rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  {{- include "testbed-lib.metadata" (list . "spark") | nindent 2 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "testbed-lib.componentName" (list . "spark") }}
subjects:
  - kind: ServiceAccount
    name: {{ include "testbed-lib.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end -}}

{{/* Everything both charts deploy the same way. */}}
{{- define "testbed-lib.common" -}}
{{ include "testbed-lib.rbac" . }}
---
{{ include "testbed-lib.confConfigMap" . }}
---
{{ include "testbed-lib.jarsConfigMap" . }}
{{- with include "testbed-lib.s3Secret" . }}
---
{{ . }}
{{- end }}
---
{{ include "testbed-lib.metastoreSecret" . }}
---
{{ include "testbed-lib.postgresql" . }}
---
{{ include "testbed-lib.metastoreConfigMap" . }}
---
{{ include "testbed-lib.metastore" . }}
---
{{ include "testbed-lib.historyConfigMap" . }}
---
{{ include "testbed-lib.history" . }}
{{- end -}}
