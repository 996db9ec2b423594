"""Cases: serious-incident notices and information requests, stored durably.

What the web layer (the JSON API and the HTML forms) uses:

- `portal.cases.schemas`: `IncidentSubmission`, `InformationRequestSubmission`,
  `MessageSubmission` hold every validation rule; validate with
  `Model.model_validate(data, context={"catalog": catalog, "now": now})`, and turn a
  `ValidationError` into `[{field, message}]` with `errors_of`.
- `portal.cases.services`: `submit_incident`, `submit_information_request` (each one
  transaction: case, deadlines, audit event, outbox mail; they commit before returning a
  `Receipt`), `find_case`, `add_message` and `submitter_view`.
- `portal.cases.db`: engines and sessions from a URL, `init_db`.

This package imports `portal.catalog` and `portal.deadlines`, SQLAlchemy and pydantic, and
nothing from Flask, so the CLI, the mail sender and the tests use it without an app.
"""
