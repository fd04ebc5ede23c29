"""Pronunciation lexicon lookup (technique 4).

The best hypothesis is aligned to the audio (word spans from a CTC forced alignment). Every span
of 1-5 words is a *place* where an entity may have been misheard ("listen april" for
"lisinopril"). Three steps:

1. **Shortlist** (cheap): the phone head's greedy reading of the span is compared with every
   entry's quick pronunciation by normalized edit distance (rapidfuzz, C++, all spans against all
   entries in one call); each span's closest few within ``shortlist_distance`` go on, at most
   ``max_candidates`` per hypothesis.
2. **Spot** (keyword spotting, :func:`~ctcbias.inference.align.ctc_keyword_scores`): each entry's
   best CTC alignment *anywhere* in the phone posteriors, whatever the words say there. The best
   ``spotted`` entries bring the words under their best place as one more candidate each: this
   finds entities that the words hide or split badly ("toma" for "to eramala"). For every
   candidate, how well its entry fits its best place and whether that place is this span are
   evidence for the judge. (Lists of up to ``spot_pool`` entries are spotted with each entry's
   pronunciation variants; bigger ones only with the quick pronunciations of the ``spot_pool``
   entries nearest to the heard phones: the search costs time per keyword and frame.) With the
   contextual adapter, the few entries it attends to most come in too, on the words where it
   attends to them.
3. **Judge** (the evidence, on a window from the word before the span to the word after it):

   - phone gain: phone-head CTC log-likelihood of the window with the entity's pronunciations
     (G2P and grapheme-to-grapheme variants, best one) minus with the current words' (in all, and
     per frame of the window);
   - subword gain: the same on the subword head, with the entity's spelling;
   - LM gain: the sentence's LM score with the entity (through the boosted OOV class) minus
     without, weighted as in the beam search;
   - fit: how far the entity's phone alignment is from the unconstrained best path, per frame
     (and the same for the current words), the span's length in frames, the entity's length in
     phones and words, and the list's size (chance matches grow with it);
   - heard: the edit distance of the greedy phones to the entry's and to the current words';
   - spotted: the entry's keyword-spotting cost per phone, and the share of its best place inside
     the span.

   - attended (joint biasing only): how strongly the contextual adapter attends to the entry on
     the span's frames, how many entries it attends to more there, and how much it attends to
     ``<no-bias>``.

   A small network over these (:class:`LookupModel`, 16 tanh units, fitted on dev by ``ctcbias
   train lookup``, shipped as ``lexicon_lookup.json`` beside the stack, and
   ``lexicon_lookup_joint.json`` with the adapter's evidence) turns them into one score; spans
   scoring above ``threshold`` are replaced, best first, without overlaps.

   One veto before the judge: words that are exactly what the phone head heard, and that *both*
   heads prefer to the entry, stay. A short entry that fits inside a well-heard word ("Cay" in
   "cake") gets a perfect spotting fit and an LM gain from the boosted class, which together
   can outweigh two negative gains in the judge.

The judge is the guard against false positives: a 1000-entry list always has *some* entry whose
pronunciation is near some span, but rarely one whose alignment beats the words already there on
both heads and the LM.

    >>> from ctcbias.inference.align import phone_string
    >>> from rapidfuzz.distance import Levenshtein
    >>> heard, said = phone_string(["OW", "K", "AA", "F", "ER"]), phone_string(["OW", "K", "AA", "F", "AO", "R"])
    >>> round(Levenshtein.normalized_distance(heard, said), 2)  # "Okafor" heard with one vowel off
    0.33
"""

from __future__ import annotations

import math

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from ..language_model import LanguageModel
from ..tokenizer import PhoneSet, Tokenizer
from .align import (KeywordGraph, best_places, ctc_cost_windows, ctc_keyword_track, greedy_phones,
                    heard_between, index_string, phone_string, window_best, word_frames)
from .biasing_list import BiasingList, word_prons
from .lookup_judge import LookupModel
from .result import Evidence, Hypothesis, entity_spans

__all__ = ["LexiconLookup", "candidates", "keyword_graph", "lookup", "quick_choices", "vetoed"]

_PH = PhoneSet()


