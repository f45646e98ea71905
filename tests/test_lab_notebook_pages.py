"""The lab-notebook pages without a browser: charts from run metrics, the run header, captions,
the log page's comment and sidebar, own 404/500 pages and favicon, the CSP on every page,
the Paper type-ahead, ticking tasks."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse

from lablog.views import server_error
from notes.models import Note, Paper, Revision
from notes.rendering import toggle_task
from tests.lab_fixtures import lab_note
from workers.charts import build_chart, metric_label, nice_ticks, run_charts, scalars_of, series_of
from workers.models import Run
from workers.templatetags.runs import peak_memory, where_ran

pytestmark = pytest.mark.django_db
TEMPLATES = Path(settings.BASE_DIR) / "templates"


# ---------------------------------------------------------------- charts


def test_series_metrics_become_charts_and_scalars_do_not():
    metrics = {
        "accuracy": {"0": 0.12, "1.5": 0.9, "4": 1.0},
        "mean_rank_pos": {"log": {"0": 3.0, "1": 40.0}, "prob": {"0": 2.0, "1": 4.0}},
        "device": "cpu",
        "loss": 0.25,
    }
    assert set(series_of(metrics)) == {"accuracy", "mean_rank_pos"}
    charts = {c.name: c for c in run_charts(metrics)}
    assert [p["key"] for p in charts["accuracy"].lines[0].points] == ["0", "1.5", "4"]
    xs = [p["cx"] for p in charts["accuracy"].lines[0].points]
    assert xs == sorted(xs) and xs[1] - xs[0] > 0
    # Positions follow the scale's value, not its index: 1.5 sits at 37.5% between 0 and 4.
    assert abs((xs[1] - xs[0]) / (xs[2] - xs[0]) - 1.5 / 4) < 0.01
    assert [line.label for line in charts["mean_rank_pos"].lines] == ["log rule", "probability rule"]
    assert charts["accuracy"].rows[1] == {"key": "1.5", "values": ["0.9"]}


def test_series_named_for_a_guidance_rule_share_one_chart():
    metrics = {
        "next_token_entropy_bits_log": {"0": 3.1, "2": 1.2}, "next_token_entropy_bits_prob": {"0": 3.1, "2": 2.5},
        "model": "tiny", "device": "cpu: x",
    }
    (chart,) = run_charts(metrics)
    assert (chart.title, chart.unit) == ("Entropy of the guided next token", "bits")
    assert [line.label for line in chart.lines] == ["log rule", "probability rule"]
    assert scalars_of(metrics) == {"model": "tiny", "device": "cpu: x"}


def test_an_unknown_metric_gets_a_readable_name_and_odd_values_no_crash():
    assert metric_label("tokens_per_second") == ("Tokens per second", "")
    assert build_chart("x", [("", {})]) is None
    assert run_charts({"x": {"a": "text"}, "y": {}, "z": {"0": float("nan")}}) == []
    categorical = build_chart("x", [("", {"small": 1, "large": 3})])
    assert [t["label"] for t in categorical.x_ticks] == ["small", "large"]


def test_nice_ticks_cover_the_range_with_round_steps():
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1.0]
    ticks = nice_ticks(0, 37)
    assert ticks[0] == 0 and ticks[-1] >= 37 and len(ticks) <= 7


def test_where_a_run_ran_is_said_in_plain_words():
    assert where_ran(Run(device="cpu", worker_host="cpu@lab")) == "on CPU: worker cpu@lab has no GPU"
    assert where_ran(Run(device="cuda: NVIDIA H200", worker_host="gpu0@box")) == "on NVIDIA H200 (cuda:0) · gpu0@box"
    assert where_ran(Run(device="cuda:1: NVIDIA H200", worker_host="")) == "on NVIDIA H200 (cuda:1)"
    assert where_ran(Run(device="cuda:1", device_name="NVIDIA H200", worker_host="gpu1@box")) == "on NVIDIA H200 (cuda:1) · gpu1@box"
    assert where_ran(Run(device="cpu", device_name="AMD EPYC", worker_host="cpu@box")) == "on CPU: worker cpu@box has no GPU"
    assert where_ran(Run()) == ""
    assert peak_memory(Run(peak_memory_bytes=3 * 2**30 // 2)) == "1.5 GiB" and peak_memory(Run()) == ""


def test_the_run_page_shows_charts_tables_and_captions_never_a_raw_dict(auth_client, user):
    note, runs = lab_note(user, runs=1)
    html = auth_client.get(runs[0].get_absolute_url()).content.decode()
    assert html.count('class="point"') == 8  # accuracy and diversity at four scales
    assert "{&#x27;" not in html and "{'" not in html  # no Python dict printed
    assert "w = 4 · 4 samples per class" in html and ">grid_w4.png<" not in html
    assert "Accuracy and diversity by guidance scale" in html
    assert re.search(r'<span class="where">on CPU: worker cpu@lab has no GPU</span>', html)
    assert re.search(r'<th scope="row">seed</th><td>0</td>', html)
    # The note's panel shows the same chart and the parameters as a small table.
    panel = auth_client.get(note.get_absolute_url()).content.decode()
    assert panel.count('data-metric="accuracy"') == 1 and 'class="params compact"' in panel


def test_the_polled_run_card_carries_the_chart_while_the_run_goes(auth_client, user):
    note, runs = lab_note(user, runs=1)
    run = Run.objects.create(runnable=runs[0].runnable, params=runs[0].params)
    assert run.claim("live", "cpu@lab")
    run.record("live", metrics={"accuracy": {"0": 0.1, "1": 0.7}})
    html = auth_client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in html and html.count('class="point"') == 2


def test_compare_names_runs_by_the_parameters_that_differ(auth_client, user):
    _, runs = lab_note(user, runs=3)
    html = auth_client.get(reverse("workers:compare"), {"runs": [r.pk for r in runs]}).content.decode()
    for run in runs:
        assert f"Run {run.pk} seed={run.params['seed']}" in html
    assert html.count('<g class="series series-') == 6  # accuracy and diversity, three runs each
    row = re.search(r'<div class="image-row">((?:(?!image-row).)*grid_w4\.png.*?)</div>', html, re.S).group(1)
    assert all(f"/runs/{r.pk}/artifacts/grid_w4.png" in row for r in runs)


# ---------------------------------------------------------------- pages and defects


def test_no_template_has_a_multi_line_short_comment():
    """{# … #} must open and close on one line, or Django shows it as text (the log page did)."""
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in TEMPLATES.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.count("{#") > line.count("#}")
    ]
    assert offenders == []


