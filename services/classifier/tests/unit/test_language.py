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


def test_the_batch_walk_agrees_with_py3langid_text_by_text():
    # detect_many walks py3langid's byte automaton for a whole batch in numpy;
    # it must pick what py3langid itself picks for each text.
    import json
    from pathlib import Path

    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from switchboard_classifier import language

    data = Path(language.__file__).parent / "data" / "gold_test.jsonl"
    texts = [json.loads(line)["text"] for line in data.read_text("utf-8").splitlines()]
    texts += ["ÉL ESTÁ ARMADO, AYUDA", "日本語のテキスト", "x" * 300, "مرحبا بكم"]
    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    reference.set_languages(list(language.DEFAULT_LANGUAGES))
    detected = default_detector().detect_many(texts, [None] * len(texts))
    assert detected == [reference.classify(text)[0] for text in texts]
    assert {"en", "es"} <= set(detected)


def test_the_compiled_walk_counts_what_the_numpy_walk_counts_on_the_gold_texts(gold_texts):
    import numpy as np

    texts = list(gold_texts)
    texts += ["ÉL ESTÁ ARMADO, AYUDA", "日本語のテキスト", "x" * 300, "مرحبا بكم", "", " "]
    detector = default_detector()
    encoded = [detector._identifier._encode(text) for text in texts]
    compiled = detector._feature_counts(encoded)
    reference = detector._feature_counts_in_numpy(encoded)
    assert compiled.shape == reference.shape
    assert np.array_equal(compiled.indptr, reference.indptr)
    assert np.array_equal(compiled.indices, reference.indices)
    assert compiled.data.dtype == reference.data.dtype
    assert np.array_equal(compiled.data, reference.data)


def test_the_scores_over_the_batchs_own_features_are_py3langids_bit_for_bit(gold_texts):
    import numpy as np

    # detect_many widens only the table rows of the features a batch holds, instead of
    # letting scipy widen the whole float16 table at every batch: the scores must not move.
    detector = default_detector()
    ident = detector._identifier
    texts = [*gold_texts, "ÉL ESTÁ ARMADO, AYUDA", "日本語のテキスト", "x" * 300, "مرحبا بكم", ""]
    for batch in (texts, texts[:1], texts[-5:], texts[::7], ["", " "]):
        counts = detector._feature_counts([ident._encode(text) for text in batch])
        counts.data = np.log1p(counts.data)
        compact = np.asarray(detector._scores(counts))
        whole = np.asarray(counts @ ident.nb_ptc + ident.nb_pc)
        assert compact.shape == whole.shape == (len(batch), len(ident.nb_classes))
        assert compact.dtype == whole.dtype == np.float32
        assert np.array_equal(compact.view(np.uint32), whole.view(np.uint32))