_CAP = 30.0  # a gain where one side cannot be aligned at all
_POOL_DISTANCE = 0.9  # edit distances up to this are exact (the spotting pool is picked by them)
_RANKED = 64  # attention ranks count among the utterance's this many most attended entries


def quick_choices(bias: BiasingList) -> list[str]:
    """Each entry's quick pronunciation as a :func:`phone_string`, kept with the list."""
    return bias.derived("quick_choices", lambda b: [phone_string(e.quick) for e in b.entries])


def keyword_graph(bias: BiasingList, variants: int = 3) -> tuple[KeywordGraph, np.ndarray]:
    """Up to ``variants`` full pronunciations of every entry as one keyword-spotting graph, and
    the entry of each keyword; kept with the list (for small lists: each needs the entries' G2P)."""
    def make(b: BiasingList) -> tuple[KeywordGraph, np.ndarray]:
        full = b.prons_many(range(len(b)))
        pairs = [(k, p) for k in range(len(b)) for p in full[k][:variants] if p] or [(0, ())]
        return KeywordGraph([[_PH.index[x] for x in p] for _, p in pairs]), np.array([k for k, _ in pairs])

    return bias.derived(f"keyword_graph:{variants}", make)


def _lm_total(lm: LanguageModel, words: list[str], lm_weight: float, word_bonus: float) -> float:
    state, total = lm.start(), 0.0
    for w in words:
        lp, state = lm.score(state, w)
        total += lm_weight * lp + word_bonus
    return total + lm_weight * lm.end(state)


def _costs(logp: np.ndarray, jobs: dict[tuple, list[tuple[int, int, list[int]]]]) -> dict[tuple, float]:
    """Best (lowest) CTC cost per key over its (first frame, last frame, units) variants, all in one
    batched CTC call."""
    flat = [(key, v) for key, variants in jobs.items() for v in variants if v[2] and len(v[2]) <= v[1] - v[0] + 1]
    out: dict[tuple, float] = {}
    for (key, _), c in zip(flat, ctc_cost_windows(logp, [v for _, v in flat])):
        if np.isfinite(c):
            out[key] = min(out.get(key, math.inf), float(c))
    return out


