"""The recognizer: frozen encoder + trained CTC stack + decoding, behind one ``transcribe()``::

    from ctcbias import Recognizer
    r = Recognizer.load()                                  # the shipped default model
    r.transcribe("call.wav", words=["Okafor"]).text        # the list is this call's only
"""

from __future__ import annotations

import json
import time
import weakref
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..audio import SAMPLE_RATE, load_audio, speech_segments
from ..contextual_adapter import AdapterConfig, Catalog, ContextualAdapter
from ..encoder import BUCKET, WhisperEncoder, bucket, encode, windows
from ..model import CTCStack, StackConfig
from ..tokenizer import PhoneSet, Tokenizer
from .beam_search import BeamConfig, beam_search
from .biasing_list import BiasingList
from .result import FRAME_SECONDS, Evidence, Result, Word, greedy_decode, mark_entities, timed_words, word_extents
from .subword_boosting import BoostConfig

__all__ = ["Recognizer", "Result", "Word", "Posteriors", "DecodingOptions", "LookupOptions", "ShortlistOptions",
           "ModeError", "TECHNIQUES",
           "DEFAULT_MODEL", "Pipeline", "pieces"]

# The five decoder techniques of the method, by the names the CLI and the benchmark use.
TECHNIQUES = ("subword", "unigram", "phonetic", "lexicon", "g2g")
BIAS_MODES = ("auto", "none", "decoder", "encoder", "joint")  # auto: joint with an adapter, else decoder


class ModeError(RuntimeError):
    """The decoding mode asks for a part this model does not have (the contextual adapter)."""


@dataclass(frozen=True)
class LookupOptions:
    """How the lexicon lookup gathers its candidates (:func:`~ctcbias.inference.lexicon_lookup.candidates`)."""

    shortlist: int = 10  # each span's closest entries by phone edit distance
    max_words: int = 5  # the longest span an entity may replace
    max_candidates: int = 150  # all spans together: each candidate costs CTC alignments
    spotted: int = 20  # entries whose best keyword-spotting place becomes a candidate
    spotted_fit: float = 1.5  # ... when they fit it this well (cost per phone)
    spot_pool: int = 100  # lists up to this size are spotted whole, with pronunciation variants
    attended: int = 5  # joint biasing: the entries the adapter attends to most become candidates
    # a candidate's keyword-spotting evidence: its entry's best place within this many frames (0.04 s)
    # beyond the candidate's window (the word before the span to the word after it), never anywhere
    # in the recording: with 25 (1 s) an entity said in the next clause was taken as evidence for
    # the span before it ("Siobhan is flying from São Paulo" -> "São Paulo flying from São Paulo")
    spot_margin: int = 0


