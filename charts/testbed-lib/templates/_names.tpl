{{/*
Every namespaced name is <release>-<component>: two releases of the same chart, or of two charts,
never collide in one namespace. The release name must be a DNS-1035 label short enough for the
longest suffix and for the StatefulSet's controller-revision-hash label.
*/}}
{{- define "testbed-lib.release" -}}
{{- $name := .Release.Name -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $name) -}}
{{- fail (printf "release name %q: use lowercase letters, digits and '-', starting with a letter (no dots: it prefixes Service names), e.g. spark-35" $name) -}}
{{- end -}}
{{- if gt (len $name) 40 -}}
{{- fail (printf "release name %q is %d characters: use at most 40 so <release>-<component> names stay valid" $name (len $name)) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/* <release>-<component>; call as (include "testbed-lib.componentName" (list . "master")) */}}
{{- define "testbed-lib.componentName" -}}
{{- $ctx := index . 0 -}}
{{- printf "%s-%s" (include "testbed-lib.release" $ctx) (index . 1) -}}
{{- end -}}

{{- define "testbed-lib.serviceAccountName" -}}
{{- include "testbed-lib.componentName" (list . "spark") -}}
{{- end -}}
