{{- define "testbed-lib.historyConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "testbed-lib.metadata" (list . "history") | nindent 2 }}
data:
  SPARK_HISTORY_OPTS: {{ printf "-Dspark.history.fs.logDirectory=%s -Dspark.history.ui.port=18080 -Dspark.history.fs.update.interval=%s" (include "testbed-lib.eventLogDir" .) .Values.history.updateInterval | quote }}
{{- end -}}

{{/* A History Server that reads only this release's prefix. */}}
{{- define "testbed-lib.history" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "testbed-lib.metadata" (list . "history") | nindent 2 }}
spec:
  type: {{ .Values.history.service.type }}
  selector:
    {{- include "testbed-lib.selectorLabels" (list . "history") | nindent 4 }}
  ports:
    - name: http
      port: 18080
      targetPort: http
      {{- if and (eq .Values.history.service.type "NodePort") .Values.history.service.nodePort }}
      nodePort: {{ .Values.history.service.nodePort }}
      {{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "testbed-lib.metadata" (list . "history") | nindent 2 }}
spec:
  replicas: 1
  selector:
    matchLabels:
      {{- include "testbed-lib.selectorLabels" (list . "history") | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "testbed-lib.labels" (list . "history") | nindent 8 }}
    spec:
      serviceAccountName: {{ include "testbed-lib.serviceAccountName" . }}
      automountServiceAccountToken: false
      {{- include "testbed-lib.podSecurity" . | nindent 6 }}
      initContainers:
        {{- include "testbed-lib.fetchJarsContainer" . | nindent 8 }}
        {{- include "testbed-lib.ensureLogDirContainer" . | nindent 8 }}
      containers:
        - name: history
          {{- include "testbed-lib.image" . | nindent 10 }}
          args: ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.history.HistoryServer"]
          env:
            {{- include "testbed-lib.sparkEnv" . | nindent 12 }}
            - name: SPARK_DAEMON_MEMORY
              value: {{ .Values.history.heap | quote }}
            - name: SPARK_DAEMON_CLASSPATH
              value: /opt/testbed/jars/*
            - name: SPARK_HISTORY_OPTS
              valueFrom:
                configMapKeyRef:
                  name: {{ include "testbed-lib.componentName" (list . "history") }}
                  key: SPARK_HISTORY_OPTS
          ports:
            - name: http
              containerPort: 18080
          startupProbe:
            httpGet: {path: /api/v1/version, port: http}
            periodSeconds: 5
            failureThreshold: 36
          readinessProbe:
            httpGet: {path: /api/v1/version, port: http}
            periodSeconds: 10
          livenessProbe:
            httpGet: {path: /api/v1/version, port: http}
            periodSeconds: 20
            failureThreshold: 3
          resources:
            {{- toYaml .Values.history.resources | nindent 12 }}
          {{- include "testbed-lib.containerSecurity" . | nindent 10 }}
          volumeMounts:
            {{- include "testbed-lib.sparkMounts" . | nindent 12 }}
      volumes:
        {{- include "testbed-lib.sparkVolumes" . | nindent 8 }}
{{- end -}}