def candidates(tokens: list[int], text: str, logp: np.ndarray, phone_logp: np.ndarray, tok: Tokenizer,
               bias: BiasingList, lm: LanguageModel | None = None, lm_weight: float = 0.5,
               word_bonus: float = 1.0, shortlist_distance: float = 0.7, shortlist: int = 10,
               max_words: int = 5, max_candidates: int = 150, spotted: int = 20, spotted_fit: float = 1.5,
               spot_pool: int = 100, memo: dict | None = None, attention: np.ndarray | None = None,
               attended: int = 5, spot_margin: int = 0) -> list[dict]:
    """Every shortlisted (span, entry) of the hypothesis with its evidence (:data:`FEATURES`),
    plus ``start``, ``end`` (word indices) and ``entry``: each span's ``shortlist`` closest entries
    within ``shortlist_distance``, at most ``max_candidates`` in all; plus up to ``spotted`` entries
    whose keyword-spotting cost per phone is at most ``spotted_fit``, on the words under their best
    place. Each candidate's spotting evidence is its entry's best place within ``spot_margin``
    frames of the candidate's window.

    ``attention``: the contextual adapter's weights per entry, ``(frames, 1 + entries)`` with
    ``<no-bias>`` first (joint biasing). Then every candidate also carries
    :data:`ATTENTION_FEATURES`, and the ``attended`` entries the adapter attended to most come in
    as candidates on the words where their attention is at least half its peak (marked
    ``"attended": True``): the adapter often names an entity that neither the words nor the phone
    head bring near."""
    words = text.split()
    if not words or not len(bias):
        return []
    frames = word_frames(tokens, logp, tok, memo=memo)
    if frames is None or len(frames) != len(words):
        return []
    heard = greedy_phones(phone_logp)
    choices = quick_choices(bias)
    protected = {i for s, e, _ in entity_spans(words, bias) for i in range(s, e)}
    prons = word_prons(set(words))
    T = phone_logp.shape[0]

    def ph(ws: list[str]) -> list[int]:
        return [_PH.index[p] for w in ws for p in (prons[w][0] if prons[w] else ())]

    spans, queries = [], []
    for i in range(len(words)):
        for n in range(1, min(max_words, len(words) - i) + 1):
            e = i + n
            if any(j in protected for j in range(i, e)):
                break
            q = heard_between(heard, frames[i][0], frames[e - 1][1])
            if len(q) >= 2:
                spans.append((i, e))
                queries.append(q)
    places: dict[tuple[int, int], tuple[int, int]] = {}  # (start, end) -> window frames
    shortlisted: dict[tuple[int, int], list[tuple[int, float]]] = {}  # (entry, distance to what was heard)
    heard_current: dict[tuple[int, int], float] = {}
    # every span against every entry in one C++ call (the entries are converted once, not per span)
    dist = process.cdist(queries, choices, scorer=Levenshtein.normalized_distance, dtype=np.float32,
                         score_cutoff=max(shortlist_distance, _POOL_DISTANCE)) if queries else None
    near: list[tuple[float, int, int]] = []  # (distance, span, entry), each span's closest few
    for j, row in enumerate(dist if dist is not None else ()):
        ks = np.flatnonzero(row <= shortlist_distance)
        near += [(float(row[k]), j, int(k)) for k in ks[np.lexsort((ks, row[ks]))][:shortlist]]
    # the closest over all spans: each candidate costs CTC alignments, and long hypotheses against
    # big lists would otherwise bring hundreds
    def add(i: int, e: int, q: str, k: int, d: float) -> None:
        if (i, e) not in places:
            # the window: from the word before the span to the word after it, which anchor it
            places[(i, e)] = (frames[i - 1][0] if i else 0, frames[e][1] if e < len(words) else T - 1)
            shortlisted[(i, e)] = []
            heard_current[(i, e)] = Levenshtein.normalized_distance(q, index_string(ph(words[i:e])))
        shortlisted[(i, e)].append((k, d))

    for d, j, k in sorted(near)[:max_candidates]:
        add(*spans[j], queries[j], k, d)
    # keyword spotting (step 2 above): where does each entry fit best, whatever the words say?
    if len(bias) <= spot_pool:
        # a small list: every entry, with its pronunciation variants
        g, owner = keyword_graph(bias)
    elif dist is None:  # the phone head heard (next to) nothing: no entry is near
        g, owner = KeywordGraph([]), np.zeros(0, dtype=np.int64)
    else:
        # a big one: the quick pronunciations of the entries nearest to the heard phones (and
        # every shortlisted one: their features include where they fit best)
        listed = list(dict.fromkeys(k for ks in shortlisted.values() for k, _ in ks))
        nearest = np.argsort(dist.min(0), kind="stable").tolist()
        owner = np.array(list(dict.fromkeys(listed + nearest))[:max(spot_pool, len(listed))])
        g = bias.quick_graph(owner)
    kfit, kfirst, klast = np.full(len(bias), 5.0), np.zeros(len(bias), dtype=np.int64), np.zeros(len(bias), dtype=np.int64)
    tracks: dict[int, list] = {}  # entry -> [(ends, starts, keywords, lengths)] of the spotting passes
    _spot(phone_logp, g, owner, kfit, kfirst, klast, tracks)
    def add_on_frames(k: int, lo: int, hi: int) -> tuple[int, int] | None:
        """Entry ``k`` as a candidate on the words under frames ``lo..hi``: at most ``max_words``,
        none of them an entity already, and not there yet. Returns the span, if added."""
        inside = [w for w, (a, b) in enumerate(frames) if b >= lo and a <= hi]
        if not inside or len(inside) > max_words:
            return None
        i, e = inside[0], inside[-1] + 1
        if any(j in protected for j in range(i, e)) or any(k == k2 for k2, _ in shortlisted.get((i, e), ())):
            return None
        q = heard_between(heard, frames[i][0], frames[e - 1][1])
        add(i, e, q, k, Levenshtein.normalized_distance(q, choices[k]))
        return i, e

    for k in np.argsort(kfit, kind="stable")[:spotted]:
        if kfit[k] > spotted_fit:
            break
        add_on_frames(int(k), kfirst[k], klast[k])
    nominated: set[tuple[int, int, int]] = set()
    if attention is not None:
        att = attention[:, 1:len(bias) + 1]
        peak = att.max(0)
        order = np.argsort(-peak, kind="stable")
        nominees = [int(k) for k in order[:attended] if peak[k] > 0]
        # their spotting evidence, where the spotting pool left them out
        pooled = set(owner.tolist())
        extra = [k for k in nominees if k not in pooled]
        if extra:
            _spot(phone_logp, bias.quick_graph(extra), np.array(extra), kfit, kfirst, klast, tracks)
        for k in nominees:
            on = np.flatnonzero(att[:, k] >= 0.5 * peak[k])
            span = add_on_frames(k, on[0], on[-1])
            if span is not None:
                nominated.add((*span, k))
    if not places:
        return []
    full = bias.prons_many({k for ks in shortlisted.values() for k, _ in ks})
    phone_jobs: dict[tuple, list] = {}
    sub_jobs: dict[tuple, list] = {}
    for (i, e), (a, b) in places.items():
        left, right = words[max(0, i - 1):i], words[e:e + 1]
        phone_jobs[(i, e, -1)] = [(a, b, ph(left + words[i:e] + right))]
        sub_jobs[(i, e, -1)] = [(a, b, tok.encode(" ".join(left + words[i:e] + right)))]
        for k, _ in shortlisted[(i, e)]:
            phone_jobs[(i, e, k)] = [(a, b, ph(left) + [_PH.index[p] for p in pron] + ph(right)) for pron in full[k]]
            sub_jobs[(i, e, k)] = [(a, b, tok.encode(" ".join(left + [bias.entries[k].spoken] + right)))]
    pc, sc = _costs(phone_logp, phone_jobs), _costs(logp, sub_jobs)
    free = {w: -float(phone_logp[w[0]:w[1] + 1].max(-1).sum()) for w in set(places.values())}
    base_lm = _lm_total(lm, words, lm_weight, word_bonus) if lm is not None else 0.0
    log10_list = math.log10(bias.counts_as)
    if attention is not None:
        # an entry's rank on a span: how many of the utterance's _RANKED most attended entries (and
        # the candidates) the adapter attends to more on the span's frames. For entries attended to
        # well this is the rank among all; a pass over all entries per span would cost a
        # 10,000-entry list ~10 ms an utterance
        ranked = np.array(list(dict.fromkeys(order[:_RANKED].tolist() + [k for ks in shortlisted.values()
                                                                          for k, _ in ks])))
        col = {int(k): j for j, k in enumerate(ranked)}
    out, windows = [], {}
    for (i, e), (a, b) in places.items():
        n = b - a + 1
        c0, s0 = pc.get((i, e, -1)), sc.get((i, e, -1))
        if attention is not None:  # each entry's strongest attention on the span's own frames
            seg = attention[frames[i][0]:frames[e - 1][1] + 1]
            span_peak, span_none = seg[:, 1 + ranked].max(0), float(seg[:, 0].mean())
        for k, heard_d in shortlisted[(i, e)]:
            c, s = pc.get((i, e, k)), sc.get((i, e, k))
            if c is None:
                continue  # the entity cannot fit the window
            lm_gain = 0.0
            if lm is not None:
                lm_gain = _lm_total(lm, words[:i] + bias.entries[k].spoken.split() + words[e:], lm_weight,
                                    word_bonus) - base_lm
            fit, fit_cur = (c - free[(a, b)]) / n, ((c0 - free[(a, b)]) / n if c0 is not None else 5.0)
            out.append({
                "start": i, "end": e, "entry": k,
                # clipped: a gain's tails (one side barely alignable) say no more than "far better"
                "phone_gain": max(-_CAP, min(_CAP, c0 - c)) if c0 is not None else _CAP,
                "phone_gain_per_frame": max(-5.0, min(5.0, (c0 - c) / n)) if c0 is not None else 5.0,
                "lm_gain": lm_gain, "fit": fit, "fit_current": fit_cur, "fit_delta": fit - fit_cur,
                "log_frames": math.log(frames[e - 1][1] - frames[i][0] + 1),
                "log_phones": math.log(len(full[k][0]) + 1), "words": e - i, "log10_list": log10_list,
                # scaled to the others' range; clipped, since one side may be far off or unalignable
                "subword_gain": max(-_CAP, min(_CAP, (s0 - s) if s0 is not None and s is not None
                                               else (-_CAP if s is None else _CAP))) / 10,
                # how far the greedy phones are from the entry's and from the current words'
                "heard_distance": heard_d, "heard_distance_current": heard_current[(i, e)],
                # keyword spotting: how well the entry fits its best place, and how much of that
                # place lies in this span
                **_spotted_near(tracks.get(k), max(0, a - spot_margin), min(T - 1, b + spot_margin),
                                frames[i][0], frames[e - 1][1], windows),
            })
            if attention is not None:
                # the adapter's view: how strongly, and how far ahead of the other entries, it
                # attends to this entry here, and how sure it is that no entry is said here
                x = span_peak[col[k]]
                out[-1].update(attention_peak=float(x),
                               attention_rank=math.log1p(min(_RANKED, int((span_peak > x).sum()))),
                               attention_none=span_none, attended=(i, e, k) in nominated)
    return out