@dataclass(frozen=True)
class ShortlistOptions:
    """Big lists (shortlist.py): each utterance decodes with only the entries that a fast pass over
    the phone head finds in it, as a small list of their own; the adapter and the techniques run on
    those. Lists of up to ``over`` entries are used whole (their figures are the small lists' own).
    Picked on dev with 10,000-entry lists: the said entity is among the 30 kept 19 times in 20."""

    enabled: bool = True
    # shortlisted against whole, dev-heldout (150 utterances): 100 entries F1 0.958 / 0.966, 500
    # entries 0.930 / 0.921, 1,000 entries 0.927 / 0.899 (U-WER 22.0 / 24.5%, strangers' false
    # entities 26 / 34): past a few hundred entries the whole list's chance matches cost more than
    # the shortlist loses
    over: int = 300
    size: int = 30  # at most this many entries an utterance
    # the phone-pair index's best pool are keyword-spotted and kept when their best place costs at
    # most fit per phone (with the check, dev-heldout F1 0.818 -> 0.828 from 600 and 2.5: shortlist
    # recall 0.88 -> 0.91)
    pool: int = 1000
    fit: float = 3.0
    prefer_long: float = 1.0  # ranked by index score - spotting cost + this x log(phones)
    counts_as: int | None = None  # the lookup's judge counts a shortlist as the big list, up to this size
    # a shortlist's entries are the big list's closest sound-alikes of what was said, and the adapter
    # and the boosts put them in where the words came close (dev, 70 utterances: precision 0.43).
    # confirm: each entity of the decode must pass the shortlist check (shortlist.confirmed: a small
    # network over the phone evidence, the list's size and, in joint biasing, the adapter's attention;
    # shortlist_check.json, shortlist_check_joint.json) at log-odds above confirm_threshold; the
    # others' words are decoding without the list's. The threshold follows the check's fit: on the
    # shipped one (fitted on dev and dev-heldout's later utterances), dev-heldout's first 150 with
    # 10,000 / 20,000-entry lists: F1 0.848 / 0.762 at -2.0, 0.844 / 0.770 at -1.75, 0.835 / 0.760 at
    # -1.5, 0.823 / 0.758 at -1.25 (strangers' false entities 52 / 91, 44 / 82, 41 / 68, 37 / 60)
    confirm: bool = True
    confirm_threshold: float = -1.75
    # rivals: per entity of the decode, the shortlist's entries closest to what was heard on its
    # frames (at most rival_distance farther than it) that the check over the phone evidence weighs
    # in its place (shortlist._rivals; 0: none). Dev-heldout, 10,000 entries: F1 0.825 -> 0.838
    # (rival_distance 0.05, 0.15 or 0.3 alike; 2 or 3 rivals alike), strangers' false entities 50 -> 52
    rivals: int = 2
    rival_distance: float = 0.05
    # the words that replace a doubted entity come from a beam search of this many prefixes over the
    # no-list posteriors around it (dev-heldout, 10,000 entries: U-WER 23.4 / 23.4 / 23.6 / 23.8%
    # with 24 / 16 / 12 / 8, F1 the same; the search a third cheaper with 16)
    fallback_beam: int = 16
    # frames on each side of the doubted entities (for the words the search cuts at its edges):
    # dev-heldout, 10,000 entries, 8 / 12 / 16 / 25: F1 0.865 and U-WER 22.9% alike, strangers'
    # WER 41.4 / 41.7 / 41.6 / 41.5%; 20,000 entries: F1 0.772 / 0.774 / 0.772 / 0.772, U-WER
    # 23.5 / 23.3 / 23.4 / 23.4%; the search's time goes with its frames
    fallback_margin: int = 12
    # the entity guard on the shortlist's decode: the check after it judges the same entities on
    # more evidence, and where the guard finds every hypothesis doubtful its fallback (a beam search
    # without boosts) loses the other words too (dev-heldout, 150 utterances, 10,000 / 20,000
    # entries: U-WER 24.6 / 25.6% with it, 23.4 / 25.4% without; F1 0.821 / 0.702, 0.819 / 0.702;
    # strangers' false entities 62 / 88 both ways)
    entity_guard: bool = False
    boost_scale: float = 1.0  # subword and unigram boosts scaled by this
    adapter: bool = True  # the contextual adapter attends over the shortlist (joint biasing)
    # the ordinary-word guard on the shortlist's decode: after the check it saves nothing (dev-heldout,
    # 150 utterances: U-WER 25.8% with it, 25.2% without; strangers' lists' WER 43.3% / 42.9%) and
    # costs a beam search
    word_guard: bool = False
    # the lexicon lookup's candidates on a shortlist (LookupOptions.max_candidates), each a CTC
    # alignment per pronunciation: its entries are all sound-alikes of the utterance, and those
    # past the closest 40 found no more entities (dev-heldout, 150 utterances, 150 / 60 / 40: 10,000
    # entries F1 0.865 alike, U-WER 23.2 / 23.0 / 22.9%, strangers' false entities 47 / 47 / 46;
    # 20,000 entries F1 0.772 and U-WER 23.4% alike)
    lookup_candidates: int = 40

    def decoding(self, opts: "DecodingOptions") -> "DecodingOptions":
        """``opts`` as a shortlist is decoded with (a guard turned off stays off)."""
        return replace(opts, guard_distance=opts.guard_distance if self.entity_guard else None,
                       word_guard=opts.word_guard and self.word_guard,
                       unigram_boost=opts.unigram_boost * self.boost_scale,
                       boost=replace(opts.boost, base=opts.boost.base * self.boost_scale),
                       lookup=replace(opts.lookup, max_candidates=min(opts.lookup.max_candidates,
                                                                      self.lookup_candidates)),
                       bias="decoder" if opts.bias == "joint" and not self.adapter else opts.bias)


