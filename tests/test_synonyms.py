from kefu.knowledge.faq_index import lexical_tokens
from kefu.understanding.intent_model import word_features_with_synonyms
from kefu.understanding.normalise import normalise
from kefu.understanding.synonyms import synonym_tokens


def test_colloquial_chinese_meets_the_faq_word() -> None:
    assert "=退款" in synonym_tokens(normalise("能退钱吗"))
    assert "=退款" in synonym_tokens(normalise("退款多久到账"))
    assert "=运费" in synonym_tokens(normalise("邮费谁出"))
    assert "=快递柜" in synonym_tokens(normalise("可以放驿站吗"))
    assert "=专票" in synonym_tokens(normalise("能開專票嗎"))  # traditional, folded first


def test_english_terms_match_stemmed_words_and_phrases_into_the_same_groups() -> None:
    assert "=退款" in synonym_tokens(normalise("When do I get my money back?"))
    assert "=退款" in synonym_tokens(normalise("refunds"))
    assert "=破损" in synonym_tokens(normalise("The parcel arrived smashed"))
    # a phrase needs its words in a row
    assert "=退款" not in synonym_tokens(normalise("money is not back"))


def test_unknown_text_has_no_groups() -> None:
    assert synonym_tokens(normalise("今天天气不错")) == []
    assert synonym_tokens("") == []


def test_groups_are_added_to_lexical_tokens_and_intent_words() -> None:
    toks = lexical_tokens(normalise("邮费怎么算"))
    assert "邮费" in toks and "=运费" in toks
    assert "=运费" in word_features_with_synonyms(normalise("邮费怎么算"))
