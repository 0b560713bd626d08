"""The annotation prompt, following the structure the NuNER paper describes: label as many
entities, concepts and ideas as possible, invent types beyond the classic ones (abstract ones
too), never a part of speech nor a meaningless span, one `entity <> concept <> description` line
each. No offsets are asked for: LLMs count badly, spans are found by string match."""

from __future__ import annotations

PROMPT_VERSION = "nuner-v1"

SYSTEM = "You are a meticulous annotator building a dataset for open entity recognition."

INSTRUCTIONS = """Annotate the input text for entity recognition.
- Label as many entities, concepts and ideas from the text as you can.
- Invent entity types beyond the traditional NER ones (person, organisation, location): specific types and
  abstract concepts and ideas are welcome.
- A concept names what the entity is, never a part of speech (not "noun", "verb", "adjective").
- Skip meaningless spans.
- Copy each entity exactly as it appears in the text.
Answer with one line per entity and nothing else, in English:
entity from the text <> entity concept <> short description of the concept

Example
Input: The Eiffel Tower attracts millions of tourists to Paris every year.
Output:
Eiffel Tower <> landmark <> famous structure that attracts visitors
tourists <> traveler <> person visiting a place for pleasure
Paris <> city <> large human settlement
every year <> frequency <> how often something happens

Input: {text}
Output:"""


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": INSTRUCTIONS.format(text=text)}]
