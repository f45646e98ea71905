"""PostgreSQL keyword score: ts_rank per query word, each weighted by the word's rarity in
the user's passages (BM25's IDF, as SQLite's FTS5 weighs them).

ts_rank of an OR query is the mean of each word's score in the row and knows nothing of how
common a word is, so a passage with only a common word of the question ranked level with
one that has only its rarest. Measured with bench/search_quality.py on PostgreSQL, same
fusion constants: keyword MRR@10 0.934 -> 0.956 and hybrid 0.958 -> 0.980 on
dev-queries-2.json (1.000 before and after on dev-queries.json).

A row is scored once, in one expression in the query's word order (so its score is the same
whatever plan reads it), and ts_rank runs only for the words the row has: `@@` on one word
is a lookup in the row's tsvector, ts_rank a walk over that word's positions.
"""

import math


def idf(total: int, matching: int) -> float:
    """FTS5's IDF (fts5_aux.c): log((N - n + 0.5) / (n + 0.5)), kept above zero (N at least n:
    the total and the count may be read a moment apart)."""
    value = math.log((max(total, matching) - matching + 0.5) / (matching + 0.5))
    return value if value > 0 else 1e-6


def score_sql(words: int) -> str:
    """The score of row `p` (its tsvector p.search_tsv), with the words' queries q0, q1, …
    from queries_sql in the FROM clause; parameters from `params`."""
    return " + ".join(
        f"CASE WHEN p.search_tsv @@ q{i} THEN %s * ts_rank(%s::float4[], p.search_tsv, q{i}) ELSE 0 END" for i in range(words)
    ) or "0"


def _score_params(idfs: list[float], weights: list[float]) -> list:
    return [value for word_idf in idfs for value in (word_idf, weights)]


def queries_sql(words: int) -> str:
    """FROM-clause items: q, matching rows with any of the words, then q0, q1, …, one
    tsquery per word; each parsed once a statement."""
    return "to_tsquery('english', %s) q" + "".join(f", to_tsquery('english', %s) q{i}" for i in range(words))


def params(words: list[str], idfs: list[float], weights: list[float]) -> list:
    """The parameters of score_sql then queries_sql, in that order."""
    # Quoted lexemes: to_tsquery reads 'word' as a plain term, whatever it contains.
    quoted = [f"'{word}'" for word in words]
    return [*_score_params(idfs, weights), " | ".join(quoted), *quoted]
