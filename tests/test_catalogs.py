import hashlib

from ctcbias.data.catalogs import Entity, ReservedGate, is_reserved
from ctcbias.data.sentences import fill, patterns_for
from ctcbias.data.patterns import PATTERNS
import random


def test_reserved_rule_matches_sha1_prefix():
    for name in ["Lisinopril", "São Paulo", "O'Brien", "Anna Kowalska", "COVID-19"]:
        h = hashlib.sha1(name.lower().strip().encode()).hexdigest()
        assert is_reserved(name) == (h[0] in "01")
        assert is_reserved("  " + name.upper() + " ") == is_reserved(name)


def test_gate_matches_phrases_not_substrings():
    g = ReservedGate({"sao paulo", "lisinopril"})
    assert g.hits("take lisinopril now") == ["lisinopril"]
    assert "we flew to sao paulo" in g
    assert "paulo and sao" not in g
    assert "lisinoprils" not in g


def test_fill_keeps_exact_spans():
    pools = {k: [Entity("São Paulo", "sao paulo", k), Entity("O'Brien", "o'brien", k)]
             for k in ["drug", "disease", "person", "surname", "first", "city"]}
    rng = random.Random(0)
    for domain in PATTERNS:
        for tpl in patterns_for(domain, "train")[:40]:
            s = fill(tpl, rng, pools)
            words = s.text.split()
            assert s.entities
            for e in s.entities:
                span = " ".join(words[e["word_start"]:e["word_end"]])
                assert span.removesuffix("'s") == e["spoken"]
                assert s.display[e["char_start"]:e["char_end"]] == e["display"]


def test_eval_patterns_are_disjoint_from_training():
    for domain in PATTERNS:
        assert not set(patterns_for(domain, "train")) & set(patterns_for(domain, "test"))
        assert len(set(patterns_for(domain, "train"))) >= 60
