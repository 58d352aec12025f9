"""Generated data for ``rnnseq demo``: small, deterministic, and not trivial.

Both generators are pure Python and depend only on ``(n, seed)``.

- :func:`demo_tagging`: sentences from a small grammar with their UPOS tags.
  Several words take their tag from the context, as in real English: "run",
  "fly", "watch", "play", "light" are NOUNs after a determiner ("the fly") and
  VERBs after a subject, "to" or "can" ("birds fly"); their -s forms are plural
  NOUNs or 3rd-person VERBs ("the flies" / "it flies"); "that" is a DET before
  a noun ("that dog"), a PRON as a relative or an object ("the dog that runs",
  "we like that"), and an SCONJ after "think"/"say" ("she says that ...").
  The grammar is unambiguous: one word sequence always has one tag sequence.
- :func:`demo_sentiment`: short reviews labelled "positive"/"negative" whose
  label turns on more than single words: negation flips ("the acting was not
  good" -> negative, "not bad at all" -> positive), intensifiers do not ("very
  good"), and after "but" or in the main clause of "although ..., ..." the
  second clause decides.
"""

from __future__ import annotations

import random

from rnnseq.data.examples import ClassifyExample, TagExample

__all__ = ["demo_tagging", "demo_sentiment", "POSITIVE", "NEGATIVE"]

# ---------------------------------------------------------------- tagging grammar

Tagged = list[tuple[str, str]]  # (word, UPOS)

_NOUNS = ["dog", "cat", "teacher", "child", "bird", "run", "fly", "watch", "play", "light"]
_PLURAL = {"child": "children", "fly": "flies", "watch": "watches"}
_ADJS = ["old", "small", "happy", "red", "quick", "green"]
_TRANSITIVE = ["see", "like", "watch", "light", "play", "find"]
_INTRANSITIVE = ["run", "fly", "sleep", "play", "wait"]
_THIRD = {"fly": "flies", "watch": "watches"}
_ADVS = ["quickly", "often", "today", "again"]
_PREPS = ["in", "near", "with"]
_SUBJECT_PRONOUNS = {"I": "base", "you": "base", "we": "base", "they": "base", "he": "3sg"}
_SUBJECT_PRONOUNS |= {"she": "3sg", "it": "3sg"}
_OBJECT_PRONOUNS = ["me", "him", "her", "us", "them", "it"]


def _plural(noun: str) -> str:
    return _PLURAL.get(noun, noun + "s")


def _verb(verb: str, number: str) -> str:
    return _THIRD.get(verb, verb + "s") if number == "3sg" else verb


def _noun_phrase(rng: random.Random, depth: int, *, relative: bool = True) -> tuple[Tagged, str]:
    """DET [ADJ] NOUN [relative clause]; returns the words and "3sg" or "base" (plural)."""
    if rng.random() < 0.5:
        words = [(rng.choice(["the", "a", "this", "that"]), "DET")]
        number, noun = "3sg", rng.choice(_NOUNS)
    else:
        words = [(rng.choice(["the", "these", "some"]), "DET")]
        number, noun = "base", _plural(rng.choice(_NOUNS))
    if rng.random() < 0.3:
        words.append((rng.choice(_ADJS), "ADJ"))
    words.append((noun, "NOUN"))
    if relative and depth < 2 and rng.random() < 0.2:
        words += [("that", "PRON"), *_verb_phrase(rng, number, depth + 1, clause=False)]
    return words, number


def _object(rng: random.Random, depth: int) -> Tagged:
    r = rng.random()
    if r < 0.2:
        return [(rng.choice(_OBJECT_PRONOUNS), "PRON")]
    if r < 0.3:
        return [("that", "PRON")]
    return _noun_phrase(rng, depth)[0]


def _verb_phrase(rng: random.Random, number: str, depth: int, *, clause: bool = True) -> Tagged:
    """The predicate for a subject of ``number``; ``clause`` allows "that"-clauses."""
    r = rng.random()
    if r < 0.35:  # transitive verb and object
        words = [(_verb(rng.choice(_TRANSITIVE), number), "VERB"), *_object(rng, depth)]
    elif r < 0.55:  # intransitive verb, maybe an adverb or a place
        words = [(_verb(rng.choice(_INTRANSITIVE), number), "VERB")]
        if rng.random() < 0.3:
            words.append((rng.choice(_ADVS), "ADV"))
        elif rng.random() < 0.3:
            words += [(rng.choice(_PREPS), "ADP"), *_noun_phrase(rng, depth, relative=False)[0]]
    elif r < 0.65:  # modal + bare verb
        words = [(rng.choice(["can", "will"]), "AUX"), (rng.choice(_INTRANSITIVE), "VERB")]
    elif r < 0.75:  # copula + adjective
        be = {"3sg": "is", "base": "are", "1sg": "am"}[number]
        words = [(be, "AUX"), (rng.choice(_ADJS), "ADJ")]
    elif r < 0.87:  # want to + verb
        words = [(_verb("want", number), "VERB"), ("to", "PART")]
        if rng.random() < 0.5:
            words += [(rng.choice(_TRANSITIVE), "VERB"), *_object(rng, depth)]
        else:
            words.append((rng.choice(_INTRANSITIVE), "VERB"))
    elif clause and depth < 2:  # think / say that + clause
        verb = _verb(rng.choice(["think", "say"]), number)
        words = [(verb, "VERB"), ("that", "SCONJ"), *_clause(rng, depth + 1)]
    else:
        words = [(_verb(rng.choice(_INTRANSITIVE), number), "VERB")]
    return words


