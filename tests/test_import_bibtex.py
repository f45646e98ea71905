"""BibTeX: fields, arXiv ids, LaTeX clean-up, and bad entries failing alone."""

from datetime import date

import pytest

from exchange.exporters import paper_bibtex
from exchange.importers import import_bytes
from notes.models import Paper

BIB = r"""
@comment{exported by a reference manager}
@article{vaswani2017attention,
  title = {Attention Is All You {Need}},
  author = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki},
  journal = {Advances in Neural Information Processing Systems},
  year = {2017},
  eprint = {1706.03762v5},
  archivePrefix = {arXiv},
  doi = {https://doi.org/10.5555/3295222.3295349},
  abstract = {The dominant sequence transduction models \ldots{} based on {RNNs}.}
}
@inproceedings{muller2020,
  title = "{\"U}ber die {G}{\'e}om{\`e}trie -- na{\"\i}ve Ans{\"a}tze \& mehr",
  author = {M{\"u}ller, J{\"o}rg and {\v{S}}koda, Ji{\v r}{\'\i}},
  booktitle = {Proc. of Stuff},
  year = 2020,
  url = {https://arxiv.org/abs/2001.01234},
}
@misc{broken,
  title = {Never closes,
  year = {2021}

@misc{notitle, year = {2019}}
@misc{good2, title = {Still Imported}, year = {2022}}
"""


def test_bibtex_fields_are_imported_and_latex_cleaned(user):
    report = import_bytes(user, "refs.bib", BIB.encode()).as_dict()
    vaswani = Paper.objects.get(user=user, citation_key="vaswani2017attention")
    assert vaswani.title == "Attention Is All You Need"
    assert vaswani.author_list == ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar"]
    assert vaswani.year == 2017 and vaswani.arxiv_id == "1706.03762"
    assert vaswani.doi == "10.5555/3295222.3295349"
    assert vaswani.venue == "Advances in Neural Information Processing Systems"
    assert "based on RNNs." in vaswani.abstract
    muller = Paper.objects.get(user=user, citation_key="muller2020")
    assert muller.title == "Über die Géomètrie – naïve Ansätze & mehr"
    assert muller.author_list == ["Jörg Müller", "Jiří Škoda"]
    assert muller.arxiv_id == "2001.01234" and muller.year == 2020 and muller.venue == "Proc. of Stuff"
    assert report["created"]["papers"] == 3


def test_malformed_entries_fail_alone_with_a_reason(user):
    report = import_bytes(user, "refs.bib", BIB.encode()).as_dict()
    failed = {f["item"]: f["reason"] for f in report["failed"]}
    assert set(failed) == {"@misc{broken", "@misc{notitle"}
    assert "no title" in failed["@misc{notitle"]
    assert Paper.objects.filter(user=user, title="Still Imported").exists()


def test_bibtex_matches_a_paper_already_known_by_arxiv_id(user):
    Paper.objects.create(user=user, title="arXiv:1706.03762", arxiv_id="1706.03762")
    report = import_bytes(user, "refs.bib", BIB.encode()).as_dict()
    assert report["updated"]["papers"] == 1
    assert Paper.objects.filter(user=user, arxiv_id="1706.03762").get().title == "Attention Is All You Need"
    again = import_bytes(user, "refs.bib", BIB.encode()).as_dict()
    assert again["created"]["papers"] == 0 and again["updated"]["papers"] == 3


def published(user, fields: str) -> tuple:
    import_bytes(user, "refs.bib", f"@misc{{k, title = {{Dated}}, {fields}}}".encode())
    paper = Paper.objects.get(user=user, citation_key="k")
    return paper.year, paper.published


@pytest.mark.parametrize("month", ["jan", "{jan}", "Jan.", "January", "{January}", "1", "01", "{01}"])
def test_year_and_month_give_the_first_of_that_month(user, month):
    assert published(user, f"year = 2021, month = {month}") == (2021, date(2021, 1, 1))


@pytest.mark.parametrize("month", ["sep", "sept", "September"])
def test_september_is_read_in_every_spelling(user, month):
    assert published(user, f"year = {{2019}}, month = {{{month}}}") == (2019, date(2019, 9, 1))


@pytest.mark.parametrize("month", ["{Spring}", "13", "{}", "{Janvier}"])
def test_an_unknown_month_keeps_the_year_only(user, month):
    assert published(user, f"year = 2020, month = {month}") == (2020, None)


@pytest.mark.parametrize(("value", "expected"), [
    ("{2023-05-17}", (2023, date(2023, 5, 17))),
    ("{2023-05}", (2023, date(2023, 5, 1))),
    ("{2023}", (2023, None)),
    ("{2023-05-17/2023-05-20}", (2023, date(2023, 5, 17))),
    ("{2023-02-31}", (2023, None)),
])
def test_biblatex_date_gives_the_day_it_appeared(user, value, expected):
    assert published(user, f"date = {value}") == expected


def test_date_wins_over_year_and_month(user):
    assert published(user, "year = 2020, month = dec, date = {2023-05-17}") == (2023, date(2023, 5, 17))


def test_a_date_that_is_not_a_date_falls_back_to_year_and_month(user):
    assert published(user, "year = 2020, month = mar, date = {forthcoming}") == (2020, date(2020, 3, 1))


def test_exported_papers_bib_gives_the_publication_date_back(user, other_user):
    paper = Paper.objects.create(user=user, title="Dated paper", published=date(2024, 6, 27))
    import_bytes(other_user, "papers.bib", paper_bibtex(paper).encode())
    assert Paper.objects.get(user=other_user).published == date(2024, 6, 27)
