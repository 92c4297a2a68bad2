{{/*
Names and labels. They equal upstream kured chart 6.1.0's, so that an in-place
`helm upgrade` over an upstream release keeps the DaemonSet (its selector is
immutable) and the lock annotation on it.
*/}}

{{/* The chart's name: app.kubernetes.io/name, part of the selector. */}}
{{- define "kured.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The objects' name: <release>-kured, or the release name when it contains the
chart's name (release "kured" -> "kured"). The DaemonSet of this name carries
the lock (--ds-name), and the Role may write only it.
*/}}
{{- define "kured.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kured.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The DaemonSet's selector (immutable): exactly upstream's two labels. */}}
{{- define "kured.matchLabels" -}}
app.kubernetes.io/name: {{ include "kured.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kured.labels" -}}
{{ include "kured.matchLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "kured.chart" . }}
{{- end -}}

{{- define "kured.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kured.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The container's security context. With privileged: true, allowPrivilegeEscalation
goes (Kubernetes refuses it false beside privileged), and so do capabilities (a
privileged container has them all) and seccompProfile (runtimes give a
privileged container none): what an upstream values file setting only
`privileged: true` over our least-privilege default means, as
manifests/overlays/privileged.
*/}}
{{- define "kured.securityContext" -}}
{{- $sc := deepCopy (.Values.containerSecurityContext | default dict) -}}
{{- if $sc.privileged -}}
{{- $_ := unset $sc "allowPrivilegeEscalation" -}}
{{- $_ := unset $sc "capabilities" -}}
{{- $_ := unset $sc "seccompProfile" -}}
{{- end -}}
{{- toYaml $sc -}}
{{- end -}}

{{/* The mount path of the sentinel's host directory. */}}
{{- define "kured.sentinelDir" -}}/sentinel{{- end -}}

{{/* A value as a flag's text: whole numbers from a values file (float64) without an exponent. */}}
{{- define "kured.value" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/*
The container's args, as a YAML list. Each upstream key is rendered as upstream
6.1.0 renders it (left out when empty, 0 or false), so the same values give the
same flags; the kured-rs keys are left out only when null.
*/}}
{{- define "kured.args" -}}
{{- $c := .Values.configuration -}}
{{- $args := list (printf "--ds-name=%s" (include "kured.fullname" .)) (printf "--ds-namespace=%s" .Release.Namespace) -}}
{{- $flags := list
  (list "metrics-host" $c.metricsHost)
  (list "metrics-port" $c.metricsPort)
  (list "lock-ttl" $c.lockTtl)
  (list "lock-release-delay" $c.lockReleaseDelay)
  (list "alert-filter-regexp" $c.alertFilterRegexp)
  (list "alert-firing-only" $c.alertFiringOnly)
  (list "alert-filter-match-only" $c.alertFilterMatchOnly)
  (list "end-time" $c.endTime)
  (list "lock-annotation" $c.lockAnnotation)
  (list "period" $c.period)
  (list "drain-grace-period" $c.drainGracePeriod)
  (list "drain-pod-selector" $c.drainPodSelector)
  (list "drain-delay" $c.drainDelay)
  (list "drain-timeout" $c.drainTimeout)
  (list "skip-wait-for-delete-timeout" $c.skipWaitForDeleteTimeout)
  (list "prometheus-url" $c.prometheusUrl)
-}}
{{- range $flags -}}
{{- if index . 1 -}}
{{- $args = append $args (printf "--%s=%s" (index . 0) (include "kured.value" (index . 1))) -}}
{{- end -}}
{{- end -}}
{{- range $c.blockingPodSelector -}}
{{- $args = append $args (printf "--blocking-pod-selector=%s" .) -}}
{{- end -}}
{{- if $c.forceReboot -}}
{{- $args = append $args "--force-reboot" -}}
{{- end -}}
{{- range $c.rebootDays -}}
{{- $args = append $args (printf "--reboot-days=%s" (include "kured.value" .)) -}}
{{- end -}}
{{- range $c.preRebootNodeLabels -}}
{{- $args = append $args (printf "--pre-reboot-node-labels=%s" .) -}}
{{- end -}}
{{- range $c.postRebootNodeLabels -}}
{{- $args = append $args (printf "--post-reboot-node-labels=%s" .) -}}
{{- end -}}
{{- if $c.rebootSentinel -}}
{{- if $c.useRebootSentinelHostPath -}}
{{- $args = append $args (printf "--reboot-sentinel=%s/%s" (include "kured.sentinelDir" .) (base $c.rebootSentinel)) -}}
{{- else -}}
{{- $args = append $args (printf "--reboot-sentinel=%s" $c.rebootSentinel) -}}
{{- end -}}
{{- end -}}
{{- if and $c.rebootSentinelCommand (not $c.useRebootSentinelHostPath) -}}
{{- $args = append $args (printf "--reboot-sentinel-command=%s" $c.rebootSentinelCommand) -}}
{{- end -}}
{{- $more := list
  (list "reboot-command" $c.rebootCommand)
  (list "reboot-delay" $c.rebootDelay)
  (list "reboot-method" $c.rebootMethod)
  (list "reboot-signal" $c.rebootSignal)
-}}
{{- range $more -}}
{{- if index . 1 -}}
{{- $args = append $args (printf "--%s=%s" (index . 0) (include "kured.value" (index . 1))) -}}
{{- end -}}
{{- end -}}
{{- $root := . -}}
{{- range $flag, $key := dict "slack-channel" "slackChannel" "slack-hook-url" "slackHookUrl" "slack-username" "slackUsername" -}}
{{- with index $c $key -}}
{{- $args = append $args (printf "--%s=%s" $flag (tpl . $root)) -}}
{{- end -}}
{{- end -}}
{{- $last := list
  (list "notify-url" $c.notifyUrl)
  (list "message-template-drain" $c.messageTemplateDrain)
  (list "message-template-reboot" $c.messageTemplateReboot)
  (list "message-template-uncordon" $c.messageTemplateUncordon)
  (list "start-time" $c.startTime)
  (list "time-zone" $c.timeZone)
  (list "annotate-nodes" $c.annotateNodes)
  (list "prefer-no-schedule-taint" $c.preferNoScheduleTaint)
  (list "log-format" $c.logFormat)
  (list "concurrency" $c.concurrency)
-}}
{{- range $last -}}
{{- if index . 1 -}}
{{- $args = append $args (printf "--%s=%s" (index . 0) (include "kured.value" (index . 1))) -}}
{{- end -}}
{{- end -}}
{{- $ours := list
  (list "api-timeout" $c.apiTimeout)
  (list "host-pid" $c.hostPid)
  (list "reboot-timeout" $c.rebootTimeout)
  (list "reboot-loop-limit" $c.rebootLoopLimit)
  (list "reboot-loop-window" $c.rebootLoopWindow)
  (list "release-gate-timeout" $c.releaseGateTimeout)
  (list "drain-stall-timeout" $c.drainStallTimeout)
  (list "reboot-sentinel-preset" $c.rebootSentinelPreset)
  (list "alertmanager-url" $c.alertmanagerUrl)
  (list "control-plane-quorum-guard" $c.controlPlaneQuorumGuard)
  (list "control-plane-selector" $c.controlPlaneSelector)
  (list "control-plane-order" $c.controlPlaneOrder)
  (list "control-plane-settle" $c.controlPlaneSettle)
-}}
{{- range $ours -}}
{{- if not (kindIs "invalid" (index . 1)) -}}
{{- $args = append $args (printf "--%s=%s" (index . 0) (include "kured.value" (index . 1))) -}}
{{- end -}}
{{- end -}}
{{- range $c.maintenanceWindows -}}
{{- $args = append $args (printf "--maintenance-window=%s" .) -}}
{{- end -}}
{{- range $key, $value := .Values.extraArgs -}}
{{- if $value -}}
{{- $args = append $args (printf "--%s=%s" $key (include "kured.value" $value)) -}}
{{- else -}}
{{- $args = append $args (printf "--%s" $key) -}}
{{- end -}}
{{- end -}}
{{- toYaml $args -}}
{{- end -}}
