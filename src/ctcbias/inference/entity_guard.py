"""The false-positive guard: an entity the search put in must sound like the audio.

Subword boosting (1) and unigram boosting (2) pull entity spellings into the beam; with a long
list, some distractor will fit the subword head's guesses somewhere. The phone head is an
independent witness: for each entity span of a hypothesis (frames from a forced alignment of its
subwords), the phones it heard there are compared with the entity's pronunciations (G2P and
grapheme-to-grapheme variants). The best hypothesis whose every entity is within
``max_distance`` (normalized phone edit distance) wins; if none is, the call falls back to the
hypothesis without the list's boosts. The distance is tuned on dev
(``scripts/tune_decoder.py --stage bias``): it trades a few true entities for most false ones.

    >>> okafor = [("OW", "K", "AA", "F", "AO", "R")]
    >>> heard = phone_string(["OW", "K", "AA", "F", "ER"])  # one vowel off: within the guard's 0.4
    >>> round(phone_distance(heard, okafor), 2), round(phone_distance(phone_string(["L", "IH", "S", "AH", "N"]), okafor), 2)
    (0.33, 1.0)
    >>> phone_distance("", okafor)  # nothing heard there: as far as can be
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

from ..tokenizer import Tokenizer
from .align import greedy_phones, heard_between, phone_string, word_frames
from .biasing_list import BiasingList
from .result import Evidence, Hypothesis, entity_spans

__all__ = ["EntityGuard", "entity_distances", "phone_distance", "verified"]


def phone_distance(heard: str, prons) -> float:
    """Normalized phone edit distance from what the phone head heard (a :func:`phone_string`) to
    the closest of an entity's pronunciations; 1.0 where nothing was heard."""
    return min(Levenshtein.normalized_distance(heard, phone_string(p)) for p in prons) if heard else 1.0


def entity_distances(tokens: list[int], text: str, logp: np.ndarray, phone_logp: np.ndarray, tok: Tokenizer,
                     bias: BiasingList, heard: list[tuple[int, int]] | None = None, memo: dict | None = None
                     ) -> list[tuple[int, int, int, float]] | None:
    """(start, end, entry, distance) of each entity span in ``text``. None when the hypothesis
    cannot be aligned to the audio. ``heard``: the phone head's greedy phones, when the caller
    already has them (they do not depend on the hypothesis); ``memo``: see ``word_frames``."""
    words = text.split()
    spans = entity_spans(words, bias)
    if not spans:
        return []
    frames = word_frames(tokens, logp, tok, memo=memo)
    if frames is None or len(frames) != len(words):
        return None
    if heard is None:
        heard = greedy_phones(phone_logp)
    out = []
    for s, e, k in spans:
        q = heard_between(heard, frames[s][0], frames[e - 1][1])
        out.append((s, e, k, phone_distance(q, bias.prons(k))))
    return out


def verified(nbest: list[Hypothesis], logp: np.ndarray, phone_logp: np.ndarray, tok: Tokenizer,
             bias: BiasingList, max_distance: float, memo: dict | None = None) -> Hypothesis | None:
    """The best hypothesis whose entities all sound like the audio, or None. Below the top, only
    a hypothesis that holds an entity counts: one without any is there only because the boosts
    re-ranked the beam (it may hold the remains of an entity they started and dropped, such as
    one long unknown word), so the search without the list is the better fallback."""
    heard = greedy_phones(phone_logp)
    for i, h in enumerate(nbest):
        d = entity_distances(list(h.tokens), h.text, logp, phone_logp, tok, bias, heard, memo)
        if d is not None and (d or i == 0) and all(x[3] <= max_distance for x in d):
            return h
    return None


@dataclass(frozen=True)
class EntityGuard:
    """The guard as a :class:`~ctcbias.inference.result.HypothesisFilter`: the hypothesis
    :func:`verified` picks, alone, or none when every hypothesis holds an entity the audio does
    not support (the caller decides what stands instead)."""

    max_distance: float

    def apply(self, nbest: list[Hypothesis], ev: Evidence) -> list[Hypothesis]:
        best = verified(nbest, ev.post.subword, ev.post.phone, ev.tokenizer, ev.bias, self.max_distance, ev.memo)
        return [best] if best is not None else []
