import shutil
import socket

import numpy as np
import pytest

from switchboard_classifier.meaning import (
    DIMENSION,
    Encoder,
    EncoderFiles,
    MeaningBudget,
    MeaningModelError,
    uncertainty,
)


@pytest.fixture(scope="module")
def encoder():
    return Encoder.load()


def _refuse_network(*args, **kwargs):
    raise OSError("network access attempted by the sentence encoder")


def test_the_encoder_loads_and_encodes_with_the_network_unavailable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", _refuse_network)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse_network)
    monkeypatch.setattr(socket, "create_connection", _refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)
    vectors = Encoder.load().encode(["a man collapsed on the platform", "se quema la casa"])
    assert vectors.shape == (2, DIMENSION) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def _copies(tmp_path):
    files = EncoderFiles.packaged()
    weights, tokenizer = tmp_path / "weights.npz", tmp_path / "sp.model"
    shutil.copyfile(files.weights, weights)
    shutil.copyfile(files.tokenizer, tokenizer)
    return EncoderFiles(weights=weights, tokenizer=tokenizer)


def test_an_untouched_copy_of_the_files_loads(tmp_path):
    assert Encoder.load(_copies(tmp_path)).encode(["fire"]).shape == (1, DIMENSION)


def test_tampered_weights_are_refused(tmp_path):
    files = _copies(tmp_path)
    data = bytearray(files.weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    files.weights.write_bytes(bytes(data))
    with pytest.raises(MeaningModelError, match=r"weights\.npz: sha256 .* expected"):
        Encoder.load(files)


def test_a_swapped_tokenizer_is_refused(tmp_path):
    files = _copies(tmp_path)
    files.tokenizer.write_bytes(files.tokenizer.read_bytes()[:-16])
    with pytest.raises(MeaningModelError, match=r"sp\.model: sha256"):
        Encoder.load(files)


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    files = EncoderFiles(weights=tmp_path / "absent.npz", tokenizer=tmp_path / "absent.model")
    with pytest.raises(MeaningModelError, match=r"absent\.npz: cannot read"):
        Encoder.load(files)


# Each row: a text, a paraphrase in other words (or the other language), an unrelated text.
PARAPHRASES = [
    (
        "a man collapsed on the platform and isn't breathing",
        "someone fainted at the train station and has stopped breathing",
        "the bakery on Elm Street has a new sourdough",
    ),
    (
        "my roommate just texted goodbye and locked herself in",
        "my flatmate sent me a farewell message and shut herself in her room",
        "the parking meters downtown take cards now",
    ),
    (
        "se está quemando la casa de al lado y hay niños",
        "hay fuego en la casa vecina y dentro hay niños",
        "mañana abren la biblioteca a las diez",
    ),
    (
        "a man collapsed on the platform and isn't breathing",
        "un hombre se desplomó en el andén y no respira",
        "the bakery on Elm Street has a new sourdough",
    ),
    (
        "this beat is fire",
        "this song is amazing, it slaps",
        "the house next door is burning",
    ),
    (
        "dying of laughter",
        "me muero de risa",
        "the patient is dying",
    ),
]


@pytest.mark.parametrize(("text", "paraphrase", "unrelated"), PARAPHRASES)
def test_a_paraphrase_is_closer_than_an_unrelated_text(encoder, text, paraphrase, unrelated):
    ((to_paraphrase, to_unrelated),) = encoder.similarity([text], [paraphrase, unrelated])
    assert to_paraphrase > to_unrelated + 0.1


def test_encoding_is_deterministic_and_per_text(encoder):
    alone = encoder.encode(["shots fired near the school"])
    in_batch = encoder.encode(["thank you officers", "shots fired near the school"])
    assert np.allclose(alone[0], in_batch[1], atol=1e-5)
    assert encoder.encode([]).shape == (0, DIMENSION)


def test_uncertainty_is_zero_when_sure_and_one_when_all_classes_are_equal():
    u = uncertainty(
        np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]])
    )
    assert u[0] == pytest.approx(0.0, abs=1e-6) and u[1] == pytest.approx(1.0)
    assert 0.0 < u[2] < 1.0


def _batch(rng, n):
    return rng.dirichlet(np.full(4, 0.5), size=n)


def test_the_budget_takes_the_most_uncertain_rows_of_a_batch():
    probabilities = np.array(
        [
            [0.97, 0.01, 0.01, 0.01],
            [0.3, 0.3, 0.2, 0.2],
            [0.01, 0.01, 0.01, 0.97],
            [0.5, 0.4, 0.05, 0.05],
        ]
    )
    chosen = MeaningBudget(share=0.5).select(probabilities)
    assert list(chosen) == [1, 3]


def test_priority_puts_rows_first_but_never_makes_a_confident_row_eligible():
    probabilities = np.array(
        [
            [0.3, 0.3, 0.2, 0.2],
            [0.5, 0.3, 0.1, 0.1],
            [0.97, 0.01, 0.01, 0.01],
        ]
    )
    spanish = np.array([0.0, 0.5, 0.5])
    budget = MeaningBudget(share=1 / 3, min_uncertainty=0.3)
    assert list(budget.select(probabilities, priority=spanish)) == [1]
    assert list(MeaningBudget(share=1.0, min_uncertainty=0.3).select(probabilities, spanish)) == [
        0,
        1,
    ]


def test_the_budget_never_exceeds_its_share_of_the_stream():
    rng = np.random.default_rng(7)
    budget = MeaningBudget(share=0.03)
    seen = taken = 0
    for size in rng.integers(1, 400, size=200):
        taken += len(budget.select(_batch(rng, int(size))))
        seen += int(size)
        assert taken <= 0.03 * seen
    assert taken >= 0.03 * seen - 1  # and spends it when doubtful rows come


def test_one_mention_batches_still_get_their_share():
    rng = np.random.default_rng(3)
    budget = MeaningBudget(share=0.1)
    taken = sum(len(budget.select(_batch(rng, 1))) for _ in range(1000))
    assert 95 <= taken <= 100


def test_confident_rows_are_never_sent_however_large_the_budget():
    budget = MeaningBudget(share=1.0, min_uncertainty=0.5)
    sure = np.tile([0.98, 0.01, 0.005, 0.005], (50, 1))
    assert len(budget.select(sure)) == 0


def test_a_share_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="share"):
        MeaningBudget(share=1.5)


def test_another_installed_version_is_refused_with_what_to_do(monkeypatch):
    from switchboard_classifier import meaning

    monkeypatch.setattr(meaning.metadata, "version", lambda name: "0.3.0")
    with pytest.raises(MeaningModelError, match=r"0\.3\.0 is installed.*uv sync"):
        Encoder.load()


def test_a_missing_package_is_refused_with_what_to_do(monkeypatch):
    from switchboard_classifier import meaning

    def absent(name):
        raise meaning.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(meaning.metadata, "version", absent)
    with pytest.raises(MeaningModelError, match=r"not installed.*uv sync"):
        Encoder.load()
