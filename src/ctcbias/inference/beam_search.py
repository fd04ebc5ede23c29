"""CTC prefix beam search over subword log-probabilities, with a word-level LM and boosting.

Standard prefix beam search (blank / non-blank ending probabilities per prefix, merged over
alignments). Each prefix also carries an *extra* score that depends only on its text: the LM
(applied when a word completes, weight ``lm_weight`` plus ``word_bonus`` per word) and the
adaptive subword boosts. Candidates per frame are the top-k units within ``prune`` of the best;
frames the model is sure are blank only advance the existing prefixes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..language_model import LanguageModel
from ..tokenizer import Tokenizer
from .biasing_list import BiasingList
from .result import Hypothesis
from .subword_boosting import EMPTY, BoostConfig, MatchState, advance, finish

__all__ = ["BeamConfig", "beam_search"]

NEG = -1e30


@dataclass(frozen=True)
class BeamConfig:
    beam: int = 10
    top_k: int = 8
    prune: float = 10.0
    blank_skip: float = -0.0005  # blank log-prob above this: a blank-only frame
    lm_weight: float = 0.5
    word_bonus: float = 1.0
    unk_offset: float = -15.0  # once, when a partial word stops being a prefix of any known word
    nbest: int = 8


@dataclass
class _Meta:
    extra: float
    lm_state: object
    word: str
    match: MatchState


def _lae(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    return a if b <= NEG else a + math.log1p(math.exp(b - a))


def beam_search(logp: np.ndarray, tok: Tokenizer, lm: LanguageModel | None = None,
                cfg: BeamConfig = BeamConfig(), bias: BiasingList | None = None,
                boost: BoostConfig | None = None) -> list[Hypothesis]:
    """N-best hypotheses (best first) for frame log-probabilities ``logp`` (frames, units)."""
    pieces = tok.pieces
    starts = np.array([p.startswith("\u2581") for p in pieces])
    trie = bias.trie if (bias is not None and boost is not None and len(bias)) else None
    # prefixes are nodes of a tree, numbered as they appear (0: the empty prefix), so extending
    # one is a dict lookup on (node, unit), not a copy and hash of an ever longer tuple
    V = logp.shape[1]
    meta: list[_Meta] = [_Meta(0.0, lm.start() if lm else None, "", EMPTY)]
    parent, last_unit = [-1], [-1]
    child: dict[int, int] = {}  # node * V + unit -> node
    beams: dict[int, list[float]] = {0: [0.0, NEG]}  # prefix node -> [log p_blank, log p_nonblank]
    k = min(cfg.top_k, logp.shape[1] - 1)
    top = np.argpartition(-logp[:, 1:], k - 1, axis=1)[:, :k] + 1
    known = lm.prefixes if lm is not None else frozenset()
    listed = bias.word_prefixes if known and bias is not None else frozenset()
    listed_words = bias.words if listed else frozenset()

    def is_known(w: str) -> bool:
        return w in known or w in listed

    def fragment(w: str) -> bool:
        """A finished word that escaped the unknown-word offset only as the start of a list word:
        it pays the offset now, so a list does not make pieces of its words cheap."""
        return w in listed and w not in known and w not in listed_words
    best_lp = logp.max(axis=1)

    def extend(prefix: int, c: int, gap: float | None) -> int:
        """The new node for ``prefix`` + unit ``c`` (the caller looked it up first)."""
        m = meta[prefix]
        extra, state, word = m.extra, m.lm_state, m.word
        piece = pieces[c]
        ws = bool(starts[c])
        if ws:
            if word and lm is not None:
                lp, state = lm.score(state, word)
                extra += cfg.lm_weight * lp + cfg.word_bonus + (cfg.unk_offset if fragment(word) else 0.0)
            elif word:
                extra += cfg.word_bonus
            word = piece[1:]
        else:
            word += piece
        # once, when the partial word stops being the start of any known word ("▁" alone is fine)
        if known and word and not is_known(word) and (ws or not m.word or is_known(m.word)):
            extra += cfg.unk_offset
        match = EMPTY
        if trie is not None:
            match, delta = advance(trie, m.match, c, ws or not prefix, gap, boost)
            extra += delta
        new = child[prefix * V + c] = len(meta)
        meta.append(_Meta(extra, state, word, match))
        parent.append(prefix)
        last_unit.append(c)
        return new

    blank_lp = logp[:, 0].tolist()
    for t in range(logp.shape[0]):
        lp = logp[t]
        lp0 = blank_lp[t]
        nxt: dict[int, list[float]] = {}

        def add(prefix, b, nb):
            cur = nxt.get(prefix)
            if cur is None:
                nxt[prefix] = [b, nb]
            else:
                cur[0], cur[1] = _lae(cur[0], b), _lae(cur[1], nb)

        if lp0 > cfg.blank_skip:  # blank-only frame
            for prefix, (pb, pnb) in beams.items():
                last_nb = pnb + float(lp[last_unit[prefix]]) if prefix else NEG
                add(prefix, _lae(pb, pnb) + lp0, last_nb)
            beams = nxt
            continue
        bt = float(best_lp[t])
        cands = [(c, v) for c in top[t].tolist() if (v := float(lp[c])) >= bt - cfg.prune]
        for prefix, (pb, pnb) in beams.items():
            total = _lae(pb, pnb)
            add(prefix, total + lp0, NEG)
            last = last_unit[prefix]
            if last > 0:
                add(prefix, NEG, pnb + float(lp[last]))
            base = prefix * V
            for c, v in cands:
                new = child.get(base + c)  # most extensions were made on an earlier frame
                if new is None:
                    new = extend(prefix, c, bt - v)
                if c == last:
                    add(new, NEG, pb + v)
                else:
                    add(new, NEG, total + v)
        scored = sorted(nxt.items(), key=lambda kv: _lae(*kv[1]) + meta[kv[0]].extra, reverse=True)
        beams = dict(scored[: cfg.beam])

    out = []
    for prefix, (pb, pnb) in beams.items():
        m = meta[prefix]
        extra = m.extra
        if lm is not None:
            state = m.lm_state
            if m.word:
                lp_w, state = lm.score(state, m.word)
                extra += cfg.lm_weight * lp_w + cfg.word_bonus + (cfg.unk_offset if fragment(m.word) else 0.0)
            extra += cfg.lm_weight * lm.end(state)
        elif m.word:
            extra += cfg.word_bonus
        if trie is not None:
            extra += finish(m.match)
        am = _lae(pb, pnb)
        units = []
        while prefix:
            units.append(last_unit[prefix])
            prefix = parent[prefix]
        units.reverse()
        out.append(Hypothesis(tuple(units), tok.decode(units), am + extra, am, extra))
    out.sort(key=lambda h: h.score, reverse=True)
    return out[: cfg.nbest]
