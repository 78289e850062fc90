"""Judge: turn image uses (and, online, the registry's answers) into findings.

A module for each kind of rule, each imported where it is used: an offline check loads only
`candidates` and `offline`, and `lifecycle` and `vulnerable` load when their rules are on.

- `candidates`: `Candidate`, how one is made, and `settle` (candidates -> findings).
- `offline`: `invalid`, `unresolved`, `unpinned`, `latest`, `disallowed`, the `eol` rules'
  findings; `judge_offline`.
- `online`: `stale-digest`, `platforms`, `old-image`, `outdated` and the reference a use's
  fixes write; `asks_registry`.
- `fixes`: `plan_fixes`, each fix's edit or why there is none.
- `judging`: `judge` (online), its `Verdict`, `incomplete_of`.
- `lifecycle`: `EolAdvisor`, the `eol` and `eol-soon` verdicts.
- `vulnerable`: the `vulnerable` rule: what to scan, the scan, its findings and fix deltas.
"""
