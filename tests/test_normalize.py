from ctcbias.normalize import is_normalized, normalize


def test_examples_from_the_method():
    assert normalize("COVID-19") == "covid nineteen"
    assert normalize("O'Brien") == "o'brien"
    assert normalize("São Paulo") == "sao paulo"
    assert normalize("Zelenskyy") == "zelenskyy"


def test_numbers_units_and_punctuation():
    assert normalize("Take 20 mg at 8:30, Dr. Smith!") == "take twenty milligrams at eight thirty doctor smith"
    assert normalize("the 21st of May") == "the twenty first of may"
    assert normalize("0.5 ml") == "zero point five milliliters"


def test_nothing_speakable_gives_empty():
    assert normalize("?!... --") == ""
    assert normalize("") == ""


def test_output_is_always_in_training_form():
    for s in ["Hello, World!", "'quoted' words", "a–b—c", "Ünïcödé 3rd", "x+y=z"]:
        n = normalize(s)
        assert is_normalized(n), (s, n)


def test_plain_words_take_the_short_way_to_the_same_form():
    assert normalize("Lisinopril Hydrochloride") == "lisinopril hydrochloride"
    assert normalize("Dr Smith") == "doctor smith"  # an abbreviation still expands
    assert normalize("MG") == "milligrams"
    assert normalize("A  B ") == "a b"