def _clause(rng: random.Random, depth: int) -> Tagged:
    if rng.random() < 0.35:
        pronoun = rng.choice(list(_SUBJECT_PRONOUNS))
        number = _SUBJECT_PRONOUNS[pronoun]
        subject = [(pronoun, "PRON")]
        if pronoun == "I":
            number = "1sg"
    else:
        subject, number = _noun_phrase(rng, depth)
    verb_number = "base" if number == "1sg" else number
    predicate = _verb_phrase(rng, verb_number, depth)
    if predicate[0][0] == "are" and number == "1sg":
        predicate[0] = ("am", "AUX")
    return subject + predicate


def demo_tagging(n: int, seed: int = 0) -> list[TagExample]:
    """``n`` generated sentences with UPOS tags, the same for the same seed."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"rnnseq.demo_tagging:{seed}")
    examples = []
    for _ in range(n):
        words = _clause(rng, 0)
        if rng.random() < 0.15:
            words += [("and", "CCONJ"), *_clause(rng, 1)]
        words.append((".", "PUNCT"))
        examples.append(TagExample([w for w, _ in words], [t for _, t in words]))
    return examples


# ------------------------------------------------------------- sentiment reviews

POSITIVE, NEGATIVE = "positive", "negative"
_ASPECTS = ["the acting", "the plot", "the music", "the ending", "the story", "the cast"]
_ASPECTS += ["the script", "this film", "the movie"]
_GOOD = ["good", "great", "excellent", "wonderful", "moving", "funny", "clever"]
_BAD = ["bad", "boring", "awful", "terrible", "dull", "weak", "predictable"]
_INTENSIFIERS = ["very", "really", "truly", "quite", "so"]
_NEGATORS = ["not", "never", "hardly"]
_LIKE, _DISLIKE = ["liked", "loved", "enjoyed"], ["hated", "disliked"]


def _opinion(rng: random.Random) -> tuple[list[str], bool]:
    """One clause and whether it is positive."""
    positive = rng.random() < 0.5
    adjective = rng.choice(_GOOD if positive else _BAD)
    r = rng.random()
    if r < 0.6:  # the acting was [not] [very] good [at all]
        words = [*rng.choice(_ASPECTS).split(), rng.choice(["was", "is"])]
        negated = rng.random() < 0.45
        if negated:
            words.append(rng.choice(_NEGATORS))
        if words[-1] not in ("hardly", "never") and rng.random() < 0.35:
            words.append(rng.choice(_INTENSIFIERS))
        words.append(adjective)
        if negated and words[-2] == "not" and rng.random() < 0.5:
            words += ["at", "all"]
        return words, positive != negated
    if r < 0.75:  # not bad at all
        return ["not", adjective, "at", "all"], not positive
    # i [did not] like the plot
    if rng.random() < 0.4:
        verb = rng.choice(["like", "love", "enjoy"] if positive else ["hate", "dislike"])
        words = ["i", "did", "not", verb, *rng.choice(_ASPECTS).split()]
        return words, not positive
    words = ["i", rng.choice(_LIKE if positive else _DISLIKE), *rng.choice(_ASPECTS).split()]
    return words, positive


def demo_sentiment(n: int, seed: int = 0) -> list[ClassifyExample]:
    """``n`` generated reviews labelled POSITIVE or NEGATIVE, the same for the same seed."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"rnnseq.demo_sentiment:{seed}")
    examples = []
    for _ in range(n):
        words, positive = _opinion(rng)
        r = rng.random()
        if r < 0.2:  # first clause, but second clause: the second decides
            second, positive = _opinion(rng)
            words = [*words, "but", *second]
        elif r < 0.3:  # although first clause, second clause
            second, positive = _opinion(rng)
            words = ["although", *words, ",", *second]
        examples.append(ClassifyExample(words, POSITIVE if positive else NEGATIVE))
    return examples
