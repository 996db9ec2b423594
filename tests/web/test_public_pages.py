"""The public HTML pages: forms, receipts and the status page, through a real app and SQLite.

CSRF stays on: each test takes the token from the page it posts, as a browser does.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from portal.cases.models import Case, Message
from portal.web import context, create_app
from portal.web.forms import FormDefinitionError

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # a Thursday, Paris on UTC+01:00


@pytest.fixture
def app(sqlite_url, tmp_path):
    """The suite's `app`, but with CSRF on and the clock set to `NOW`."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DATABASE_URL": sqlite_url,
            "SITE_DIR": str(tmp_path / "site"),
            "MAIL_SENDER_THREAD": False,
            "SUBMISSION_RATE_LIMIT": "10000 per minute",
            "CLOCK": lambda: NOW,
            "SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
            "DATA_KEY_FILE": str(tmp_path / "data-key"),
        }
    )
    yield app
    app.extensions[context.ENGINE].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class _Page(HTMLParser):
    """The elements of a page with their attributes, and the text of each label by its `for`."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.labels: dict[str, str] = {}
        self._label: str | None = None
        self.inline_scripts = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "label":
            self._label = attributes.get("for", "")
            self.labels[self._label] = ""
        if tag == "script" and "src" not in attributes:
            self.inline_scripts += 1

    def handle_endtag(self, tag):
        if tag == "label":
            self._label = None

    def handle_data(self, data):
        if self._label is not None:
            self.labels[self._label] += data

    def find(self, tag, **attrs):
        return [
            a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]

    @property
    def ids(self):
        return {a["id"] for _, a in self.elements if "id" in a}


def _csrf(client, url):
    page = _Page(client.get(url).get_data(as_text=True))
    return page.find("input", name="csrf_token")[0]["value"]


def _incident(**changes):
    data = {
        "product": "lumen-large-3",
        "categories": ["death"],
        "timezone": "America/New_York",
        "aware_at": "2026-11-26T08:00",  # 13:00 UTC
        "description": "The model gave a lethal dosage.",
        "member_states": ["FR", "DE"],
        "affected_persons": "2",
        "reporter.organisation": "Example Health SAS",
        "reporter.name": "Camille Martin",
        "reporter.email": "camille@example.com",
        "reporter.capacity": "deployer",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _submit(client, url="/report-incident", **changes):
    data = _incident(**changes) if url == "/report-incident" else changes
    return client.post(url, data={**data, "csrf_token": _csrf(client, url)}, follow_redirects=True)


def _receipt(response):
    html = response.get_data(as_text=True)
    reference = re.search(r'id="reference">([^<]+)<', html).group(1)
    token = re.search(r'id="access-token">([^<]+)<', html).group(1)
    return reference, token


def _count(app, model):
    with app.extensions[context.SESSIONS]() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("url", ["/report-incident", "/request-information", "/status"])
def test_every_input_has_a_label_and_the_page_is_csp_clean(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = _Page(response.get_data(as_text=True))
    inputs = [
        a
        for tag, a in page.elements
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden"
    ]
    assert inputs
    for attrs in inputs:
        assert page.labels.get(attrs["id"], "").strip(), f"no label for {attrs.get('name')}"
        for described in attrs.get("aria-describedby", "").split():
            assert described in page.ids
    assert page.inline_scripts == 0
    assert not [a for _, a in page.elements if "style" in a]
    assert len(page.find("input", name="csrf_token")) == 1


def test_product_link_preselects_the_product(client):
    html = client.get("/report-incident?product=lumen-ultra").get_data(as_text=True)
    assert re.search(r'<option value="lumen-ultra" selected>', html)
    assert len(re.findall(r"<option [^>]*selected", html)) == 2  # the product and the time zone
    page = _Page(client.get("/request-information?product=lumen-chat").get_data(as_text=True))
    checked = [a["value"] for a in page.find("input", type="checkbox") if "checked" in a]
    assert checked == ["lumen-chat"]
    # Withdrawn products are not offered for requests; unknown ids preselect nothing.
    assert not page.find("input", value="lumen-medium-1")
    html = client.get("/report-incident?product=nope").get_data(as_text=True)
    assert re.findall(r'<option value="([^"]*)" selected>', html) == ["Europe/Paris"]


def test_the_version_box_suggests_the_catalogs_versions(app, client):
    html = client.get("/report-incident").get_data(as_text=True)
    (box,) = _Page(html).find("input", name="product_version")
    assert box["type"] == "text"  # typed: a suggestion, not a choice
    block = re.search(rf'<datalist id="{box["list"]}">(.*?)</datalist>', html, re.S)
    assert block is not None
    offered = re.findall(r'<option value="([^"]*)">([^<]*)</option>', block.group(1))
    catalog = app.extensions[context.CATALOG]
    expected = {(v, p.name) for p in catalog.products.values() for v in p.versions}
    assert set(offered) == expected and len(offered) == len(expected)
    assert ("mobile 3.4", catalog.get("lumen-chat").name) in offered


def test_a_post_without_csrf_token_is_refused_and_saves_nothing(app, client):
    response = client.post("/report-incident", data=_incident())
    assert response.status_code == 400
    assert "This form expired" in response.get_data(as_text=True)
    assert _count(app, Case) == 0


def test_an_incident_report_gives_a_receipt_with_deadlines_in_the_chosen_zone(app, client):
    response = _submit(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    reference, token = _receipt(response)
    assert re.fullmatch(r"INC-2026-\d{6}", reference)
    html = response.get_data(as_text=True)
    assert "We show it only once" in html
    # aware_at 08:00 in New York is 13:00 UTC; 48 hours later, shown on the New York clock.
    assert "Saturday 28 November 2026 at 08:00 (America/New_York, UTC-05:00)" in html
    # The authority report for a death on a systemic-risk model: 10 days from receipt.
    assert "Sunday 6 December 2026 at 09:00 (America/New_York, UTC-05:00)" in html
    assert "How we counted" in html and "48 hours" in html
    with app.extensions[context.SESSIONS]() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case.submission["aware_at"] == "2026-11-26T13:00:00+00:00"
        assert case.submission["affected_persons"] == 2
        assert case.submission["member_states"] == ["FR", "DE"]
        assert token not in str(case.submission) and case.token_hash != token


def test_the_receipt_page_offers_the_signed_receipt_as_a_json_file(app, client):
    response = _submit(client)
    reference, token = _receipt(response)
    page = _Page(response.get_data(as_text=True))
    [form] = page.find("form", action="/status/receipt")
    csrf = page.find("input", name="csrf_token")[0]["value"]
    download = client.post(
        form["action"], data={"reference": reference, "access_token": token, "csrf_token": csrf}
    )
    assert download.status_code == 200
    assert download.mimetype == "application/json"
    disposition = download.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{reference}.receipt.json"'
    with app.extensions[context.SESSIONS]() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert download.json == case.receipt and case.receipt["payload"]["reference"] == reference
    wrong = client.post(
        "/status/receipt", data={"reference": reference, "access_token": "x", "csrf_token": csrf}
    )
    assert wrong.status_code == 404


def test_a_late_notice_is_accepted_and_flagged(client):
    response = _submit(client, aware_at="2026-11-20T08:00")
    assert response.status_code == 200
    assert "more than 48 hours after you became aware" in response.get_data(as_text=True)


def test_the_form_uses_the_api_rules_and_names_every_bad_field(app, client):
    bad = {
        "reporter.email": "not-an-email",
        "aware_at": "2026-11-26T20:00",  # 01:00 UTC next day: in the future
        "started_at": "yesterday",
        "description": "",
        "member_states": None,
    }
    response = _submit(client, **bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    page = _Page(html)
    links = [a["href"] for a in page.find("a") if a.get("href", "").startswith("#field-")]
    assert links == [
        "#field-started-at",
        "#field-aware-at",
        "#field-description",
        "#field-reporter-email",
    ]
    for href in links:
        assert href[1:] in page.ids
        assert page.find("input", id=href[1:], **{"aria-invalid": "true"}) or page.find(
            "textarea", id=href[1:], **{"aria-invalid": "true"}
        )
    assert "Email address must be a valid email address" in html
    # What was typed is kept, so nothing has to be typed twice.
    assert 'value="not-an-email"' in html
    assert _count(app, Case) == 0
    # The API refuses the same fields with the same rules.
    api = client.post(
        "/api/v1/incidents",
        json={
            "product": "lumen-large-3",
            "category": "death",
            "aware_at": "2026-11-27T01:00:00+00:00",
            "description": "",
            "reporter": {"organisation": "A", "name": "B", "email": "not-an-email"},
        },
    )
    assert api.status_code == 422
    assert {e["field"] for e in api.get_json()["errors"]} == {
        "aware_at",
        "description",
        "reporter.email",
    }


def test_an_information_request_refuses_withdrawn_products(app, client):
    request = {
        "products": ["lumen-medium-1"],
        "topic": "integration",
        "questions": "What is the context window?",
        "requester.organisation": "Example SAS",
        "requester.name": "Ana",
        "requester.email": "ana@example.com",
    }
    response = _submit(client, "/request-information", **request)
    assert response.status_code == 422
    assert "has been withdrawn" in response.get_data(as_text=True)
    response = _submit(client, "/request-information", **{**request, "products": ["lumen-chat"]})
    assert response.status_code == 200
    reference, _ = _receipt(response)
    assert reference.startswith("REQ-2026-")
    # 14 days from receipt (14:00 UTC), at the same Paris clock time.
    assert "Thursday 10 December 2026 at 15:00 (Europe/Paris, UTC+01:00)" in (
        response.get_data(as_text=True)
    )


def test_status_page_shows_the_case_and_takes_a_follow_up(app, client):
    reference, token = _receipt(_submit(client))
    csrf = _csrf(client, "/status")
    response = client.post(
        "/status", data={"reference": reference, "access_token": token, "csrf_token": csrf}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert reference in html and "The model gave a lethal dosage." in html
    assert "Death of a person" in html and "France, Germany" in html
    page = _Page(html)
    form_csrf = page.find("input", name="csrf_token")[0]["value"]
    response = client.post(
        "/status/messages",
        data={
            "reference": reference,
            "access_token": token,
            "body": "Two more users saw it.",
            "csrf_token": form_csrf,
        },
    )
    assert response.status_code == 200
    assert "Two more users saw it." in response.get_data(as_text=True)
    assert _count(app, Message) == 1
    # An empty follow-up is refused by the schema's rule, with the field named.
    response = client.post(
        "/status/messages",
        data={"reference": reference, "access_token": token, "body": " ", "csrf_token": form_csrf},
    )
    assert response.status_code == 422
    assert 'href="#field-body"' in response.get_data(as_text=True)
    assert _count(app, Message) == 1


def test_a_wrong_token_and_an_unknown_reference_look_the_same(client):
    reference, token = _receipt(_submit(client))
    answers = []
    for ref, tok in ((reference, token[:-1] + "x"), ("INC-2026-999999", token), (reference, "")):
        csrf = _csrf(client, "/status")
        response = client.post(
            "/status", data={"reference": ref, "access_token": tok, "csrf_token": csrf}
        )
        answers.append(response.status_code)
        if tok:
            assert "We found no case with this reference and access code" in response.get_data(
                as_text=True
            )
    assert answers == [404, 404, 422]
    response = client.post(
        "/status/messages",
        data={"reference": reference, "access_token": "wrong", "body": "x", "csrf_token": csrf},
    )
    assert response.status_code == 404


def test_form_contents_and_tokens_are_never_logged(client, caplog):
    caplog.set_level(logging.DEBUG)
    response = _submit(client, description="A secret-ish description 7f3a")
    reference, token = _receipt(response)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert reference in logged
    for secret in ("secret-ish description 7f3a", "camille@example.com", "Camille", token):
        assert secret not in logged


def test_a_broken_form_definition_stops_the_app_from_starting(sqlite_url, tmp_path):
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "incident.yaml").write_text("kind: incident\ntitle: Report\n")
    with pytest.raises(FormDefinitionError, match=r"incident\.yaml:1:1: submit"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test",
                "DATABASE_URL": sqlite_url,
                "FORMS_DIR": str(tmp_path / "forms"),
                "MAIL_SENDER_THREAD": False,
                "SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
                "DATA_KEY_FILE": str(tmp_path / "data-key"),
            }
        )


def test_past_the_rate_limit_a_form_says_so_with_retry_after(app, client):
    app.config["SUBMISSION_RATE_LIMIT"] = "2 per minute"
    statuses = [_submit(client, description=f"Case {n}").status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    response = _submit(client)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in response.get_data(as_text=True)
    # Reading a form is never limited.
    assert client.get("/report-incident").status_code == 200
    assert _count(app, Case) == 2


def test_the_receipt_is_a_page_of_its_own_that_files_nothing_again(app, client):
    url = "/report-incident"
    posted = client.post(url, data={**_incident(), "csrf_token": _csrf(client, url)})
    assert posted.status_code == 303
    receipt_url = posted.headers["Location"]
    first = client.get(receipt_url)
    assert first.status_code == 200 and 'id="access-token"' in first.text
    again = client.get(receipt_url)
    assert again.status_code == 200
    assert 'id="access-token"' not in again.text and 'id="access-code-shown"' in again.text
    assert _count(app, Case) == 1
    # Another browser, given the address, sees no receipt.
    stranger = app.test_client().get(receipt_url)
    assert stranger.status_code == 404
    assert "INC-" not in stranger.text
