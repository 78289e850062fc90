"""Kubernetes manifests: pod specs wherever they sit, several documents, Helm templates left
unread with a note."""

from __future__ import annotations

import pytest

from basepin.extract.kubernetes import looks_like_kubernetes, parse_kubernetes
from extract.helpers import D1, assert_uses_fit, fixed, rows

MANIFEST = "k8s/app.yaml"

ALL_KINDS = """\
apiVersion: v1
kind: Pod
metadata: {name: pod}
spec:
  initContainers:
    - name: init
      image: busybox:1.36
  containers:
    - name: app
      image: nginx:1.27
  ephemeralContainers:
    - name: debug
      image: "busybox:1.37"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - {name: web, image: 'ghcr.io/acme/web:2'}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: job
              # basepin: ignore[latest]
              image: acme/job
---
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db}
    spec:
      template:
        spec:
          containers: [{name: pg, image: postgres:16}]
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: canary}
    spec:
      template:
        spec:
          containers:
            - name: c
              image: >-
                acme/canary:3
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-pod}
data:
  image: nginx
  containers: "- image: nope"
---
# a document without apiVersion and kind is no object
spec:
  containers: [{image: ignored}]
"""


def test_pod_specs_wherever_they_sit() -> None:
    parsed = parse_kubernetes(ALL_KINDS, MANIFEST)
    assert rows(parsed) == [
        ("kubernetes-container", 7, 14, 26, "busybox:1.36", True),
        ("kubernetes-container", 10, 14, 24, "nginx:1.27", True),
        ("kubernetes-container", 13, 15, 27, "busybox:1.37", True),
        ("kubernetes-container", 23, 31, 49, "ghcr.io/acme/web:2", True),
        ("kubernetes-container", 38, 22, 30, "acme/job", True),
        ("kubernetes-container", 49, 42, 53, "postgres:16", True),
        ("kubernetes-container", 59, 17, 30, "acme/canary:3", True),
    ]
    assert [use.stage for use in parsed.uses] == [
        "Pod/pod/init",
        "Pod/pod/app",
        "Pod/pod/debug",
        "Deployment/web/web",
        "CronJob/nightly/job",
        "StatefulSet/db/pg",
        "Rollout/canary/c",
    ]
    assert parsed.uses[4].ignored_rules == frozenset({"latest"})
    assert parsed.problems == ()
    assert parsed.notes == ()
    assert_uses_fit(parsed)


def test_fixes_in_every_style() -> None:
    parsed = parse_kubernetes(ALL_KINDS, MANIFEST)
    after, _ = fixed({MANIFEST: ALL_KINDS}, parsed.uses)
    expected = ALL_KINDS
    for old in (
        "busybox:1.36",
        "nginx:1.27",
        "busybox:1.37",
        "ghcr.io/acme/web:2",
        "acme/job\n",
        "postgres:16",
        "acme/canary:3",
    ):
        new = old.rstrip("\n") + f"@{D1}" + ("\n" if old.endswith("\n") else "")
        expected = expected.replace(old, new, 1)
    assert after[MANIFEST] == expected


def test_aliases_name_one_place() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n"
        "  spec: &spec\n    containers: [{name: c, image: nginx}]\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec: *spec\n"
    )
    parsed = parse_kubernetes(text, MANIFEST)
    assert rows(parsed) == [("kubernetes-container", 8, 35, 40, "nginx", True)]


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n"
        "spec:\n  containers:\n  - image: nginx\n",
        "{{- if .Values.enabled }}\napiVersion: v1\nkind: Pod\nspec:\n"
        "  containers: [{image: nginx}]\n{{- end }}\n",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
        "  - image: {{ .Values.image }}:{{ .Values.tag }}\n",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx\n"
        "    args:\n    - {{ .Values.arg }}\n",
        'apiVersion: v1\nkind: Pod\nspec:\n  containers: [{image: "x" {{ .X }}]\n',
    ],
)
def test_templates_are_left_unread_with_a_note(text: str) -> None:
    parsed = parse_kubernetes(text, MANIFEST)
    assert parsed.uses == ()
    assert parsed.problems == ()
    (note,) = parsed.notes
    assert note.message.startswith("skipped: a Go template")
    assert text[note.offset : note.offset + 2] == "{{"


def test_templates_inside_strings_are_data() -> None:
    text = (
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n"
        "  - rules:\n    - annotations:\n        description: Pod {{ $labels.pod }} is down\n"
        '        summary: "{{ $value }} restarts"\n'
        "---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
        '  - image: "registry/{{ .Values.name }}"\n'
    )
    parsed = parse_kubernetes(text, MANIFEST)
    assert parsed.notes == ()
    (use,) = parsed.uses
    assert not use.resolved
    assert use.unresolved_reason is not None
    assert "template" in use.unresolved_reason


def test_broken_manifest() -> None:
    parsed = parse_kubernetes(
        "apiVersion: v1\nkind: Pod\nspec:\n  containers: [image: x\n", MANIFEST
    )
    assert [(p.line, p.message[:15]) for p in parsed.problems] == [(5, "not valid YAML:")]


def test_documents_before_an_error_are_read() -> None:
    text = "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{image: a}]\n---\nkind: [\n"
    parsed = parse_kubernetes(text, MANIFEST)
    assert [use.reference for use in parsed.uses] == ["a"]
    assert len(parsed.problems) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiVersion: v1\nkind: Pod\n", True),
        ("---\napiVersion: apps/v1\nkind:   Deployment\n", True),
        ("kind: Pod\n", False),
        ("spec:\n  apiVersion: v1\n  kind: Pod\n", False),
        ("services: {}\n", False),
    ],
)
def test_looks_like_kubernetes(text: str, expected: bool) -> None:
    assert looks_like_kubernetes(text) is expected
