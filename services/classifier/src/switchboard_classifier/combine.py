"""Rules and model together: the classifier the stream and the CLI both use.

Combination policy (one batch at a time; every step leaves a reason):

1. Language: the mention's stated language, else py3langid. The rule pack of
   that language runs (English, Spanish); other languages get the model alone.
2. Urgency. Rules give an urgency from their topics and cues; the model gives
   probabilities over critical/high/normal/low.
   - A critical rule hit (a critical topic, or a threat-to-life cue, not
     negated and not suppressed) is never lowered silently: only a model at
     least `lower_critical_confidence` sure that the mention is normal or low
     (None, the default: never) lowers it to that, with the reason
     `model_lowered_critical` on the mention for the officer and the audit.
     The lexicon reads "shooting" in "shooting hoops"; an agency's own model
     may know better, and cross-validation decides whether it does.
   - Otherwise the model's label counts when its probability is at least
     `model_confidence`: the final urgency is the more urgent of the rules'
     and the model's. Rules can raise the model; the model can raise rules,
     by one level beside rules that fired unless it is at least
     `raise_any_confidence` sure.
   - A model at least `lower_confidence` sure may lower a non-critical rule
     urgency to its own label: a model trained on an agency's own mentions
     can outvote a generic lexicon. To raise a mention to critical the model
     needs `critical_confidence`; below it, it raises to high at most. The
     three thresholds (None: never) are chosen by `switchboard train` by
     cross-validation on the training data and kept in the model's metadata
     (`combination`), which the classifier follows.
   - When the rules suppressed the mention (an idiom, a joke, fiction or news
     from elsewhere) or saw a negation, the model may not raise it above
     normal: "this album is fire" stays low whatever the n-grams say.
   - When no rule fired at all and the model is unsure, the model's label is
     used anyway (it is the only opinion), so unknown phrasing still gets an
     answer; its probability is the score.
   The score is the model's probability of the final urgency, or the rules'
   fixed confidence when the rules decided and the model disagreed; then it
   is calibrated by the map `switchboard train` measured by cross-validation
   (kept in the model's metadata), so a score of 0.8 is right about 80 % of
   the time.
3. Topics: the rules' topics, plus the model's topics with probability at
   least `topic_threshold`, or `topic_threshold_beside_rules` when the rules
   found topics of their own (not added when the rules suppressed the
   mention; both chosen by `switchboard train` with the other thresholds).
   `irrelevant` only stands alone.
   Before any of this, when the model carries a meaning head, the cascade
   (`cascade`) averages the model's probabilities with the head's for the
   share of the batch the model is least sure of; those mentions carry a
   `meaning` reason.
4. Place: address, intersection, landmark or the geo point, and the district.
5. Versions: the rule set's and the model's, recorded on each classification.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from switchboard_classifier.cascade import Cascade
from switchboard_classifier.language import LanguageDetector, default_detector, primary_subtag
from switchboard_classifier.model import URGENCY_LABELS, TextModel
from switchboard_classifier.place import Found, Places
from switchboard_classifier.rules import (
    IRRELEVANT,
    RULE_SCORE,
    Hit,
    Ruleset,
    RuleVerdict,
    evaluate,
    to_reasons,
)
from switchboard_shared.events import Classification, Location, MentionIn, Urgency

_URGENCIES = tuple(Urgency(label) for label in URGENCY_LABELS)
_RANK_INDEX = {urgency: URGENCY_LABELS.index(urgency.value) for urgency in _URGENCIES}
_RANK = {urgency: urgency.rank for urgency in _URGENCIES}  # a dict lookup, not a property call
# Model topics below this probability are left out of `topic_scores`.
TOPIC_SCORE_FLOOR = 0.1
_RULE_TOPIC_SCORE = RULE_SCORE[Urgency.CRITICAL]  # the score of a topic the rules found
_IRRELEVANT_ONLY = (IRRELEVANT,)


def _calibration_points(model: TextModel | None) -> tuple[list[float], list[float]] | None:
    """The score calibration `switchboard train` measured for this model, if any."""
    table = model.meta.get("calibration") if model else None
    if not table or not table.get("points"):
        return None
    return [p[0] for p in table["points"]], [p[1] for p in table["points"]]


def _interpolate(x: float, xs: list[float], ys: list[float]) -> float:
    """Piecewise-linear through the points, flat beyond the ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    k = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