@dataclass(frozen=True)
class DecodingOptions:
    """Everything that changes how one call decodes, every default in one place. ``bias``: none |
    decoder | encoder (the contextual adapter) | joint (both) | auto (joint when the model has an
    adapter, else decoder); ``techniques``: which decoder techniques run when the decoder biases."""

    bias: str = "auto"
    techniques: tuple[str, ...] = TECHNIQUES
    greedy: bool = False  # no beam search, no LM: best unit per frame
    use_lm: bool = True
    beam: BeamConfig = BeamConfig()
    boost: BoostConfig = BoostConfig()  # 1: adaptive subword boosting
    unigram_boost: float = 8.0  # 2: nats above the LM's OOV class for a list word
    phonetic_weight: float = 0.5  # 3: weight of the phone head's alignment cost in the n-best score
    # 4: lexicon lookup (lexicon_lookup.py): spans whose greedy phones are within this normalized edit
    # distance of an entry are judged; the judge's log-odds must exceed the threshold (for 100 entries,
    # lowered by the slope per tenfold more: the judge counts the list's size as evidence against a
    # match, a calibrated prior, and at 1000 entries that costs more recall than it saves precision)
    lexicon_shortlist_distance: float = 0.7
    lexicon_threshold: float = -1.3
    lexicon_threshold_slope: float = 0.25
    lookup: LookupOptions = LookupOptions()
    shortlist: ShortlistOptions = ShortlistOptions()  # lists over shortlist.over entries
    # the false-positive guard (entity_guard.py): an entity that boosting or rescoring put in must
    # be within this phone distance of what the phone head heard; None turns the guard off
    guard_distance: float | None = 0.4
    # the ordinary-word guard (word_guard.py): where biasing brought no entity in, the words are the
    # ones decoding without the list gives (one more beam search without boosts, only then)
    word_guard: bool = True
    # a readable text: punctuation, casing, numbers written (readable.py); Result.raw_text keeps the words
    format: bool = True
    # ... and a pause of this many seconds between two words ends a sentence (the text alone misses
    # where one utterance of a long recording ends and the next begins); None: the text decides
    sentence_pause: float | None = 1.0
    # recordings longer than this (seconds) are cut into utterances at pauses of segment_pause seconds,
    # each keeping up to segment_keep seconds of its pauses (picked on dev-heldout recordings of 20
    # utterances: 0.4 s decoded as the utterances alone did, 0.1-0.2 s a little worse)
    segment_over: float = 15.0
    segment_pause: float = 0.5
    segment_keep: float = 0.4
    # a word runs to the next word's start unless more than word_pause seconds pass without a spike;
    # then to the last sound the phone head heard in that time, plus word_tail seconds
    word_pause: float = 0.3
    word_tail: float = 0.08
    # word confidences mapped to probabilities (the model's confidence.json); False: the raw scores
    calibrated: bool = True
    # transcribe(progress=True) shows a bar over the segments of recordings longer than this (seconds)
    progress_over: float = 60.0

    def __post_init__(self):
        if self.bias not in BIAS_MODES:
            raise ValueError(f"bias must be one of {', '.join(BIAS_MODES)}, not {self.bias!r}")
        bad = set(self.techniques) - set(TECHNIQUES)
        if bad:
            raise ValueError(f"unknown technique(s) {', '.join(sorted(bad))}; choose from {', '.join(TECHNIQUES)}")

    @property
    def uses_adapter(self) -> bool:
        """Encoder biasing is on: the contextual adapter attends over the list."""
        return self.bias in ("encoder", "joint")

    def shortlists(self, entries: int) -> bool:
        """A list of this many entries is shortlisted per utterance."""
        return self.shortlist.enabled and entries > self.shortlist.over and self.bias != "none"

    @property
    def uses_decoder_techniques(self) -> bool:
        """The decoder techniques are on."""
        return self.bias in ("decoder", "joint")

    def lookup_threshold(self, entries: int) -> float:
        """The lookup judge's log-odds threshold for a list of this many entries."""
        return self.lexicon_threshold - self.lexicon_threshold_slope * float(np.log10(max(entries, 1) / 100))


# DecodingOptions overrides that loosen both false-positive guards (more recall, more false entities):
# no phone check of the entities the beam put in, and lookup replacements at odds of 1 in 10
NO_GUARDS = {"guard_distance": None, "lexicon_threshold": -2.2}

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "assets" / "base"
# the stack attends within 30 s windows overlapping by 4 s (stack frames), like the encoder
STACK_WINDOW, STACK_OVERLAP = 750, 100
UNREAD = object()  # a Posteriors output not read from the adapter's hook yet
SILENCE_PEAK = 1e-4  # -80 dBFS: audio whose loudest sample is below this is silence (16-bit: 3 steps)


@dataclass
class Posteriors:
    """Frame log-probabilities of the three CTC heads (numpy, ``(frames, units)``). With the
    contextual adapter (``hook``), also its attention and the final head without it, both read
    from the hook on first use only (the model's time stays the model's)."""

    subword: np.ndarray
    inter: np.ndarray
    phone: np.ndarray
    duration: float
    hook: object | None = field(default=None, repr=False)
    # the hook's outputs once read (UNREAD until then; None without an adapter)
    attention_read: object = field(default=UNREAD, repr=False)
    plain_read: object = field(default=UNREAD, repr=False)
    # posteriors(keep=True) of a single-window recording: the stack's block outputs and padding,
    # from which the adapter's pass (base=) needs only the final head; the adapter acts on that
    # head's input alone, so every block and the other two heads are the same with and without it
    stack: tuple | None = field(default=None, repr=False)

    def _from_hook(self, name: str, make):
        if getattr(self, name) is UNREAD:
            setattr(self, name, make(self.hook) if self.hook is not None else None)
            if self.attention_read is not UNREAD and self.plain_read is not UNREAD:
                self.hook = None  # both read: the hook's (frames x positions) weights can go
        return getattr(self, name)

    def piece(self, a: int, b: int) -> "Posteriors":
        """Frames ``a`` to ``b`` on their own (the adapter's outputs too, read now)."""
        att, plain = self.attention, self.plain
        return Posteriors(self.subword[a:b], self.inter[a:b], self.phone[a:b], (b - a) * FRAME_SECONDS,
                          attention_read=att[a:b] if att is not None else None,
                          plain_read=plain[a:b] if plain is not None else None)

    @property
    def attention(self) -> np.ndarray | None:
        """The adapter's attention per entry, ``(frames, 1 + entries)``, ``<no-bias>`` first."""
        return self._from_hook("attention_read", lambda h: _attention(h, 0, len(self.subword)))

    @property
    def plain(self) -> np.ndarray | None:
        """The final head's log-probabilities without the adapter (for the ordinary-word guard)."""
        return self._from_hook("plain_read", lambda h: _plain(h, 0, len(self.subword)))


