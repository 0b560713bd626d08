"""`annotate`: raw sentences -> NuNER JSONL, through an LLM, cached and resumable.

Requests run concurrently; the output keeps input order. Every answer line that is not an
annotation, every entity not found in its sentence, every sentence dropped for the concept
"concept" and every failed request is written to the rejects file with its reason.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
from pathlib import Path

from tqdm.auto import tqdm

from nuner_jax.data.annotate.cache import ResponseCache, cache_key
from nuner_jax.data.annotate.client import AnnotationRequestError, ChatClient, ClientConfig
from nuner_jax.data.annotate.prompt import messages
from nuner_jax.data.example import Rejects
from nuner_jax.data.formats.lines import utf8_lines
from nuner_jax.data.formats.nuner import annotations_to_example, parse_annotation


def read_sentences(path: Path, rejects: Rejects) -> list[tuple[str, str]]:
    """(id, text) from a text file (one sentence a line) or JSONL with 'text' or 'input' (and 'id')."""
    out = []
    jsonl = path.suffix in (".jsonl", ".json")
    for number, line in utf8_lines(path, rejects):
        if not line.strip():
            continue
        if jsonl:
            try:
                rec = json.loads(line)
                text = rec.get("text", rec.get("input"))
                if not isinstance(text, str):
                    raise KeyError("needs a string 'text' or 'input'")
            except (json.JSONDecodeError, KeyError, AttributeError) as e:
                rejects.add(path, number, f"malformed record: {e}", line[:500])
                continue
            out.append((str(rec.get("id", f"line-{number}")), text))
        else:
            out.append((f"line-{number}", line.strip()))
    ids = [i for i, _ in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate ids in the input")
    return out


@dataclasses.dataclass
class AnnotateSummary:
    sentences: int = 0
    cached: int = 0
    requested: int = 0
    http_attempts: int = 0
    failed: int = 0
    written: int = 0
    annotations: int = 0
    rejects: dict = dataclasses.field(default_factory=dict)


def annotate(input_path: str | Path, out_path: str | Path, client_cfg: ClientConfig = ClientConfig(),
             concurrency: int = 8, cache_path: str | Path | None = None) -> AnnotateSummary:
    input_path, out_path = Path(input_path), Path(out_path)
    rejects = Rejects()
    sentences = read_sentences(input_path, rejects)
    if not sentences:
        raise ValueError(f"{input_path}: no sentences to annotate")
    cache = ResponseCache(cache_path or out_path.with_suffix(".cache.sqlite"))
    client = ChatClient(client_cfg)
    summary = AnnotateSummary(sentences=len(sentences))
    answers: dict[str, str | None] = {}
    todo = []
    for sid, text in sentences:
        msgs = messages(text)
        key = cache_key(client_cfg.model, msgs)
        hit = cache.get(key)
        if hit is not None:
            answers[sid] = hit
            summary.cached += 1
        else:
            todo.append((sid, msgs, key))

    def fetch(item):
        sid, msgs, key = item
        content = client.complete(msgs)
        cache.put(key, content)  # cached the moment it arrives: a killed run never asks again
        return sid, content

    with cf.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool, \
            tqdm(total=len(todo), desc="annotate", unit="req") as bar:
        futures = {pool.submit(fetch, item): item[0] for item in todo}
        for fut in cf.as_completed(futures):
            sid = futures[fut]
            try:
                _, answers[sid] = fut.result()
                summary.requested += 1
            except AnnotationRequestError as e:
                answers[sid] = None
                summary.failed += 1
                rejects.add(input_path, sid, f"request failed: {e}")
            bar.update(1)
    summary.http_attempts = client.requests_sent
    cache.close()

    with out_path.open("w", encoding="utf-8") as f:
        for sid, text in sentences:
            answer = answers.get(sid)
            if answer is None:
                continue
            lines = [ln.strip() for ln in answer.splitlines() if ln.strip()]
            kept = []
            for ln in lines:
                if isinstance(parse_annotation(ln), str):
                    rejects.add(input_path, sid, f"answer line skipped: {parse_annotation(ln)}", ln)
                else:
                    kept.append(ln)
            ex = annotations_to_example(sid, text, kept, input_path, rejects)
            if ex is None:
                continue
            found = {ex.span_text(s) for s in ex.spans}
            kept = [ln for ln in kept if parse_annotation(ln)[0] in found]
            f.write(json.dumps({"id": sid, "input": text, "output": kept}, ensure_ascii=False) + "\n")
            summary.written += 1
            summary.annotations += len(kept)
    rejects.write(out_path.with_suffix(".rejects.jsonl"))
    summary.rejects = rejects.count_by_reason()
    return summary
