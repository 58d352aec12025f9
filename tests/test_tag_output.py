"""rnnseq.tasks.tag_output: learned tags -> the file's scheme and entities, the same
whether an input's predictions come in one block or window by window."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from rnnseq.data.tokenize import pretokenized
from rnnseq.tag_schemes import convert, spans
from rnnseq.tasks.tag_output import JsonWriter, TagBlock, TagOutput, format_tsv

IOBES = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "E-LOC", "S-LOC", "I-LOC"]


def _block(text: str, tags: list[str], probs: list[float]) -> TagBlock:
    tokens = [(t.text, t.start, t.end) for t in pretokenized(text)]
    return TagBlock(tokens, list(tags), list(probs), None)


def _run(block, cuts, source, learned, text):
    """Feed ``block`` cut at ``cuts``; the tokens given back (one block) and the entities."""
    out = TagOutput(source, learned)
    given = TagBlock([], [], [], None)
    start = 0
    for end in [*cuts, len(block)]:
        given = given.then(out.add(block.cut(start, end), text))
        start = end
    given = given.then(out.finish(text))
    return given, out.entities


@given(
    tags=st.lists(st.sampled_from(IOBES), min_size=1, max_size=25),
    cuts=st.lists(st.integers(0, 25), max_size=4),
    source=st.sampled_from(["IOB1", "IOB2", "IOBES"]),
)
def test_blocks_give_the_tags_and_entities_of_the_whole_input(tags, cuts, source):
    text = " ".join(f"w{k}" for k in range(len(tags)))
    block = _block(text, tags, [0.5] * len(tags))
    cuts = sorted(c for c in cuts if c <= len(tags))
    whole, whole_entities = _run(block, [], source, "IOBES", text)
    streamed, entities = _run(block, cuts, source, "IOBES", text)
    assert streamed == whole and entities == whole_entities
    assert whole.tokens == block.tokens and whole.probabilities == block.probabilities
    assert whole.tags == convert(tags, "IOBES", source)
    found = {(e.label, e.start, e.end) for e in entities}
    tokens = pretokenized(text)
    expected = {(k, tokens[a].start, tokens[b - 1].end) for k, a, b in spans(tags, "IOBES")}
    assert found == expected
    assert all(text[e.start : e.end] == e.text for e in entities)


def test_an_entity_scores_the_product_of_its_tokens_probabilities():
    text = "Angela Merkel visited Paris"
    block = _block(text, ["B-PER", "E-PER", "O", "S-LOC"], [0.9, 0.8, 0.99, 0.7])
    _, entities = _run(block, [1], "IOB2", "IOBES", text)
    (per, loc) = entities
    assert (per.text, per.label, per.start, per.end) == ("Angela Merkel", "PER", 0, 13)
    assert math.isclose(per.score, 0.9 * 0.8) and math.isclose(loc.score, 0.7)
    given, _ = _run(block, [], "IOB2", "IOBES", text)
    assert given.tags == ["B-PER", "I-PER", "O", "B-LOC"]
    assert given.probabilities == [0.9, 0.8, 0.99, 0.7]


def test_tags_without_a_span_scheme_pass_through_with_no_entities():
    text = "the dog runs"
    given, entities = _run(_block(text, ["DET", "NOUN", "VERB"], [1, 1, 1]), [1], None, None,
                           text)  # fmt: skip
    assert given.tags == ["DET", "NOUN", "VERB"] and entities == []
    assert format_tsv(given) == "the\tDET\ndog\tNOUN\nruns\tVERB\n"


def test_the_json_writer_writes_one_object_from_its_pieces():
    text = "Angela Merkel visited Paris"
    block = _block(text, ["B-PER", "E-PER", "O", "S-LOC"], [0.9, 0.8, 0.99, 0.7])
    out = TagOutput("IOB2", "IOBES")
    writer = JsonWriter(spans=True)
    parts = [writer.begin(text), writer.tokens(out.add(block.cut(0, 2), text))]
    parts += [writer.tokens(out.add(block.cut(2), text)), writer.tokens(out.finish(text))]
    parts.append(writer.end(out.entities))
    line = "".join(parts)
    assert line.endswith("}\n") and line.count("\n") == 1
    obj = json.loads(line)
    assert [t["tag"] for t in obj["tokens"]] == ["B-PER", "I-PER", "O", "B-LOC"]
    assert [e["text"] for e in obj["entities"]] == ["Angela Merkel", "Paris"]
    assert JsonWriter(spans=False).end([]) == "]}\n"
