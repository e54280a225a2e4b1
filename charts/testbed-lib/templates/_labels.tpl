{{/*
Selector labels: name + instance + component. The instance label keeps two releases of one chart
from selecting each other's pods.
*/}}
{{- define "testbed-lib.selectorLabels" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ $ctx.Chart.Name }}
app.kubernetes.io/instance: {{ include "testbed-lib.release" $ctx }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* All labels of an object of one component; call as (list . "master"). */}}
{{- define "testbed-lib.labels" -}}
{{- $ctx := index . 0 -}}
{{ include "testbed-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ regexFind "^[0-9]+\\.[0-9]+\\.[0-9]+" $ctx.Values.image.tag | default $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: testbed
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $ctx.Chart.Name $ctx.Chart.Version | replace "+" "_" }}
testbed.io/env: {{ $ctx.Values.testbed.env | default "none" | quote }}
{{- with $ctx.Values.testbed.owner }}
testbed.io/owner: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Object metadata (name, labels) for one component. */}}
{{- define "testbed-lib.metadata" -}}
{{- $ctx := index . 0 -}}
name: {{ include "testbed-lib.componentName" . }}
labels:
  {{- include "testbed-lib.labels" . | nindent 2 }}
{{- end -}}
