"""Judge: turn image uses (and, online, the registry's answers) into findings.

The stage's face: what the command line and the tests call. Each rule lives in the module
of its kind (see each module's docstring); this package only hands their names on.
"""

from basepin.rules.judging import (
    Candidate,
    Verdict,
    asks_registry,
    incomplete_of,
    is_allowed,
    judge,
    judge_offline,
    offline_candidates,
    plan_fixes,
    settle,
)

__all__ = [
    "Candidate",
    "Verdict",
    "asks_registry",
    "incomplete_of",
    "is_allowed",
    "judge",
    "judge_offline",
    "offline_candidates",
    "plan_fixes",
    "settle",
]