def test_the_log_shows_no_template_comment_and_lists_papers(auth_client, user):
    lab_note(user, runs=1)
    html = auth_client.get("/").content.decode()
    assert "{#" not in html and "One request at a time" not in html
    excerpt = re.search(r'<a class="entry-title" href="[^"]+">CFG sweep on digits</a>.*?<p class="excerpt">(.*?)</p>', html, re.S).group(1)
    assert excerpt.startswith("Classifier-free guidance trades diversity") and "```" not in excerpt and "|" not in excerpt
    aside = html[html.index('<aside class="log-aside">'):]
    assert "Classifier-Free Diffusion Guidance" in aside and "All 13 papers" in aside


def test_a_missing_note_gets_our_404_page_even_with_debug_on(auth_client, user, settings):
    settings.DEBUG = True
    response = auth_client.get("/notes/999999/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Nothing here" in html and "URLconf" not in html and "Back to the log" in html


def test_a_missing_page_without_debug_gets_our_404_page(auth_client, settings):
    settings.DEBUG = False
    response = auth_client.get("/no/such/page/")
    assert response.status_code == 404 and "Nothing here" in response.content.decode()


def test_the_500_page_is_ours_and_needs_nothing_that_could_fail(settings):
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500 and "Something went wrong" in response.content.decode()
    assert 'href="/">Back to the log' in response.content.decode()
    settings.URL_PREFIX = "/lablog"
    assert 'href="/lablog/">Back to the log' in server_error(RequestFactory().get("/")).content.decode()


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")
    assert (Path(settings.BASE_DIR) / "static" / "favicon.svg").read_text().startswith("<svg")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.I)


def test_every_page_has_the_csp_and_no_inline_script(auth_client, user):
    note, runs = lab_note(user, runs=2)
    pages = [
        "/", note.get_absolute_url(), f"/notes/{note.pk}/edit/", "/notes/new/", "/papers/", runs[0].get_absolute_url(),
        f"/runs/compare/?runs={runs[0].pk}&runs={runs[1].pk}", "/runs/", "/search/?q=guidance&mode=keyword",
        "/search/status/", "/exchange/import/", "/exchange/export/", "/api/tokens/", f"/notes/{note.pk}/revisions/",
        f"/papers/{note.paper_id}/",
    ]
    for url in pages:
        response = auth_client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0], url
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), (url, INLINE_SCRIPT.search(html))
        assert not HANDLER_ATTRIBUTE.search(html), (url, HANDLER_ATTRIBUTE.search(html))


def test_signed_out_pages_have_the_csp_too(client):
    for url in ["/accounts/login/", "/accounts/signup/"]:
        assert "script-src 'self'" in client.get(url)["Content-Security-Policy"]