def _spot(phone_logp: np.ndarray, g: KeywordGraph, owner: np.ndarray, kfit: np.ndarray, kfirst: np.ndarray,
          klast: np.ndarray, tracks: dict[int, list]) -> None:
    """Spot the keywords of ``g`` (keyword ``j`` belongs to entry ``owner[j]``): each entry's best
    place anywhere (its cost per phone, 0: the best path itself, capped at 5; first and last
    frame) into ``kfit`` / ``kfirst`` / ``klast``, and the per-frame tables into ``tracks``."""
    ends, starts = ctc_keyword_track(phone_logp, g)
    if not len(ends) or not len(owner):
        return
    best, first, last = best_places(ends, starts, g)
    fit = np.minimum(-best / np.maximum(g.lengths, 1), 5.0)  # an empty keyword: -inf, so 5
    for j in np.argsort(-fit, kind="stable"):  # each entry's best variant is written last
        kfit[owner[j]], kfirst[owner[j]], klast[owner[j]] = fit[j], first[j], last[j]
    for k in np.unique(owner):
        keys = np.flatnonzero((owner == k) & (g.lengths > 0))
        if len(keys):
            tracks.setdefault(int(k), []).append((ends, starts, keys, g.lengths[keys]))


def _spotted_near(track: list | None, a: int, b: int, lo: int, hi: int, windows: dict) -> dict[str, float]:
    """Keyword-spotting evidence of one candidate: how well its entry fits its best place inside
    the candidate's window ``a..b`` (cost per phone, capped at 5), and how much of that place lies
    on the span's own frames ``lo..hi``. Local on purpose: an entry said elsewhere in a long
    recording is no evidence that it is said here. ``windows``: every keyword's best place per
    (table, window), shared by the candidates of one hypothesis."""
    best, first, last = 5.0, a, b
    for ends, starts, keys, lengths in track or ():
        got = windows.get((id(ends), a, b))
        if got is None:
            got = windows[(id(ends), a, b)] = [x.tolist() for x in window_best(ends, starts, a, b)]
        for key, n in zip(keys, lengths):
            cost = min(-got[0][key] / max(n, 1), 5.0)
            if cost < best:
                best, first, last = cost, got[1][key], got[2][key]
    return {"spotted_fit": float(best), "spotted_here": _overlap(first, last, lo, hi) if best < 5.0 else 0.0}


