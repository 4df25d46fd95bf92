"""The figures of a classifier's answers against gold records, and the tables they make.

Per-label precision, recall and F1, the confusion matrix, topics, actionable
(critical or high) figures, hard negatives, calibration and the calibration
map `combine` applies; the headline summary of a report and its terminal
table. Pure: no Kafka, no faust, no classifier (only its answers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from switchboard_classifier.model import URGENCY_LABELS
from switchboard_shared.events import Classification

URGENT = ("critical", "high")


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _binned(
    scored: Sequence[tuple[float, bool]], bins: int
) -> list[tuple[float, float, int, float]]:
    """Equal-width bins of (score, right) pairs, those that hold any:
    (bin start, mean score, count, share right). A score of 1.0 is in the last bin."""
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for s, ok in scored:
        members[min(int(s * bins), bins - 1)].append((s, ok))
    return [
        (k / bins, sum(s for s, _ in m) / len(m), len(m), sum(ok for _, ok in m) / len(m))
        for k, m in enumerate(members)
        if m
    ]


def urgency_outcomes(
    records: Sequence[dict[str, Any]], predicted: Sequence[Classification]
) -> list[tuple[float, bool]]:
    """(score, whether the urgency was right) for every record labelled with an urgency."""
    return [
        (p.score, r["urgency"] == p.urgency.value)
        for r, p in zip(records, predicted, strict=True)
        if r.get("urgency") in URGENCY_LABELS
    ]


def calibration(scored: Sequence[tuple[float, bool]], bins: int = 10) -> dict[str, Any]:
    """How far the urgency score is from how often the urgency is right.

    Scores are put in `bins` equal-width bins; in each, the mean score is set
    against the share that was right. The expected calibration error (ECE) is
    the mean gap, weighted by how many scores fell in the bin: 0 means a
    score of 0.8 is right 80 % of the time.
    """
    if not scored:
        return {"ece": None, "bins": []}
    table = _binned(scored, bins)
    ece = sum(count / len(scored) * abs(mean - right) for _, mean, count, right in table)
    return {
        "ece": round(ece, 4),
        "bins": [
            {
                "scores": f"{low:.1f}-{low + 1 / bins:.1f}",
                "count": count,
                "mean_score": round(mean, 3),
                "right": round(right, 3),
            }
            for low, mean, count, right in table
        ],
    }


def score(records: Sequence[dict[str, Any]], predicted: Sequence[Classification]) -> dict[str, Any]:
    """Per-label precision/recall/F1, macro-F1, confusion matrix, calibration, topics, hard negatives."""
    report: dict[str, Any] = {"records": len(records)}
    pairs = [
        (r["urgency"], p.urgency.value)
        for r, p in zip(records, predicted, strict=True)
        if r.get("urgency") in URGENCY_LABELS
    ]
    if pairs:
        matrix = [[0] * len(URGENCY_LABELS) for _ in URGENCY_LABELS]
        for truth, guess in pairs:
            matrix[URGENCY_LABELS.index(truth)][URGENCY_LABELS.index(guess)] += 1
        per_label = {}
        for k, label in enumerate(URGENCY_LABELS):
            tp = matrix[k][k]
            fp = sum(matrix[j][k] for j in range(len(URGENCY_LABELS))) - tp
            fn = sum(matrix[k]) - tp
            per_label[label] = {**_prf(tp, fp, fn), "support": sum(matrix[k])}
        report["urgency"] = {
            "calibration": calibration(urgency_outcomes(records, predicted)),
            "per_label": per_label,
            "macro_f1": round(sum(v["f1"] for v in per_label.values()) / len(per_label), 4),
            "accuracy": round(sum(t == g for t, g in pairs) / len(pairs), 4),
            "confusion_matrix": {
                "labels (rows: truth, columns: predicted)": list(URGENCY_LABELS),
                "matrix": matrix,
            },
        }
    tagged = [
        (set(r["topics"]), set(p.topics))
        for r, p in zip(records, predicted, strict=True)
        if isinstance(r.get("topics"), list)
    ]
    if tagged:
        labels = sorted({t for truth, guess in tagged for t in truth | guess})
        per_topic = {}
        tp_all = fp_all = fn_all = 0
        for label in labels:
            tp = sum(label in t and label in g for t, g in tagged)
            fp = sum(label not in t and label in g for t, g in tagged)
            fn = sum(label in t and label not in g for t, g in tagged)
            tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
            per_topic[label] = {**_prf(tp, fp, fn), "support": tp + fn}
        report["topics"] = {
            "per_label": per_topic,
            "micro": _prf(tp_all, fp_all, fn_all),
            "micro_f1": _prf(tp_all, fp_all, fn_all)["f1"],
            "macro_f1": round(sum(v["f1"] for v in per_topic.values()) / len(per_topic), 4),
        }
    if pairs:
        report["actionable"] = _prf(
            sum(t in URGENT and g in URGENT for t, g in pairs),
            sum(t not in URGENT and g in URGENT for t, g in pairs),
            sum(t in URGENT and g not in URGENT for t, g in pairs),
        )
        # The crying-wolf figure an operations centre feels: mentions that need no
        # action (gold `low`) put in front of an officer as critical or high.
        no_action = [g for t, g in pairs if t == "low"]
        if no_action:
            flagged = sum(g in URGENT for g in no_action)
            report["no_action"] = {
                "count": len(no_action),
                "flagged_critical_or_high": flagged,
                "rate": round(flagged / len(no_action), 4),
            }
    hard = [p for r, p in zip(records, predicted, strict=True) if r.get("hard_negative")]
    if hard:
        false_alarms = sum(p.urgency.value in URGENT for p in hard)
        report["hard_negatives"] = {
            "count": len(hard),
            "false_critical_or_high": false_alarms,
            "rate": round(false_alarms / len(hard), 4),
        }
    return report


def summary(report: dict[str, Any]) -> dict[str, float | None]:
    """The headline figures of one report, for the side-by-side table."""
    urgency = report.get("urgency") or {}
    critical = (urgency.get("per_label") or {}).get("critical") or {}
    actionable = report.get("actionable") or {}
    hard = report.get("hard_negatives") or {}
    no_action = report.get("no_action") or {}
    return {
        "macro_f1": urgency.get("macro_f1"),
        "critical_recall": critical.get("recall") if critical.get("support") else None,
        "critical_precision": critical.get("precision") if critical.get("support") else None,
        "actionable_precision": actionable.get("precision"),
        "actionable_recall": actionable.get("recall"),
        "actionable_f1": actionable.get("f1"),
        "hard_negative_false_alarms": hard.get("rate"),
        "no_action_flagged": no_action.get("rate"),
        "ece": (urgency.get("calibration") or {}).get("ece"),
    }


def mean_summary(summaries: Sequence[dict[str, float | None]]) -> dict[str, float | None]:
    """Each figure's mean over the summaries that have it (a source may lack hard negatives)."""
    keys = summaries[0].keys() if summaries else ()
    out: dict[str, float | None] = {}
    for key in keys:
        values = [s[key] for s in summaries if s.get(key) is not None]
        out[key] = (
            round(sum(v for v in values if v is not None) / len(values), 4) if values else None
        )
    return out