# ---------------------------------------------------------------- paper type-ahead


def test_the_paper_type_ahead_suggests_a_few_of_my_papers(auth_client, user, other_user):
    for i in range(30):
        Paper.objects.create(user=user, title=f"Guidance paper {i:02d}")
    Paper.objects.create(user=other_user, title="Guidance paper of someone else")
    html = auth_client.get(reverse("notes:paper_suggest"), {"paper": "guidance"}).content.decode()
    assert html.count("<option") == 20 and "someone else" not in html
    assert "Guidance paper 07" in auth_client.get(reverse("notes:paper_suggest"), {"paper": "paper 07"}).content.decode()


def test_the_search_page_has_no_list_of_every_paper_and_filters_by_title(auth_client, user):
    for i in range(50):
        Paper.objects.create(user=user, title=f"Paper {i}")
    html = auth_client.get("/search/", {"q": "guidance", "mode": "keyword", "paper": "Paper 7"}).content.decode()
    assert "Paper 13" not in html and 'list="paper-suggestions"' in html
    assert re.search(r'name="paper"[^>]*value="Paper 7"|value="Paper 7"[^>]*name="paper"', html)
    by_id = auth_client.get("/search/", {"q": "x", "mode": "keyword", "paper": Paper.objects.get(title="Paper 7").pk}).content.decode()
    assert 'value="Paper 7"' in by_id  # a link's id shows as the title
    assert "No paper titled" in auth_client.get("/search/", {"q": "x", "mode": "keyword", "paper": "Nope"}).content.decode()
    # A title typed but not picked, changed in place (htmx fragment): the results say why the filter is ignored.
    fragment = auth_client.get("/search/", {"q": "x", "mode": "keyword", "paper": "Pap"}, HTTP_HX_REQUEST="true",
                               HTTP_HX_TARGET="search-results").content.decode()
    assert "Paper: No paper titled “Pap”. (ignored)" in fragment


def test_the_log_filters_by_a_typed_paper_title_without_listing_every_paper(auth_client, user):
    papers = [Paper.objects.create(user=user, title=f"Paper {i}") for i in range(50)]
    Note.objects.create_note(user, title="About paper 7", body="x", paper=papers[7])
    Note.objects.create_note(user, title="About paper 13", body="x", paper=papers[13])
    html = auth_client.get(reverse("notes:log"), {"paper": "paper 7"}).content.decode()
    assert 'list="paper-suggestions"' in html and "<option" not in html.split('id="paper-suggestions"')[1][:200]
    assert "About paper 7" in html and "About paper 13" not in html
    by_id = auth_client.get(reverse("notes:log"), {"paper": papers[13].pk}).content.decode()
    assert 'value="Paper 13"' in by_id and "About paper 13" in by_id and "About paper 7" not in by_id
    assert "No paper titled" in auth_client.get(reverse("notes:log"), {"paper": "Nope"}).content.decode()


# ---------------------------------------------------------------- task lists


def test_toggle_task_changes_only_the_nth_rendered_task():
    body = "- [ ] a\n- [x] b\n  - [ ] c\n\n```\n- [ ] code\n```\n> - [ ] quoted\n"
    assert toggle_task(body, 2, True) == body.replace("  - [ ] c", "  - [x] c")
    assert toggle_task(body, 1, False) == body.replace("- [x] b", "- [ ] b")
    assert toggle_task(body, 3, True) == body.replace("> - [ ] quoted", "> - [x] quoted")
    assert toggle_task(body, 4, True) is None


def test_ticking_a_task_is_a_new_version_and_stale_ticks_are_refused(auth_client, user, other_client):
    note = Note.objects.create_note(user, title="Todo", body="- [ ] one\n- [ ] two\n")
    url = reverse("notes:task", args=[note.pk])
    response = auth_client.post(url, {"index": 1, "checked": "true", "base_version": note.version})
    assert response.status_code == 200 and response.json() == {"version": note.version + 1}
    assert Note.objects.get(pk=note.pk).body == "- [ ] one\n- [x] two\n"
    assert Revision.objects.filter(note=note, body="- [ ] one\n- [ ] two\n").exists()
    stale = auth_client.post(url, {"index": 0, "checked": "true", "base_version": note.version})
    assert stale.status_code == 409 and "changed elsewhere" in stale.json()["message"]
    assert other_client.post(url, {"index": 0, "checked": "true", "base_version": note.version + 1}).status_code == 404
    assert Note.objects.get(pk=note.pk).body == "- [ ] one\n- [x] two\n"
