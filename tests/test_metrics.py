from ctcbias.evaluation.metrics import Counts, score


def test_b_and_u_wer_split_as_le_et_al():
    # ref word 1 is the entity; "oh" and "pril" are inserted ordinary words, "please" deleted
    c = score("take lisinopril daily please", "take lysine oh pril daily", {1}, {"lisinopril"})
    assert (c.b_words, c.b_errors, c.u_words, c.u_errors, c.errors) == (1, 1, 3, 3, 4)


def test_inserted_bias_word_counts_toward_b_wer():
    c = score("call me now", "call lisinopril me now", set(), {"lisinopril"})
    assert c.b_errors == 1 and c.u_errors == 0 and c.wer == 1 / 3


def test_perfect_and_empty():
    assert score("a b", "a b", {0}).errors == 0
    c = score("a b", "", {0})
    assert c.b_errors == 1 and c.u_errors == 1
    total = Counts()
    total.add(score("a b c", "a x c", {1}))
    total.add(score("d e", "d e", set()))
    assert total.summary()["b_wer"] == 1.0 and total.summary()["u_wer"] == 0.0