def summary_table(summaries: dict[str, dict[str, float | None]], title: str = "") -> str:
    """The summary rows as a fixed-width table for a terminal."""
    columns = [
        ("macro-F1", "macro_f1"),
        ("crit R", "critical_recall"),
        ("crit P", "critical_precision"),
        ("act P", "actionable_precision"),
        ("act R", "actionable_recall"),
        ("act F1", "actionable_f1"),
        ("hard-neg FA", "hard_negative_false_alarms"),
        ("low flagged", "no_action_flagged"),
        ("ECE", "ece"),
    ]
    lines = [title] if title else []
    lines.append(f"{'':10}" + "".join(f"{name:>12}" for name, _ in columns))
    for row, figures in summaries.items():
        cells = "".join(
            f"{'-' if figures.get(key) is None else format(figures[key], '.3f'):>12}"
            for _, key in columns
        )
        lines.append(f"{row:10}{cells}")
    return "\n".join(lines)


def fit_calibration(
    scored: Sequence[tuple[float, bool]], bins: int = 10, prior: float = 5.0
) -> dict[str, Any]:
    """A map from raw urgency score to how often that urgency is right, for `combine`.

    Histogram binning: in each bin, the share that was right, pulled towards
    the bin's mean score by `prior` pseudo-counts (a bin of three says little),
    then made non-decreasing (pool adjacent violators), since a higher raw
    score must never mean less confidence. Stored as points (raw, calibrated)
    between which `combine` interpolates.
    """
    # [mean raw score, calibrated, weight] per bin
    points = [
        [mean, (right * count + prior * mean) / (count + prior), count]
        for _, mean, count, right in _binned(scored, bins)
    ]
    merged: list[list[float]] = []
    for point in points:
        merged.append(point)
        while len(merged) > 1 and merged[-2][1] > merged[-1][1]:
            b, a = merged.pop(), merged.pop()
            weight = a[2] + b[2]
            merged.append(
                [
                    (a[0] * a[2] + b[0] * b[2]) / weight,
                    (a[1] * a[2] + b[1] * b[2]) / weight,
                    weight,
                ]
            )
    return {
        "method": f"histogram binning, {bins} bins, prior {prior}, non-decreasing",
        "records": len(scored),
        "points": [[round(x, 4), round(y, 4)] for x, y, _ in merged],
    }


def to_json(report: dict[str, Any]) -> str:
    """The report as pretty JSON."""
    return json.dumps(report, indent=2, ensure_ascii=False)