# What a confident model may lower a critical rule hit to (never to high: a high is
# still pulled out for an officer, so lowering to it would only hide the rule's call).
_NOT_ACTIONABLE = (Urgency.NORMAL, Urgency.LOW)


class Policy(NamedTuple):
    """The thresholds that let the model move the rules' urgency (see the module docstring)."""

    model_confidence: float
    critical_confidence: float
    lower_confidence: float | None = None
    raise_any_confidence: float | None = None
    topic_threshold: float = 0.5
    # Beside topics the rules found, the model may need to be surer to add its own
    # (None: the same threshold).
    topic_threshold_beside_rules: float | None = None
    # None: a critical rule hit is never lowered. A probability: a model at least this
    # sure of normal or low lowers it, and says so in the reasons.
    lower_critical_confidence: float | None = None


class Decision(NamedTuple):
    """One classification as plain values; `Classifier.classification` makes the event.

    A named tuple: one is made per mention, and a tuple is built in C.
    """

    urgency: Urgency
    score: float
    topics: tuple[str, ...]
    topic_scores: dict[str, float]
    reasons: tuple[Hit, ...]
    language: str
    location: Location | None
    district: str | None


@dataclass(frozen=True)
class Classifier:
    """Everything one classification needs, swapped as a whole on reload."""

    ruleset: Ruleset
    model: TextModel | None = None
    places: Places | None = None
    languages: LanguageDetector | None = None
    model_confidence: float = 0.5
    # Raising a mention to critical pulls an officer off other work: the model
    # must be surer of that than of any other raise. 0.6 was chosen by 4-fold
    # cross-validation on the gold set's train part (`switchboard evaluate
    # --folds 4`): a third fewer false criticals for one more miss in 154, and
    # that one still goes out as high (the table is in docs/classifier.md). A model
    # trained with a combination policy brings its own (see `policy`).
    critical_confidence: float = 0.6
    topic_threshold: float = 0.5
    topic_threshold_beside_rules: float | None = None
    # None: the model never lowers the rules' urgency. A probability: a model at
    # least this sure may lower a non-critical rule urgency to its own label.
    lower_confidence: float | None = None
    # None: beside rules that fired the model raises one level at most. A
    # probability: a model at least this sure may raise further.
    raise_any_confidence: float | None = None
    # None: a critical rule hit is never lowered. A probability: a model at least
    # this sure that the mention is normal or low lowers it (a visible reason).
    lower_critical_confidence: float | None = None
    # The thresholds above come from the model's metadata when it carries a policy.
    use_model_policy: bool = True
    # Share of mentions the model's meaning head may see (None: the share it was
    # trained with; 0: never, the n-gram stage alone).
    meaning_share: float | None = None
    # Built from the two above: stateful (its budget), so one per classifier.
    cascade: Cascade | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Built, and the encoder loaded and hash-checked, here: a classifier that
        # cannot use its meaning head fails when it is made, so a reload keeps the
        # last good one instead of failing on the first doubtful mention.
        # getattr: evaluation's scikit-learn peer stands in for a model and has no head.
        head = getattr(self.model, "meaning", None)
        if head is not None and self.model is not None:
            share = self.model.meaning_share if self.meaning_share is None else self.meaning_share
            object.__setattr__(self, "cascade", Cascade.for_share(head, share))

    @property
    def versions(self) -> dict[str, str | None]:
        """The versions this classifier records."""
        return {
            "ruleset": self.ruleset.version,
            "model": self.model.version if self.model else None,
            "places": self.places.version if self.places else None,
        }

    def classify_texts(
        self, texts: Sequence[str], *, languages: Sequence[str | None] | None = None
    ) -> list[Classification]:
        """Classify texts (with their languages, if known); mentions go to `classify_mentions`."""
        return [self.classification(d) for d in self.decide(texts, languages=languages)]

    def classification(self, decision: Decision) -> Classification:
        """The event form of a decision, with the versions that made it."""
        # Every field of a decision is one of the event's; only the reasons change form.
        fields = decision._asdict() | {"reasons": to_reasons(decision.reasons)}
        return Classification(
            **fields,
            ruleset_version=self.ruleset.version,
            model_version=self.model.version if self.model else None,
        )

    def decide(
        self,
        texts: Sequence[str],
        *,
        languages: Sequence[str | None] | None = None,
        mentions: Sequence[MentionIn] | None = None,
    ) -> list[Decision]:
        """`classify_texts` as plain values, for callers that need no event (the CLI)."""
        n = len(texts)
        stated = list(languages) if languages is not None else [None] * n
        if all(stated):  # the detector's model takes a while to load: only when needed
            langs = [primary_subtag(hint) for hint in stated if hint]
        else:
            langs = (self.languages or default_detector()).detect_many(texts, stated)
        predictions = self.model.predict(texts) if self.model else None
        refined: tuple[int, ...] = ()
        if predictions is not None and self.cascade is not None:
            predictions, refined = self.cascade.refine(texts, langs, predictions)
        found = (
            self.places.locate_many(
                texts,
                [m.geo for m in mentions] if mentions else [None] * n,
                [m.district for m in mentions] if mentions else [None] * n,
            )
            if self.places
            else None
        )
        calibration = _calibration_points(self.model)
        policy = self.policy
        # numpy rows become Python lists once per batch: indexing numpy per mention is slow
        urgency_rows: list[list[float]] = []
        topic_rows: list[list[tuple[str, float]]] = []
        if predictions is not None and self.model is not None:
            urgency_rows = predictions.urgency.tolist()
            labels = self.model.topic_labels
            listed = predictions.topics >= TOPIC_SCORE_FLOOR
            rows, columns = np.nonzero(listed)
            scores = np.round(predictions.topics[listed], 3)
            topic_rows = [[] for _ in texts]
            for row, column, score in zip(
                rows.tolist(), columns.tolist(), scores.tolist(), strict=True
            ):
                topic_rows[row].append((labels[column], score))
        refined_rows = frozenset(refined)
        return [
            self._one(
                text,
                langs[i],
                urgency_rows[i] if urgency_rows else None,
                topic_rows[i] if topic_rows else [],
                found[i] if found is not None else None,
                calibration,
                policy,
                refined=i in refined_rows,
            )
            for i, text in enumerate(texts)
        ]

    @property
    def policy(self) -> Policy:
        """How far the model may move the rules: the lowering, raising, critical and
        topic thresholds the model was trained with (chosen by cross-validation on its
        own training data) unless `use_model_policy` is off, else this classifier's own."""
        chosen = self.model.meta.get("combination") if self.model else None
        lower, raise_any = self.lower_confidence, self.raise_any_confidence
        critical, topic = self.critical_confidence, self.topic_threshold
        beside = self.topic_threshold_beside_rules
        lower_critical = self.lower_critical_confidence
        if self.use_model_policy and isinstance(chosen, dict):
            lower_critical = chosen.get("lower_critical_confidence")
            lower, raise_any = chosen.get("lower_confidence"), chosen.get("raise_any_confidence")
            critical = chosen.get("critical_confidence", critical)
            topic = chosen.get("topic_threshold", topic)
            beside = chosen.get("topic_threshold_beside_rules", beside)
        return Policy(
            self.model_confidence, critical, lower, raise_any, topic, beside, lower_critical
        )

    @staticmethod
    def _weigh_model(
        urgency: Urgency,
        verdict: RuleVerdict | None,
        held: bool,
        model_urgency: Urgency,
        model_p: float,
        policy: Policy,
    ) -> Urgency:
        """The urgency once the model has had its say beside the rules (no critical hit)."""
        rank = _RANK
        rules_fired = bool(verdict and verdict.topics)
        confident = model_p >= policy.model_confidence or verdict is None
        if confident and rank[model_urgency] < rank[urgency]:
            ceiling = Urgency.NORMAL if held else Urgency.CRITICAL
            if rules_fired and (
                policy.raise_any_confidence is None or model_p < policy.raise_any_confidence
            ):
                # Beside rules that fired, the model raises by one level unless it is
                # sure enough to be trusted over the lexicon.
                ceiling = _URGENCIES[max(rank[ceiling], rank[urgency] - 1)]
            raised = model_urgency if rank[model_urgency] >= rank[ceiling] else ceiling
            if raised is Urgency.CRITICAL and model_p < policy.critical_confidence:
                raised = Urgency.HIGH
            return raised if rank[raised] < rank[urgency] else urgency
        if (
            rules_fired
            and policy.lower_confidence is not None
            and model_p >= policy.lower_confidence
            and rank[model_urgency] > rank[urgency]
            and urgency is not Urgency.CRITICAL  # a critical rule urgency is never lowered
        ):
            # A model trained on the agency's own mentions outvotes a generic lexicon
            # that over-reads them (news, sympathy, commentary); chosen by CV.
            return model_urgency
        return urgency

    def _one(
        self,
        text: str,
        language: str,
        probs: list[float] | None,
        model_topics: list[tuple[str, float]],
        found: Found | None,
        calibration: tuple[list[float], list[float]] | None = None,
        policy: Policy | None = None,
        *,
        refined: bool = False,
    ) -> Decision:
        # Hits, decisions and the like are built positionally: this runs for every mention.
        policy = policy or self.policy
        ruleset = self.ruleset
        verdict = evaluate(ruleset, text, language) if ruleset.packs_for(language) else None
        reasons: list[Hit] = list(verdict.reasons) if verdict else []
        topic_scores: dict[str, float] = dict(model_topics)
        model_urgency: Urgency | None = None
        model_p = 0.0
        if probs is not None:
            model_p = max(probs)
            model_urgency = _URGENCIES[probs.index(model_p)]
            if refined:  # these probabilities are the cascade's average: say so
                reasons.append(Hit("meaning", model_urgency.value, (f"{model_p:.2f}",)))

        suppressed = verdict is not None and verdict.suppressed
        rule_topics = list(verdict.topics) if verdict is not None and not suppressed else []
        if verdict is not None and verdict.critical_hit:
            urgency = Urgency.CRITICAL
            lower_critical = policy.lower_critical_confidence
            if (
                lower_critical is not None
                and model_urgency in _NOT_ACTIONABLE
                and model_p >= lower_critical
            ):
                # Never silent: the reason names the model and how sure it was.
                assert model_urgency is not None
                urgency = model_urgency
                reasons.append(Hit("model_lowered_critical", urgency.value, (f"{model_p:.2f}",)))
        else:
            urgency = verdict.urgency if verdict is not None and verdict.topics else Urgency.LOW
            if model_urgency is not None:
                held = verdict is not None and (suppressed or verdict.negated)
                weighed = self._weigh_model(urgency, verdict, held, model_urgency, model_p, policy)
                if weighed is not urgency:  # the model moved the rules: say so
                    urgency = weighed
                    reasons.append(Hit("model", urgency.value, (f"{model_p:.2f}",)))
        if probs is not None:
            score = probs[_RANK_INDEX[urgency]]
            if verdict is not None and verdict.topics and urgency is verdict.urgency:
                score = max(score, RULE_SCORE[urgency])
        else:
            score = RULE_SCORE[urgency]
        if calibration is not None:
            score = _interpolate(score, *calibration)

        topics = rule_topics  # already in the rule set's order
        if rule_topics:
            threshold = policy.topic_threshold_beside_rules
            if threshold is None:
                threshold = policy.topic_threshold
            rule_topic_score = _RULE_TOPIC_SCORE
            for t in rule_topics:
                topic_scores[t] = max(topic_scores.get(t, 0.0), rule_topic_score)
        else:
            threshold = policy.topic_threshold
        if not suppressed:
            for label, p in topic_scores.items():
                if p >= threshold and label not in topics and label != IRRELEVANT:
                    topics.append(label)
        if found is None:
            location = district = None
        else:
            location, district = found
        return Decision(
            urgency,
            round(min(max(score, 0.0), 1.0), 3),
            tuple(topics) or _IRRELEVANT_ONLY,
            topic_scores,
            tuple(reasons),
            language,
            location,
            district,
        )

    def classify_mentions(self, mentions: Sequence[MentionIn]) -> list[Classification]:
        """Classify a batch of canonical mentions."""
        return [self.classification(d) for d in self.decide_mentions(mentions)]

    def decide_mentions(self, mentions: Sequence[MentionIn]) -> list[Decision]:
        """`classify_mentions` as plain values."""
        return self.decide(
            [m.text for m in mentions],
            languages=[m.language for m in mentions],
            mentions=mentions,
        )
