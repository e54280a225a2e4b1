{{/*
The official apache/spark images lack hadoop-aws and the AWS SDK bundle that s3a needs (and the
PostgreSQL JDBC driver the metastore needs). An init container fetches the pinned jars from a
configurable Maven repository and checks each one's SHA-1 before anything uses it.
*/}}
{{- define "testbed-lib.jarsConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "testbed-lib.metadata" (list . "jars") | nindent 2 }}
data:
  repository: {{ .Values.jars.repository | trimSuffix "/" | quote }}
  jars.txt: |
    {{- range .Values.jars.artifacts }}
    {{ printf "%s/%s/%s/%s-%s.jar %s" (replace "." "/" .group) .artifact .version .artifact .version .sha1 }}
    {{- end }}
  fetch-jars.sh: |
    #!/bin/sh
    # Fetch the pinned jars into /opt/testbed/jars; a wrong checksum stops the pod from starting.
    set -eu
    repository="$(cat /opt/testbed/jars-list/repository)"
    while read -r path sha1; do
      [ -n "$path" ] || continue
      file="/opt/testbed/jars/$(basename "$path")"
      if command -v wget >/dev/null; then  # the Spark images have wget, the Iceberg one curl
        wget -q -T 60 -O "$file.part" "$repository/$path"
      else
        curl -fsS --max-time 60 -o "$file.part" "$repository/$path"
      fi
      echo "$sha1  $file.part" | sha1sum -c -
      mv "$file.part" "$file"
    done < /opt/testbed/jars-list/jars.txt
{{- end -}}

{{- define "testbed-lib.jarsVolumes" -}}
- name: jars
  emptyDir: {}
- name: jars-list
  configMap:
    name: {{ include "testbed-lib.componentName" (list . "jars") }}
    defaultMode: 0555
{{- end -}}

{{- define "testbed-lib.jarsMount" -}}
- name: jars
  mountPath: /opt/testbed/jars
{{- end -}}

{{- define "testbed-lib.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop: ["ALL"]
{{- end -}}

{{- define "testbed-lib.fetchJarsContainer" -}}
- name: fetch-jars
  image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["/bin/sh", "/opt/testbed/jars-list/fetch-jars.sh"]
  volumeMounts:
    {{- include "testbed-lib.jarsMount" . | nindent 4 }}
    - name: jars-list
      mountPath: /opt/testbed/jars-list
  resources:
    requests: {cpu: 50m, memory: 64Mi}
    limits: {memory: 128Mi}
  {{- include "testbed-lib.containerSecurity" . | nindent 2 }}
{{- end -}}

{{/*
Spark applications and the History Server fail on an event-log directory that does not exist; on
S3 it exists once a marker is there. Hadoop's own FsShell (in Spark's jars) creates it.
*/}}
{{- define "testbed-lib.ensureLogDirContainer" -}}
- name: ensure-log-dir
  image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["java", "-Xmx128m", "-cp", "/opt/testbed/conf:/opt/spark/jars/*:/opt/testbed/jars/*",
            "org.apache.hadoop.fs.FsShell", "-mkdir", "-p", {{ include "testbed-lib.eventLogDir" . | quote }}]
  env:
    {{- include "testbed-lib.s3Env" . | nindent 4 }}
  volumeMounts:
    {{- include "testbed-lib.jarsMount" . | nindent 4 }}
    - name: conf
      mountPath: /opt/testbed/conf
  resources:
    requests: {cpu: 50m, memory: 192Mi}
    limits: {memory: 256Mi}
  {{- include "testbed-lib.containerSecurity" . | nindent 2 }}
{{- end -}}

{{- define "testbed-lib.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 185
  runAsGroup: 185
  fsGroup: 185
  seccompProfile:
    type: RuntimeDefault
{{- end -}}