def _overlap(a: int, b: int, lo: int, hi: int) -> float:
    """Share of frames ``a..b`` inside ``lo..hi``."""
    return max(0, min(b, hi) - max(a, lo) + 1) / (b - a + 1)


def vetoed(c: dict) -> bool:
    """The current words are exactly what the phone head heard, and both heads align them better
    than the entry: no judge's score overrides that."""
    return c["heard_distance_current"] == 0.0 and c["phone_gain"] < 0 and c["subword_gain"] < 0


def _placed(c: dict, cs: list[dict], words: list[str], fragments: set[str]) -> tuple[int, int, int]:
    """Where entry ``c["entry"]`` goes once the judge believes it. The judge says whether; where is
    the candidate span for the same entry, holding ``c``'s, whose pronunciation explains the audio
    best against the words there (the highest phone gain), as long as every word it adds to
    ``c``'s span is a word of a multi-word entry said elsewhere in the hypothesis (``fragments``).
    Such a lone word is what the adapter's pull toward an entry present in the utterance leaves in
    the beam ("sao boon" for "Siobhan" in "... from São Paulo"); widening over any word ate correct
    neighbours (dev WER +0.4 to +0.6 points).

    >>> words = "sao boon is flying".split()
    >>> cs = [{"start": 1, "end": 2, "entry": 3, "phone_gain": -8.0},
    ...       {"start": 0, "end": 2, "entry": 3, "phone_gain": 3.5},
    ...       {"start": 1, "end": 3, "entry": 3, "phone_gain": 9.0}]
    >>> _placed(cs[0], cs, words, {"sao", "paulo"})
    (0, 2, 3)
    >>> _placed(cs[0], cs, words, set())
    (1, 2, 3)
    """
    def adds_only_fragments(o: dict) -> bool:
        extra = [words[i] for i in range(o["start"], o["end"]) if not c["start"] <= i < c["end"]]
        return all(w in fragments for w in extra)

    same = [o for o in cs if o["entry"] == c["entry"] and o["start"] <= c["start"] and c["end"] <= o["end"]
            and adds_only_fragments(o)]
    best = max(same, key=lambda o: o["phone_gain"])
    return int(best["start"]), int(best["end"]), int(c["entry"])


