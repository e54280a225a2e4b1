{{/* spark-defaults for every application of the release (jobs, the Connect server, executors). */}}
{{- define "testbed-lib.sparkDefaults" -}}
spark.eventLog.enabled true
spark.eventLog.dir {{ include "testbed-lib.eventLogDir" . }}
spark.sql.catalogImplementation hive
spark.hadoop.hive.metastore.uris {{ include "testbed-lib.metastoreUri" . }}
spark.sql.warehouse.dir {{ include "testbed-lib.warehouseDir" . }}
spark.driver.extraClassPath /opt/testbed/jars/*
spark.executor.extraClassPath /opt/testbed/jars/*
spark.ui.showConsoleProgress false
spark.sql.shuffle.partitions 4
{{- /* Also as spark.hadoop.*: executors get these from the driver whatever their classpath. */}}
spark.hadoop.fs.s3a.endpoint {{ .Values.s3.endpoint }}
spark.hadoop.fs.s3a.endpoint.region {{ .Values.s3.region }}
spark.hadoop.fs.s3a.path.style.access {{ .Values.s3.pathStyleAccess }}
spark.hadoop.fs.s3a.connection.ssl.enabled {{ hasPrefix "https://" .Values.s3.endpoint }}
{{- range $key, $value := .Values.sparkConf }}
{{ $key }} {{ $value }}
{{- end }}
{{- end -}}

{{/* The release's shared configuration: mounted as SPARK_CONF_DIR, so core-site.xml is on every classpath. */}}
{{- define "testbed-lib.confConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "testbed-lib.metadata" (list . "conf") | nindent 2 }}
data:
  spark-defaults.conf: |
    {{- include "testbed-lib.sparkDefaults" . | nindent 4 }}
  core-site.xml: |
    {{- include "testbed-lib.coreSite" . | nindent 4 }}
  log4j2.properties: |
    rootLogger.level = info
    rootLogger.appenderRef.stdout.ref = console
    appender.console.type = Console
    appender.console.name = console
    appender.console.target = SYSTEM_ERR
    appender.console.layout.type = PatternLayout
    appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
{{- end -}}

{{- define "testbed-lib.confVolume" -}}
- name: conf
  configMap:
    name: {{ include "testbed-lib.componentName" (list . "conf") }}
{{- end -}}

{{/* What every Spark container of the release shares: its conf dir, jars and S3 credentials. */}}
{{- define "testbed-lib.sparkEnv" -}}
- name: SPARK_CONF_DIR
  value: /opt/testbed/conf
- name: SPARK_NO_DAEMONIZE
  value: "true"
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{ include "testbed-lib.s3Env" . }}
{{- end -}}

{{- define "testbed-lib.sparkMounts" -}}
- name: conf
  mountPath: /opt/testbed/conf
{{ include "testbed-lib.jarsMount" . }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "testbed-lib.sparkVolumes" -}}
{{ include "testbed-lib.confVolume" . }}
{{ include "testbed-lib.jarsVolumes" . }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "testbed-lib.image" -}}
image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- end -}}
