"""Stand-ins the classifier's tests share."""

from switchboard_classifier.combine import Classifier


class ExplodingClassifier(Classifier):
    """A classifier whose rules raise on a batch with "boom" in a text, as a bug in a rule would."""

    def classify_mentions(self, mentions):
        if any("boom" in m.text for m in mentions):
            raise RuntimeError("rule blew up")
        return super().classify_mentions(mentions)
