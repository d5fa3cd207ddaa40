"""The pass: one model's pull (change window, id keyset, followed parents, deletions) and one
all-or-nothing pass over every configured model. Public face: ``run_pass`` and its report."""

from syncd.sync.engine import run_pass
from syncd.sync.report import ModelReport, PassReport

__all__ = ["ModelReport", "PassReport", "run_pass"]
