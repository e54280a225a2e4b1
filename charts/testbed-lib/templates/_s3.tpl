{{/* The Secret holding the S3 credentials: an existing one, or the release's own. */}}
{{- define "testbed-lib.s3SecretName" -}}
{{- .Values.s3.existingSecret | default (include "testbed-lib.componentName" (list . "s3")) -}}
{{- end -}}

{{/* The release's own S3 credentials Secret, unless an existing one is named. */}}
{{- define "testbed-lib.s3Secret" -}}
{{- if not .Values.s3.existingSecret }}
{{- if or (not .Values.s3.accessKey) (not .Values.s3.secretKey) }}
{{- fail "s3: set s3.existingSecret (a Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) or both s3.accessKey and s3.secretKey" }}
{{- end }}
apiVersion: v1
kind: Secret
metadata:
  {{- include "testbed-lib.metadata" (list . "s3") | nindent 2 }}
type: Opaque
stringData:
  AWS_ACCESS_KEY_ID: {{ .Values.s3.accessKey | quote }}
  AWS_SECRET_ACCESS_KEY: {{ .Values.s3.secretKey | quote }}
{{- end }}
{{- end -}}

{{/* Credentials for s3a: both SDKs read these variables in their default provider chain. */}}
{{- define "testbed-lib.s3Env" -}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "testbed-lib.s3SecretName" . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "testbed-lib.s3SecretName" . }}
      key: AWS_SECRET_ACCESS_KEY
- name: AWS_REGION
  value: {{ .Values.s3.region | quote }}
{{- end -}}

{{- define "testbed-lib.eventLogDir" -}}
{{- printf "s3a://%s/%s" .Values.history.bucket (trimAll "/" .Values.history.prefix) -}}
{{- end -}}

{{- define "testbed-lib.warehouseDir" -}}
{{- printf "s3a://%s/%s" .Values.warehouse.bucket (trimAll "/" .Values.warehouse.prefix) -}}
{{- end -}}

{{/* Hadoop's s3a settings, for every JVM of the release (on the classpath via SPARK_CONF_DIR). */}}
{{- define "testbed-lib.coreSite" -}}
<?xml version="1.0"?>
<configuration>
  <property><name>fs.s3a.endpoint</name><value>{{ required "s3.endpoint: set the S3 endpoint URL, e.g. http://minio.minio.svc:9000" .Values.s3.endpoint }}</value></property>
  <property><name>fs.s3a.endpoint.region</name><value>{{ .Values.s3.region }}</value></property>
  <property><name>fs.s3a.path.style.access</name><value>{{ .Values.s3.pathStyleAccess }}</value></property>
  <property><name>fs.s3a.connection.ssl.enabled</name><value>{{ hasPrefix "https://" .Values.s3.endpoint }}</value></property>
  <property><name>fs.s3a.impl</name><value>org.apache.hadoop.fs.s3a.S3AFileSystem</value></property>
</configuration>
{{- end -}}