class Recognizer:
    def __init__(self, encoder: WhisperEncoder, stack: CTCStack, tokenizer: Tokenizer, model_dir: Path,
                 adapter: ContextualAdapter | None = None):
        self.encoder, self.stack, self.tokenizer, self.adapter = encoder, stack, tokenizer, adapter
        self.phones = PhoneSet()
        self.model_dir = model_dir

    @classmethod
    def load(cls, model_dir: str | Path | None = None, encoder: str | Path | None = None) -> "Recognizer":
        """Load a trained stack (default: the one shipped in the package) and its encoder
        (default: Whisper-base from the PyPI packages; or a CTranslate2 Whisper file/folder)."""
        d = Path(model_dir) if model_dir else DEFAULT_MODEL
        if not (d / "stack.pt").exists():
            raise FileNotFoundError(f"{d}: no trained model there (stack.pt missing)")
        meta = json.loads((d / "config.json").read_text())
        stack = CTCStack(StackConfig(**meta["stack"]))
        stack.load_state_dict({k: v.float() for k, v in torch.load(d / "stack.pt", weights_only=True).items()})
        enc = WhisperEncoder.from_ct2(encoder)
        if enc.dim != stack.config.in_dim:
            raise ValueError(f"encoder width {enc.dim} does not match the stack's input {stack.config.in_dim}")
        if stack.config.tuned_blocks:
            if not (d / "encoder_top.pt").exists():
                raise FileNotFoundError(f"{d}: the stack fine-tuned the encoder's last blocks, but "
                                        f"encoder_top.pt (their weights) is missing")
            enc.load_top(torch.load(d / "encoder_top.pt", weights_only=True))
        from ..pronounce import cmudict_prons

        cmudict_prons("a")  # load the pronunciation dictionary now, not inside the first call
        adapter = None
        if (d / "adapter.pt").exists():
            meta = json.loads((d / "adapter.json").read_text())
            adapter = ContextualAdapter(AdapterConfig(**meta["adapter"]))
            adapter.load_state_dict({k: v.float() for k, v in torch.load(d / "adapter.pt", weights_only=True).items()})
            adapter.eval()
        rec = cls(enc, stack.eval(), Tokenizer(d / "subwords.model"), d, adapter)
        _freeze()
        return rec

    @torch.inference_mode()
    def features(self, audio, sample_rate: int | None = None) -> tuple[torch.Tensor, float]:
        """Encoder features ``(frames, width)`` of one recording and its duration in seconds."""
        x = audio if isinstance(audio, np.ndarray) and sample_rate in (None, SAMPLE_RATE) and audio.ndim == 1 \
            and audio.dtype == np.float32 else load_audio(audio, sample_rate)
        return encode(self.encoder, x, pad=self.stack.config.encoder_pad, last=True)[-1], len(x) / SAMPLE_RATE

    @torch.inference_mode()
    def posteriors(self, audio, sample_rate: int | None = None, bias: BiasingList | None = None,
                   features: tuple[torch.Tensor, float] | None = None, attention: bool = False,
                   keep: bool = False, base: Posteriors | None = None) -> Posteriors:
        """The CTC heads' log-probabilities. With ``bias`` (and a trained adapter) the contextual
        adapter attends over its entries: encoder biasing (``attention``: read its weights now,
        not on first use). ``features`` skips the encoder. ``keep``: a single-window recording's
        posteriors keep the stack's block outputs, so that ``base=`` them, an adapter pass over
        the same features runs only the final head (the same numbers as the whole stack)."""
        feats, duration = features if features is not None else self.features(audio, sample_rate)
        catalog = None
        if bias is not None and len(bias):
            if self.adapter is None:
                raise RuntimeError(f"{self.model_dir} has no trained contextual adapter (adapter.pt)")
            catalog = self.entity_embeddings(bias)
        if base is not None and base.stack is not None and catalog is not None:
            hidden, pad, lo, hi = base.stack
            hook = self.adapter.bias_fn(catalog)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                sub = self.stack.output(hidden, pad, hook)
            post = Posteriors(sub[0, lo:hi].float().numpy(), base.inter, base.phone, duration, hook)
            if attention:
                _ = post.attention
            return post
        k = self.stack.config.stack
        # long audio in overlapping windows, stitched (one attention over an hour would not fit in
        # memory, and training clips are far shorter); each window's frames rounded up to a
        # bucket of 16 stack frames (0.64 s), the rest masked, as in the encoder (see encoder.BUCKET)
        wins = windows(len(feats) // k, STACK_WINDOW, STACK_OVERLAP)
        heads: list[list[np.ndarray]] = [[], [], []]  # subword, inter, phone
        att: list[np.ndarray] = []
        plain: list[np.ndarray] = []
        hook = None
        for s, e, lo, hi in wins:
            t = (e - s) * k
            x = F.pad(feats[s * k: e * k], (0, 0, 0, bucket(t, BUCKET // 2 * k) - t))
            hook = self.adapter.bias_fn(catalog) if catalog is not None else None
            with torch.autocast("cpu", dtype=torch.bfloat16):
                o = self.stack(x[None], torch.tensor([t]), bias=hook)
            for out, head in zip(heads, (o.subword, o.inter, o.phone)):
                out.append(head[0, lo:hi].float().numpy())
            if hook is not None and len(wins) > 1:  # read now: each window's hook holds (frames x positions)
                att.append(_attention(hook, lo, hi))
                plain.append(_plain(hook, lo, hi))
        post = Posteriors(*(np.concatenate(h) for h in heads), duration, hook if len(wins) == 1 else None)
        if keep and len(wins) == 1 and catalog is None:  # longer recordings: memory stays flat
            T = o.hidden[0].shape[1]
            post.stack = o.hidden, torch.arange(T)[None, :] >= o.lengths[:, None], wins[0][2], wins[0][3]
        if att:
            post.attention_read, post.plain_read = np.concatenate(att), np.concatenate(plain)
        if attention:
            _ = post.attention
        return post

    def entity_embeddings(self, bias: BiasingList) -> Catalog:
        """The adapter's catalog of a list's entries, computed once per compiled list and adapter.
        Keyed by the adapter object itself, weakly: an ``id()`` key could be reused by a later
        adapter once this one is freed, and hand it another adapter's catalog (compiled lists are
        shared, cached by content)."""
        cache = bias.derived("adapter_catalogs", lambda _: weakref.WeakKeyDictionary())
        emb = cache.get(self.adapter)
        if emb is None:
            with torch.inference_mode():
                # kept in the precision the stack's autocast attends in, not float32 as well
                emb = cache[self.adapter] = self.adapter.embed(
                    [list(e.tokens[0]) for e in bias.entries]).compact(torch.bfloat16, self.adapter)
        return emb

    def _asset(self, name: str) -> Path:
        """``name`` in the model folder, else the shipped one (a model trained without it)."""
        f = self.model_dir / name
        return f if f.exists() else DEFAULT_MODEL / name

    # the models beside the heads load on first use: a call that does not need one never pays for it
    @cached_property
    def punctuation(self):
        """The punctuation and casing model (``punctuation.npz``)."""
        from .punctuation import PunctuationModel

        return PunctuationModel.load(self._asset("punctuation.npz"))

    @cached_property
    def lookup_model(self):
        """The lexicon lookup's judge (``lexicon_lookup.json``)."""
        from .lookup_judge import LookupModel

        return LookupModel.load(self._asset("lexicon_lookup.json"))

    @cached_property
    def joint_lookup_model(self):
        """The judge that also weighs the contextual adapter's attention (``lexicon_lookup_joint.json``,
        fitted with this model's adapter), or None."""
        return self._joint("lexicon_lookup_joint.json")

    @cached_property
    def shortlist_check(self):
        """The check of a shortlist decode's entities (``shortlist_check.json``)."""
        from .lookup_judge import LookupModel
        from .shortlist import CHECK_FEATURES

        return LookupModel.load(self._asset("shortlist_check.json"), CHECK_FEATURES)

    @cached_property
    def joint_shortlist_check(self):
        """The check that also weighs the contextual adapter's attention over the shortlist
        (``shortlist_check_joint.json``, fitted with this model's adapter), or None."""
        from .shortlist import ATTENTION_CHECK_FEATURES, CHECK_FEATURES

        return self._joint("shortlist_check_joint.json", CHECK_FEATURES + ATTENTION_CHECK_FEATURES)

    def _joint(self, name: str, features: tuple[str, ...] | None = None):
        """A judge over the adapter's attention too: only this model folder's own (it was fitted
        with this model's adapter, never the shipped one's), and only when the model has an adapter."""
        from .lookup_judge import LookupModel

        f = self.model_dir / name
        if not f.exists() or self.adapter is None:
            return None
        return LookupModel.load(f, features)

    @cached_property
    def confidence(self):
        """The word-confidence calibration (``confidence.json``)."""
        from .confidence import Calibration

        return Calibration.load(self._asset("confidence.json"))

    @cached_property
    def lm(self):
        """The word n-gram LM shipped with the model (``lm.bin`` or ``lm.arpa``), or None."""
        from ..language_model import KenLM

        f = next((self.model_dir / n for n in ("lm.bin", "lm.arpa") if (self.model_dir / n).exists()), None)
        return KenLM(f) if f else None

    def compile(self, words: list[str] | None, options: "DecodingOptions | None" = None) -> BiasingList:
        """Compile a word list once (cached by content) for many calls."""
        from .lexicon_lookup import quick_choices

        opts = options or DecodingOptions()
        bias = BiasingList.compile(words or [], self.tokenizer, variants="g2g" in opts.techniques)
        if self.resolve(opts).shortlists(len(bias)):
            from .shortlist import phone_index

            phone_index(bias)  # decodes use shortlists of it: the big list itself needs only its index
            # its new entries out of the collector's view too: else the full collections they
            # trigger walk them inside the next decodes (6 in 30 utterances with 10,000 entries)
            bias.derived("frozen", lambda _: _freeze())
            return bias
        # what every decode would build on first use: the compile pays once, not a call
        _ = bias.word_prefixes, bias.trie
        quick_choices(bias)
        if self.adapter is not None and self.resolve(opts).uses_adapter and len(bias):
            self.entity_embeddings(bias)  # the adapter's catalog too (about 0.4 s per 1,000 entries)
        bias.derived("frozen", lambda _: _freeze())  # once per compiled list, not on every cached call
        return bias

    def check(self, opts: DecodingOptions) -> None:
        """Raise :class:`ModeError` if this model cannot decode with ``opts`` (a mode that needs
        the contextual adapter, on a model without one)."""
        if self.resolve(opts).uses_adapter and self.adapter is None:
            raise ModeError(f"bias={opts.bias!r} needs the contextual adapter; {self.model_dir} has none "
                            "(train one with 'ctcbias train adapter', or use bias='decoder')")

    def resolve(self, options: DecodingOptions | None = None, **overrides) -> DecodingOptions:
        """Options with ``bias="auto"`` made concrete for this model."""
        opts = replace(options or DecodingOptions(), **overrides)
        if opts.bias == "auto":
            opts = replace(opts, bias="joint" if self.adapter is not None else "decoder")
        return opts

    def transcribe(self, audio, sample_rate: int | None = None, words: list[str] | BiasingList | None = None,
                   options: DecodingOptions | None = None, attention: bool = False, progress: bool = False,
                   **overrides) -> Result:
        """Transcribe one recording: a path, file bytes, a binary file object, or an array (give
        ``sample_rate``).

        ``words``: the biasing list for this call only. ``options`` / keyword overrides: see
        :class:`DecodingOptions` (e.g. ``bias="none"``, ``techniques=("subword", "unigram")``).
        ``attention``: also return the contextual adapter's attention weights. ``progress``: a bar
        on stderr over the audio decoded, for recordings longer than ``options.progress_over``.
        """
        opts = self.resolve(options, **overrides)
        self.check(opts)
        bias = words if isinstance(words, BiasingList) else self.compile(words if opts.bias != "none" else [], opts)
        notes: list[str] = []
        x = load_audio(audio, sample_rate, notes=notes)
        spans = [(0, len(x))]
        if len(x) > opts.segment_over * SAMPLE_RATE:
            # the model learned from single utterances: a recording is cut into them at pauses, so
            # that neither the encoder's attention nor the decoder's evidence mixes one with the next
            spans = speech_segments(x, opts.segment_pause, opts.segment_keep)
        parts = []
        bar = _bar(len(x) / SAMPLE_RATE) if progress and len(x) > opts.progress_over * SAMPLE_RATE else None
        for a, b in spans:
            if float(np.abs(x[a:b]).max()) >= SILENCE_PEAK:  # else nothing was said; the model would guess at a flat input
                parts.append((a / SAMPLE_RATE, self.pipeline(x[a:b], SAMPLE_RATE).decode(bias, opts, attention=attention)))
            if bar is not None:
                bar.update(round(b / SAMPLE_RATE - bar.n, 1))
        if bar is not None:
            bar.close()
        result = joined(parts, len(x) / SAMPLE_RATE)
        if opts.format:
            from .readable import format_result

            result = format_result(result, self.punctuation, opts.sentence_pause)
        result.notes = notes
        return result

    def pipeline(self, audio=None, sample_rate: int | None = None,
                 features: tuple[torch.Tensor, float] | None = None) -> "Pipeline":
        """One recording through the model, each stage run once and shared by every decode of it
        (the benches and the judge's fitting decode one recording many ways)."""
        return Pipeline(self, self.features(audio, sample_rate) if features is None else features)

    def boosted_lm(self, bias: BiasingList, opts: DecodingOptions):
        """The LM with the list's words in its boosted OOV class (technique 2), or None without an LM."""
        if self.lm is None or not opts.use_lm:
            return None
        from .unigram_boosting import UnigramBoostedLM

        return UnigramBoostedLM(self.lm, bias.words, opts.unigram_boost)

    def decode(self, post: Posteriors, bias: BiasingList, opts: DecodingOptions) -> Result:
        """The decoder half of :meth:`transcribe`, on posteriors already computed. Over 30 s, in
        pieces cut in pauses (the n-best's alignments would grow with the square of the length)."""
        opts = self.resolve(opts)
        cuts = pieces(post.subword)
        if len(cuts) > 1:
            return joined([(a * FRAME_SECONDS, self._decode(post.piece(a, b), bias, opts)) for a, b in cuts],
                          post.duration)
        return self._decode(post, bias, opts)

    def _decode(self, post: Posteriors, bias: BiasingList, opts: DecodingOptions) -> Result:
        if opts.bias == "none":
            bias = self.compile([], opts)
        if opts.greedy:
            return self._words(greedy_decode(post.subword, self.tokenizer, post.duration), post, bias, opts, None)
        # encoder biasing alone: the adapter already acted on the posteriors; beam + LM, no techniques
        tech = set(opts.techniques) if len(bias) and opts.uses_decoder_techniques else set()

        # 1 + 2: beam search with adaptive subword boosting and the LM's boosted OOV class
        lm = self.boosted_lm(bias, opts) if "unigram" in tech else (self.lm if opts.use_lm else None)
        nbest = beam_search(post.subword, self.tokenizer, lm, opts.beam, bias,
                            opts.boost if "subword" in tech else None)
        if not nbest or not nbest[0].text:
            return Result("", [], post.duration)
        # 3, the lexicon lookup (4; 5, g2g, acts through 3 and 4) and the two guards act on the n-best,
        # one after the other, with the same call shape (result.HypothesisFilter)
        ev = Evidence(post, bias, self.tokenizer)  # ev.memo: they and the word times align the same hypotheses
        if "phonetic" in tech:
            from .phonetic_rescoring import PhoneticRescoring

            nbest = PhoneticRescoring(opts.phonetic_weight).apply(nbest, ev)
        unbiased = None  # the no-list beam search on post.subword, if one ran
        if opts.guard_distance is not None and tech & {"subword", "unigram", "phonetic"}:
            from .entity_guard import EntityGuard

            nbest = EntityGuard(opts.guard_distance).apply(nbest, ev)
            if not nbest:  # every hypothesis holds an entity the audio does not support
                # no boosts, but the list's words stay words: on the adapter's posteriors an
                # entity's subwords would otherwise merge into one long unknown word
                nbest = unbiased = beam_search(post.subword, self.tokenizer, self.lm if opts.use_lm else None,
                                               opts.beam, bias)
                if not nbest or not nbest[0].text:
                    return Result("", [], post.duration)
        beam_words = None  # the words before the lookup: an entity it put in gets its own confidence map
        if "lexicon" in tech:
            from .lexicon_lookup import LexiconLookup

            # joint biasing: the judge that also weighs where the adapter attended, if the model has one
            att = post.attention if self.joint_lookup_model is not None and opts.bias == "joint" else None
            beam_words = nbest[0].text.split()
            nbest = LexiconLookup(self.joint_lookup_model if att is not None else self.lookup_model,
                                  self.boosted_lm(bias, opts), opts.lookup_threshold(bias.counts_as),
                                  lm_weight=opts.beam.lm_weight, word_bonus=opts.beam.word_bonus,
                                  shortlist_distance=opts.lexicon_shortlist_distance, attention=att,
                                  **asdict(opts.lookup)).apply(nbest, ev)
        if opts.word_guard and len(bias) and opts.bias != "none":
            from .word_guard import WordGuard, needed

            if needed(nbest[0].text, bias):  # biasing brought no entity in: the words without the list
                logp = post.plain if post.plain is not None else post.subword
                plain = unbiased if logp is post.subword and unbiased is not None else \
                    beam_search(logp, self.tokenizer, self.lm if opts.use_lm else None, opts.beam)
                nbest = WordGuard(plain[0].text.split() if plain else []).apply(nbest, ev)
        best = nbest[0]
        return self._words(timed_words(best.text, list(best.tokens), post.subword, self.tokenizer, post.duration,
                                       ev.memo), post, bias, opts, beam_words)

    def _words(self, r: Result, post: Posteriors, bias: BiasingList, opts: DecodingOptions,
               beam_words: list[str] | None) -> Result:
        """The decoded words' extents, calibrated confidences, then the list's spellings."""
        from .confidence import word_kinds

        r = replace(r, words=word_extents(r.words, post.phone.argmax(-1) != 0, post.duration,
                                          opts.word_pause, opts.word_tail))
        if opts.calibrated:
            r = self.confidence.apply(r, word_kinds(beam_words, [w.word for w in r.words], bias))
        return mark_entities(r, bias)


class Pipeline:
    """The inference path of one recording: encoder features (once), the CTC heads' posteriors
    without the adapter (once) and with it for a list (once per list, the latest kept), and the
    decoder. :meth:`Recognizer.transcribe` is ``pipeline(audio).decode(bias, options)``."""

    def __init__(self, rec: Recognizer, features: tuple[torch.Tensor, float]):
        self.rec, self.features = rec, features
        self._plain: Posteriors | None = None
        self._biased: tuple[BiasingList, Posteriors] | None = None
        self._short: tuple[BiasingList, tuple, BiasingList] | None = None
        self.model_seconds = 0.0  # spent in the CTC stack and the adapter (benches time the decoder apart)

    @property
    def duration(self) -> float:
        return self.features[1]

    def posteriors(self, bias: BiasingList, opts: DecodingOptions, attention: bool = False,
                   keep: bool = False) -> Posteriors:
        """The posteriors ``opts`` decodes: with the adapter attending over ``bias`` in encoder and
        joint biasing, else the plain ones (``keep``: with the stack's outputs, which a later
        adapter pass then starts from)."""
        if opts.uses_adapter and len(bias):
            if self._biased is None or self._biased[0] is not bias:
                t0 = time.perf_counter()
                self._biased = bias, self.rec.posteriors(None, bias=bias, features=self.features, attention=attention,
                                                         base=self._plain)
                self.model_seconds += time.perf_counter() - t0
            return self._biased[1]
        if self._plain is None:
            t0 = time.perf_counter()
            self._plain = self.rec.posteriors(None, features=self.features, keep=keep)
            self.model_seconds += time.perf_counter() - t0
        return self._plain

    def shortlisted(self, bias: BiasingList, opts: DecodingOptions) -> BiasingList:
        """``bias``, or for a big list (:meth:`DecodingOptions.shortlists`) the entries the phone
        head may have heard here, as a list of their own (once per list and options)."""
        s = opts.shortlist
        if not opts.shortlists(len(bias)):
            return bias
        key = s.size, s.pool, s.fit, s.prefer_long, s.counts_as
        if self._short is None or self._short[0] is not bias or self._short[1] != key:
            from .shortlist import shortlist, sub_list

            # the decode on the shortlist reuses this pass's stack when the adapter attends
            phone = self.posteriors(bias, replace(opts, bias="none"), keep=s.decoding(opts).uses_adapter).phone
            self._short = bias, key, sub_list(bias, shortlist(bias, phone, s.size, s.pool, s.fit, s.prefer_long),
                                                     s.counts_as)
        return self._short[2]

    def decode(self, bias: BiasingList, opts: DecodingOptions, attention: bool = False) -> Result:
        """Decode with ``bias`` under ``opts`` (resolved); ``attention``: also the adapter's weights."""
        opts = self.rec.resolve(opts)
        short = opts.shortlists(len(bias))
        if short:
            bias, opts = self.shortlisted(bias, opts), opts.shortlist.decoding(opts)
        post = self.posteriors(bias, opts, attention)
        result = self.rec.decode(post, bias, opts)
        if short and opts.shortlist.confirm:
            from .shortlist import confirmed

            result = confirmed(self, result, bias, opts)
        if attention and post.attention is not None:
            result.attention = post.attention
            result.attention_entries = ["<no-bias>"] + [e.display for e in bias.entries]
        return result


def _bar(seconds: float):
    """A progress bar on stderr over a recording's seconds of audio."""
    import sys

    from tqdm import tqdm

    return tqdm(total=round(seconds, 1), unit="s", desc="decoding", file=sys.stderr, leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}<{remaining}]")


def _freeze() -> None:
    """Move what is alive now (the model, the pronunciation dictionary, a compiled list) out of the
    cyclic garbage collector's view. The beam search allocates fast; each full collection it
    triggers would otherwise walk millions of long-lived objects (a 10,000-entry list: ~0.8 s pauses
    inside single decodes). Frozen objects are still freed by reference counting; the young
    generations are collected first, so recent cyclic garbage is not frozen with them."""
    import gc

    gc.collect(1)
    gc.freeze()


def _attention(hook, a: int, b: int) -> np.ndarray:
    """The adapter's attention per entry on frames ``a`` to ``b`` of its call."""
    return hook.attention[0, a:b].float().numpy()


def _plain(hook, a: int, b: int) -> np.ndarray | None:
    """The final head's log-probabilities without the adapter on frames ``a`` to ``b``."""
    return torch.log_softmax(hook.logits[0, a:b].float(), -1).numpy() if hook.logits is not None else None


def joined(parts: list[tuple[float, Result]], duration: float) -> Result:
    """One result from the results of consecutive parts of a recording, each with its start in
    seconds: the words' times move by their part's start (attention, when asked, is stacked)."""
    if len(parts) == 1 and parts[0][0] == 0:
        return replace(parts[0][1], duration=duration)
    words = [replace(w, start=round(w.start + t, 2), end=round(w.end + t, 2)) for t, r in parts for w in r.words]
    out = Result(" ".join(r.text for _, r in parts if r.text), words, duration)
    att = [r.attention for _, r in parts if r.attention is not None]
    if att:
        out.attention, out.attention_entries = np.concatenate(att), parts[0][1].attention_entries
    return out


def pieces(logp: np.ndarray, most: int = STACK_WINDOW, least: int = STACK_WINDOW // 2) -> list[tuple[int, int]]:
    """Frame spans for decoding long audio piece by piece: at most ``most`` frames each, cut in the
    middle of the longest run of blank frames (the pause) from ``least`` to ``most`` frames in,
    or at ``most`` where there is none.

    >>> pieces(np.log(np.full((10, 3), 1 / 3)))
    [(0, 10)]
    >>> blank = np.log(np.eye(3)[[1, 1, 1, 0, 0, 0, 0, 2, 2, 0, 1, 1]] * 0.98 + 0.01)
    >>> pieces(blank, most=10, least=2)
    [(0, 4), (4, 12)]
    """
    if len(logp) <= most:  # (most calls: no argmax over every frame)
        return [(0, len(logp))]
    blank = logp.argmax(-1) == 0
    out, s = [], 0
    while len(logp) - s > most:
        run = best = 0
        cut = most
        for i in range(least, most):
            run = run + 1 if blank[s + i] else 0
            if run > best:
                best, cut = run, i - run // 2
        out.append((s, s + cut))
        s += cut
    return out + [(s, len(logp))]


