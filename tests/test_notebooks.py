"""The notebooks run top to bottom (code cells executed in order, as a kernel would) on small settings."""

from __future__ import annotations

import json
from pathlib import Path


from nuner_jax.eval.fewshot import FewShotConfig, evaluate_models
from pretrain_fixtures import tiny_config, tiny_setup

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(path: Path) -> dict:
    namespace: dict = {"__name__": "__main__"}
    cells = json.loads(path.read_text())["cells"]
    for i, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
        source = "".join(cell["source"])
        try:
            exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"{path.name}: code cell {i} failed: {type(e).__name__}: {e}") from e
    return namespace


def test_quickstart(monkeypatch, capsys):
    monkeypatch.delenv("NUNER_MODEL", raising=False)
    ns = run_notebook(NOTEBOOKS / "quickstart.ipynb")
    assert len(ns["results"]) == 3
    for text, spans in zip(ns["texts"], ns["results"]):
        assert all(text[s.start : s.end] == s.text for s in spans)
    assert "<mark" in ns["entities_html"](ns["texts"][0], ns["results"][0]) or not ns["results"][0]
    assert ns["few"].classes[0] == "O"


def test_analysis(tmp_path, monkeypatch, capsys):
    from nuner_jax.train.loop import train

    model_dir, shards = tiny_setup(tmp_path / "tiny")
    run = tmp_path / "run"
    train(tiny_config(model_dir, shards, run, **{"train.steps": 4, "train.eval_every": 2, "train.export": False}))
    rows = evaluate_models(["minilm"], ["crossner_politics"], FewShotConfig(ks=(1,), seeds=(0,), test_cap=40))
    fs = tmp_path / "fewshot"
    fs.mkdir()
    (fs / "fewshot.json").write_text(json.dumps({"rows": rows}))
    monkeypatch.setenv("NUNER_RUN", str(run))
    monkeypatch.setenv("NUNER_FEWSHOT", str(fs))
    ns = run_notebook(NOTEBOOKS / "analysis.ipynb")
    assert len(ns["train_rows"]) == 4 and len(ns["eval_rows"]) == 2
    assert "crossner_politics" in capsys.readouterr().out
