{{- define "testbed-lib.metastoreUri" -}}
{{- printf "thrift://%s.%s.svc:9083" (include "testbed-lib.componentName" (list . "metastore")) .Release.Namespace -}}
{{- end -}}

{{- define "testbed-lib.jdbcUrl" -}}
{{- printf "jdbc:postgresql://%s:5432/%s" (include "testbed-lib.componentName" (list . "postgresql")) .Values.metastore.database -}}
{{- end -}}

{{- define "testbed-lib.metastoreSecret" -}}
{{ include "testbed-lib.databaseSecret" (list . "metastore-db" .Values.metastore.user) }}
{{- end -}}

{{/*
A database's credentials, as Secret <release>-<component>; call as (list . component user). The
password is generated once per install and kept across upgrades (lookup returns the live Secret on
a cluster, nothing when rendered offline).
*/}}
{{- define "testbed-lib.databaseSecret" -}}
{{- $ctx := index . 0 -}}
{{- $component := index . 1 -}}
{{- $name := include "testbed-lib.componentName" (list $ctx $component) -}}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace $name -}}
apiVersion: v1
kind: Secret
metadata:
  {{- include "testbed-lib.metadata" (list $ctx $component) | nindent 2 }}
type: Opaque
data:
  username: {{ index . 2 | b64enc | quote }}
  {{- if and $existing $existing.data }}
  password: {{ index $existing.data "password" | quote }}
  {{- else }}
  password: {{ randAlphaNum 24 | b64enc | quote }}
  {{- end }}
{{- end -}}

{{/* One PostgreSQL per release: its metastore database shares no server with another release. */}}
{{- define "testbed-lib.postgresql" -}}
{{ include "testbed-lib.postgresqlFor" (list . .Values.metastore "metastore-db") }}
{{- end -}}