def lookup(tokens: list[int], text: str, logp: np.ndarray, phone_logp: np.ndarray, tok: Tokenizer,
           bias: BiasingList, model: LookupModel, lm: LanguageModel | None = None, threshold: float = 0.0,
           memo: dict | None = None, **kw) -> str:
    """Return ``text`` with spans replaced by entities the judge believes (log-odds above
    ``threshold``), best first, never overlapping. ``kw``: see :func:`candidates`; its
    ``attention`` is used only by a judge fitted with it."""
    if not model.uses_attention:
        kw.pop("attention", None)
    elif kw.get("attention") is None:
        raise ValueError("this lookup judge needs the contextual adapter's attention")
    cs = [c for c in candidates(tokens, text, logp, phone_logp, tok, bias, lm, memo=memo, **kw) if not vetoed(c)]
    believed = [(float(s), c) for c, s in zip(cs, model.scores(cs) if cs else ()) if s > threshold]
    if not believed:
        return text
    words = text.split()
    fragments = {w for _, _, k in entity_spans(words, bias) if len(ws := bias.entries[k].spoken.split()) > 1
                 for w in ws}
    found = [(s, *_placed(c, cs, words, fragments)) for s, c in believed]
    used: set[int] = set()
    repl: dict[int, tuple[int, int]] = {}
    for _, s, e, k in sorted(found, reverse=True):
        if used.isdisjoint(range(s, e)):
            used.update(range(s, e))
            repl[s] = (e, k)
    out, i = [], 0
    while i < len(words):
        if i in repl:
            e, k = repl[i]
            out.append(bias.entries[k].spoken)
            i = e
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


class LexiconLookup:
    """The lookup as a :class:`~ctcbias.inference.result.HypothesisFilter`: the best hypothesis
    with the spans ``model`` believes replaced (:func:`lookup`, with ``lm``, ``threshold`` and
    ``options``, :func:`candidates`' keywords), then the rest."""

    def __init__(self, model: LookupModel, lm: LanguageModel | None, threshold: float, **options):
        self.model, self.lm, self.threshold, self.options = model, lm, threshold, options

    def apply(self, nbest: list[Hypothesis], ev: Evidence) -> list[Hypothesis]:
        best = nbest[0]
        text = lookup(list(best.tokens), best.text, ev.post.subword, ev.post.phone, ev.tokenizer, ev.bias, self.model,
                      self.lm, self.threshold, memo=ev.memo, **self.options)
        return nbest if text == best.text else [best.with_text(text, ev.tokenizer)] + nbest[1:]
