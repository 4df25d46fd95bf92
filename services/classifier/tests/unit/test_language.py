from switchboard_classifier.language import default_detector


def test_languages_are_detected_offline_in_a_batch():
    texts = [
        "someone just got shot outside the Shell on 5th and Main",
        "hay un tiroteo en la calle 8, escuché disparos",
        "Il y a des coups de feu près de la gare centrale",
        "Meu pai desmaiou e não está respirando",
    ]
    assert default_detector().detect_many(texts, [None] * 4) == ["en", "es", "fr", "pt"]


def test_a_stated_language_wins_and_is_reduced_to_its_primary_subtag():
    assert default_detector().detect_many(["hello there"], ["es-MX"]) == ["es"]