{{/*
A PostgreSQL of the release's own, as StatefulSet and Service <release>-postgresql; call as
(list . $db secretComponent), $db with database and postgresql.{image,storage,resources}, the
credentials in Secret <release>-<secretComponent> (testbed-lib.databaseSecret).
*/}}
{{- define "testbed-lib.postgresqlFor" -}}
{{- $ctx := index . 0 -}}
{{- $db := index . 1 -}}
{{- $name := include "testbed-lib.componentName" (list $ctx "postgresql") -}}
{{- $secret := include "testbed-lib.componentName" (list $ctx (index . 2)) -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "testbed-lib.metadata" (list $ctx "postgresql") | nindent 2 }}
spec:
  selector:
    {{- include "testbed-lib.selectorLabels" (list $ctx "postgresql") | nindent 4 }}
  ports:
    - name: postgresql
      port: 5432
      targetPort: postgresql
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  {{- include "testbed-lib.metadata" (list $ctx "postgresql") | nindent 2 }}
spec:
  serviceName: {{ $name }}
  replicas: 1
  selector:
    matchLabels:
      {{- include "testbed-lib.selectorLabels" (list $ctx "postgresql") | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "testbed-lib.labels" (list $ctx "postgresql") | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 999
        runAsGroup: 999
        fsGroup: 999
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: postgresql
          image: {{ printf "%s:%s" $db.postgresql.image.repository $db.postgresql.image.tag | quote }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          env:
            - name: POSTGRES_DB
              value: {{ $db.database | quote }}
            - name: POSTGRES_USER
              valueFrom:
                secretKeyRef: {name: {{ $secret }}, key: username}
            - name: POSTGRES_PASSWORD
              valueFrom:
                secretKeyRef: {name: {{ $secret }}, key: password}
            - name: PGDATA
              value: /var/lib/postgresql/data/pgdata
          ports:
            - name: postgresql
              containerPort: 5432
          readinessProbe:
            exec:
              command: ["sh", "-c", "pg_isready -h 127.0.0.1 -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\""]
            periodSeconds: 5
          livenessProbe:
            exec:
              command: ["sh", "-c", "pg_isready -h 127.0.0.1 -U \"$POSTGRES_USER\""]
            initialDelaySeconds: 30
            periodSeconds: 15
            failureThreshold: 4
          resources:
            {{- toYaml $db.postgresql.resources | nindent 12 }}
          {{- include "testbed-lib.containerSecurity" $ctx | nindent 10 }}
          volumeMounts:
            - name: data
              mountPath: /var/lib/postgresql/data
            - name: run
              mountPath: /var/run/postgresql
      volumes:
        - name: run
          emptyDir: {}
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "testbed-lib.selectorLabels" (list $ctx "postgresql") | nindent 10 }}
      spec:
        accessModes: ["ReadWriteOnce"]
        {{- with $db.postgresql.storage.storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $db.postgresql.storage.size }}
{{- end -}}

{{/*
hive-site.xml without the password: the metastore container substitutes it from the Secret at
start, so it never sits in a ConfigMap.
*/}}
{{- define "testbed-lib.metastoreConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "testbed-lib.metadata" (list . "metastore") | nindent 2 }}
data:
  hive-site.xml.template: |
    <configuration>
      <property><name>javax.jdo.option.ConnectionURL</name><value>{{ include "testbed-lib.jdbcUrl" . }}</value></property>
      <property><name>javax.jdo.option.ConnectionDriverName</name><value>org.postgresql.Driver</value></property>
      <property><name>javax.jdo.option.ConnectionUserName</name><value>@DB_USER@</value></property>
      <property><name>javax.jdo.option.ConnectionPassword</name><value>@DB_PASSWORD@</value></property>
      <property><name>datanucleus.schema.autoCreateAll</name><value>true</value></property>
      <property><name>datanucleus.autoStartMechanism</name><value>Classes</value></property>
      <property><name>datanucleus.autoStartClassNames</name><value>{{ include "testbed-lib.metastoreModelClasses" . }}</value></property>
      <property><name>hive.metastore.schema.verification</name><value>false</value></property>
      <property><name>hive.metastore.warehouse.dir</name><value>{{ include "testbed-lib.warehouseDir" . }}</value></property>
      <property><name>hive.metastore.event.db.notification.api.auth</name><value>false</value></property>
      <property><name>hive.async.log.enabled</name><value>false</value></property>
    </configuration>
{{- end -}}

{{/*
Every JDO model class of hive-metastore 2.3.x (the same in Spark 3.5 and 4.1): with only
autoCreateAll, DataNucleus creates some tables lazily and the first CREATE TABLE can hang on
PostgreSQL. A test compares this list with the jar.
*/}}
{{- define "testbed-lib.metastoreModelClasses" -}}
{{- $classes := list "MDatabase" "MFieldSchema" "MType" "MTable" "MConstraint" "MSerDeInfo" "MOrder" "MColumnDescriptor" "MStringList" "MStorageDescriptor" "MPartition" "MIndex" "MRole" "MRoleMap" "MGlobalPrivilege" "MDBPrivilege" "MTablePrivilege" "MPartitionPrivilege" "MTableColumnPrivilege" "MPartitionColumnPrivilege" "MPartitionEvent" "MMasterKey" "MDelegationToken" "MTableColumnStatistics" "MPartitionColumnStatistics" "MVersionTable" "MResourceUri" "MFunction" "MNotificationLog" "MNotificationNextId" -}}
{{- $qualified := list -}}
{{- range $classes }}{{ $qualified = append $qualified (printf "org.apache.hadoop.hive.metastore.model.%s" .) }}{{ end -}}
{{- join "," $qualified -}}
{{- end -}}

{{- define "testbed-lib.metastore" -}}
{{- $secret := include "testbed-lib.componentName" (list . "metastore-db") -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "testbed-lib.metadata" (list . "metastore") | nindent 2 }}
spec:
  selector:
    {{- include "testbed-lib.selectorLabels" (list . "metastore") | nindent 4 }}
  ports:
    - name: thrift
      port: 9083
      targetPort: thrift
---
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "testbed-lib.metadata" (list . "metastore") | nindent 2 }}
spec:
  replicas: 1
  selector:
    matchLabels:
      {{- include "testbed-lib.selectorLabels" (list . "metastore") | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "testbed-lib.labels" (list . "metastore") | nindent 8 }}
    spec:
      serviceAccountName: {{ include "testbed-lib.serviceAccountName" . }}
      automountServiceAccountToken: false
      {{- include "testbed-lib.podSecurity" . | nindent 6 }}
      initContainers:
        {{- include "testbed-lib.fetchJarsContainer" . | nindent 8 }}
      containers:
        - name: metastore
          {{- include "testbed-lib.image" . | nindent 10 }}
          command: ["/bin/bash", "-c"]
          args:
            - |
              set -eu
              sed -e "s|@DB_USER@|$DB_USER|" -e "s|@DB_PASSWORD@|$DB_PASSWORD|" \
                /opt/testbed/metastore/hive-site.xml.template > /opt/testbed/hive-conf/hive-site.xml
              exec java -Xmx{{ .Values.metastore.heap }} -Djava.io.tmpdir=/tmp \
                -cp "/opt/testbed/hive-conf:/opt/testbed/conf:/opt/spark/jars/*:/opt/testbed/jars/*" \
                org.apache.hadoop.hive.metastore.HiveMetaStore -p 9083
          env:
            - name: DB_USER
              valueFrom:
                secretKeyRef: {name: {{ $secret }}, key: username}
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {name: {{ $secret }}, key: password}
            {{- include "testbed-lib.s3Env" . | nindent 12 }}
          ports:
            - name: thrift
              containerPort: 9083
          startupProbe:
            tcpSocket: {port: thrift}
            periodSeconds: 5
            failureThreshold: 36
          readinessProbe:
            tcpSocket: {port: thrift}
            periodSeconds: 10
          livenessProbe:
            tcpSocket: {port: thrift}
            periodSeconds: 20
            failureThreshold: 3
          resources:
            {{- toYaml .Values.metastore.resources | nindent 12 }}
          {{- include "testbed-lib.containerSecurity" . | nindent 10 }}
          volumeMounts:
            {{- include "testbed-lib.sparkMounts" . | nindent 12 }}
            - name: metastore
              mountPath: /opt/testbed/metastore
            - name: hive-conf
              mountPath: /opt/testbed/hive-conf
      volumes:
        {{- include "testbed-lib.sparkVolumes" . | nindent 8 }}
        - name: metastore
          configMap:
            name: {{ include "testbed-lib.componentName" (list . "metastore") }}
        - name: hive-conf
          emptyDir: {}
{{- end -}}
