"""The authorization matrix: every URL rule of the app, for each of its methods, asked by
six kinds of requester, against the one table of expected answers below.

The requesters: `anon` (nobody signed in, and where the URL takes a status-link token, a
forged one), `link` (holds the candidate's own status link, not signed in), `owner` (the
recruiter who owns the records the URL points at), `other` (another recruiter), `manager`
and `admin`. Staff hold no status link: on the status pages they send a forged token too.

Each answer is a status code, or `login` for a redirect to the sign-in page. Every POST is
sent with an empty form against records made for that request alone, so what one request
changes (an erasure, a revoked link) cannot change another's answer.

A rule with no row, or a row for a rule that no longer exists, fails the suite: add the row
(the failure message prints the answers the app gives now, in the table's own format).
"""

from __future__ import annotations

import pytest

from tests import world
from tests.world import EXTRA, path_values, rows, url_for_rule

# fmt: off
MATRIX = {
    # "METHOD rule":                                         "anon  link  owner other mngr  admin"
    # -- Sign in, dashboard, health
    "GET /":                                                 "login login 200   200   200   200",
    "GET /healthz":                                          "200   200   200   200   200   200",
    "GET /favicon.ico":                                      "200   200   200   200   200   200",
    "GET /login":                                            "200   200   302   302   302   302",
    "POST /login":                                           "200   200   302   302   302   302",
    "POST /logout":                                          "login login login login login login",
    # -- Candidates (recruiters see their own and those in their positions)
    "GET /candidates":                                       "login login 200   200   200   200",
    "GET /candidates/<int:candidate_id>":                    "login login 200   404   200   200",
    "POST /candidates/<int:candidate_id>/applications":      "login login 400   404   400   400",
    "POST /candidates/<int:candidate_id>/contacts":          "login login 400   404   400   400",
    "GET /candidates/<int:candidate_id>/edit":               "login login 200   404   200   200",
    "POST /candidates/<int:candidate_id>/edit":              "login login 302   404   302   302",
    "GET /candidates/new":                                   "login login 200   200   200   200",
    "POST /candidates/new":                                  "login login 400   400   400   400",
    # -- My queue
    "GET /queue":                                            "login login 200   200   200   200",
    "POST /queue/tasks/<int:task_id>/reply":                 "login login 400   404   400   400",
    "POST /queue/tasks/<int:task_id>/retry":                 "login login 400   404   400   400",
    "POST /queue/tasks/<int:task_id>/done":                  "login login 302   404   302   302",
    # -- Everyone's own profile; user management (admins)
    "GET /profile":                                          "login login 200   200   200   200",
    "POST /profile":                                         "login login 400   400   400   400",
    "POST /profile/password":                                "login login 400   400   400   400",
    "POST /profile/digest":                                  "login login 400   400   400   400",
    "GET /admin/users":                                      "login login 403   403   403   200",
    "GET /admin/users/new":                                  "login login 403   403   403   200",
    "POST /admin/users/new":                                 "login login 403   403   403   400",
    "POST /admin/users/<int:user_id>/activate":              "login login 403   403   403   302",
    "POST /admin/users/<int:user_id>/deactivate":            "login login 403   403   403   302",
    "POST /admin/users/<int:user_id>/role":                  "login login 403   403   403   400",
    "POST /queue/replies/<int:task_id>/answer":              "login login 400   404   400   400",
    "GET /queue/decisions/<int:task_id>":                    "login login 200   404   200   200",
    "POST /queue/decisions/<int:task_id>/confirm":           "login login 302   404   302   302",
    # -- Clients (shared by all staff)
    "GET /clients":                                          "login login 200   200   200   200",
    "GET /clients/<int:client_id>":                          "login login 200   200   200   200",
    "GET /clients/<int:client_id>/edit":                     "login login 200   200   200   200",
    "POST /clients/<int:client_id>/edit":                    "login login 302   302   302   302",
    "GET /clients/new":                                      "login login 200   200   200   200",
    "POST /clients/new":                                     "login login 200   200   200   200",
    # -- Positions, bulk actions, lifecycle
    "GET /positions":                                        "login login 200   200   200   200",
    "GET /positions/<int:position_id>":                      "login login 200   404   200   200",
    "GET /positions/<int:position_id>/bulk":                 "login login 200   404   200   200",
    "GET /positions/<int:position_id>/cards":                "login login 200   404   200   200",
    "POST /positions/<int:position_id>/bulk":                "login login 200   404   200   200",
    "GET /positions/<int:position_id>/bulk/result":          "login login 200   404   200   200",
    "POST /positions/<int:position_id>/bulk/undo":           "login login 302   404   302   302",
    "GET /positions/<int:position_id>/edit":                 "login login 200   404   200   200",
    "POST /positions/<int:position_id>/edit":                "login login 302   404   302   302",
    "GET /positions/<int:position_id>/fanout.json":          "login login 200   404   200   200",
    "GET /positions/<int:position_id>/lifecycle/<action>":   "login login 200   404   200   200",
    "POST /positions/<int:position_id>/lifecycle/<action>":
        "login login 200   404   200   200",
    "GET /positions/<int:position_id>/progress":             "login login 302   404   302   302",
    "GET /positions/<int:position_id>/reopen":               "login login 302   404   302   302",
    "POST /positions/<int:position_id>/reopen":              "login login 302   404   302   302",
    "GET /positions/new":                                    "login login 200   200   200   200",
    "POST /positions/new":                                   "login login 200   200   200   200",
    # -- Stage moves, undo and interviews (the position's owner, managers)
    "GET /applications/<int:application_id>/interview":      "login login 200   404   200   200",
    "POST /applications/<int:application_id>/interview":     "login login 200   404   200   200",
    "GET /applications/<int:application_id>/move":           "login login 200   404   200   200",
    "POST /applications/<int:application_id>/move":          "login login 200   404   200   200",
    "POST /applications/<int:application_id>/undo":          "login login 302   404   302   302",
    # -- CSV import (the uploader and managers)
    "GET /imports/<int:import_id>":                          "login login 200   404   200   200",
    "POST /imports/<int:import_id>/confirm":                 "login login 302   404   302   302",
    "GET /imports/<int:import_id>/progress.json":            "login login 200   404   200   200",
    "GET /imports/new":                                      "login login 200   200   200   200",
    "POST /imports/new":                                     "login login 400   400   400   400",
    "GET /imports/sample.csv":                               "login login 200   200   200   200",
    # -- Message templates (all staff read and preview, managers edit)
    "GET /templates":                                        "login login 200   200   200   200",
    "GET /templates/<kind>":                                 "login login 200   200   200   200",
    "POST /templates/<kind>":                                "login login 403   403   400   400",
    "POST /templates/<kind>/preview":                        "login login 200   200   200   200",
    "POST /templates/<kind>/reset":                          "login login 403   403   302   302",
    # -- Reports (managers; an application page also for its position's owner; digest: all staff)
    "GET /reports/":                                         "login login 403   403   302   302",
    "GET /reports/applications/<int:application_id>":        "login login 200   404   200   200",
    "POST /reports/applications/<int:application_id>/contact":
        "login login 400   404   400   400",
    "POST /reports/applications/<int:application_id>/exempt":
        "login login 403   403   400   400",
    "GET /reports/clients":                                  "login login 403   403   200   200",
    "GET /reports/delivery":                                 "login login 403   403   200   200",
    "GET /reports/digest":                                   "login login 200   200   200   200",
    "POST /reports/digest":                                  "login login 400   400   400   400",
    "GET /reports/engine":                                   "login login 403   403   200   200",
    "GET /reports/overdue":                                  "login login 403   403   200   200",
    "GET /reports/overdue.csv":                              "login login 403   403   200   200",
    "GET /reports/overdue/counts.csv":                       "login login 403   403   200   200",
    "POST /reports/overdue/refresh":                         "login login 403   403   302   302",
    "GET /reports/sla":                                      "login login 403   403   200   200",
    # -- Data protection (admins)
    "GET /admin/privacy/":                                   "login login 403   403   403   200",
    "GET /admin/privacy/candidates/<int:candidate_id>":      "login login 403   403   403   200",
    "POST /admin/privacy/candidates/<int:candidate_id>/erase":
        "login login 403   403   403   302",
    "POST /admin/privacy/candidates/<int:candidate_id>/export":
        "login login 403   403   403   200",
    "POST /admin/privacy/candidates/<int:candidate_id>/revoke":
        "login login 403   403   403   302",
    # -- rq-dashboard (admins; URLs equal to its defaults redirect to the shorter one)
    "GET /admin/rq/":                                        "login login 403   403   403   200",
    "GET /admin/rq/<int:instance_number>/":                  "308   308   308   308   308   308",
    "GET /admin/rq/<int:instance_number>/data/job/<job_id>.json":
        "login login 403   403   403   200",
    "GET /admin/rq/<int:instance_number>/data/jobs/<queue_name>/<registry_name>/<per_page>/<order>/<page>.json":  # noqa: E501
        "login login 403   403   403   200",
    "GET /admin/rq/<int:instance_number>/data/queues.json":
        "login login 403   403   403   200",
    "GET /admin/rq/<int:instance_number>/data/workers.json":
        "login login 403   403   403   200",
    "GET /admin/rq/<int:instance_number>/view":              "308   308   308   308   308   308",
    "GET /admin/rq/<int:instance_number>/view/job/<job_id>":
        "login login 403   403   403   200",
    "GET /admin/rq/<int:instance_number>/view/jobs":         "login login 403   403   403   200",
    "GET /admin/rq/<int:instance_number>/view/jobs/<queue_name>/<registry_name>/<int:per_page>/<order>/<int:page>":  # noqa: E501
        "login login 403   403   403   200",
    "GET /admin/rq/<int:instance_number>/view/queues":       "308   308   308   308   308   308",
    "GET /admin/rq/<int:instance_number>/view/workers":      "login login 403   403   403   200",
    "GET /admin/rq/favicon.ico":                             "login login 403   403   403   200",
    "POST /admin/rq/job/<job_id>/delete":                    "login login 403   403   403   200",
    "POST /admin/rq/job/<job_id>/requeue":                   "login login 403   403   403   409",
    "POST /admin/rq/queue/<queue_name>/<registry_name>/empty":
        "login login 403   403   403   200",
    "POST /admin/rq/queue/<queue_name>/compact":             "login login 403   403   403   200",
    "GET /admin/rq/requeue/<queue_name>":                    "login login 403   403   403   405",
    "POST /admin/rq/requeue/<queue_name>":                   "login login 403   403   403   200",
    "GET /admin/rq/static/<path:filename>":                  "login login 403   403   403   200",
    # -- Dev mailbox (mounted only when DEV_MAILBOX_ENABLED; admins only)
    "GET /dev/mailbox/":                                     "login login 403   403   403   200",
    "GET /dev/mailbox/<int:message_id>":                     "login login 403   403   403   200",
    # -- Outbound webhooks (admins)
    "GET /admin/webhooks/":                                  "login login 403   403   403   200",
    "POST /admin/webhooks/":                                 "login login 403   403   403   400",
    "GET /admin/webhooks/<int:endpoint_id>":                 "login login 403   403   403   200",
    "POST /admin/webhooks/<int:endpoint_id>/disable":        "login login 403   403   403   302",
    "POST /admin/webhooks/<int:endpoint_id>/enable":         "login login 403   403   403   302",
    # -- Audit log (admins)
    "GET /admin/audit/":                                     "login login 403   403   403   200",
    # -- Metrics: a bearer token (METRICS_TOKEN), not a role, opens it; without one
    # configured it does not exist (tests/test_metrics.py covers the token)
    "GET /metrics":                                          "404   404   404   404   404   404",
    # -- Status pages (the link is the credential; staff hold none)
    "GET /status/<token>":                                   "403   200   403   403   403   403",
    "POST /status/<token>/applications/<int:application_id>/update":
        "403   302   403   403   403   403",
    "GET /status/<token>/applications/<int:application_id>/withdraw":
        "403   200   403   403   403   403",
    "POST /status/<token>/applications/<int:application_id>/withdraw":
        "403   200   403   403   403   403",
    "POST /status/<token>/preferences":                      "403   302   403   403   403   403",
    "POST /status/<token>/language":                         "403   302   403   403   403   403",
    "GET /status/link":                                      "200   200   200   200   200   200",
    "POST /status/link":                                     "200   200   200   200   200   200",
    "GET /status/unsubscribe/<token>":                       "403   200   403   403   403   403",
    "POST /status/unsubscribe/<token>":                      "403   200   403   403   403   403",
    # -- The client's decision page (its signed link is the credential; `link` holds it)
    "GET /decide/<token>":                                   "403   200   403   403   403   403",
    "POST /decide/<token>/applications/<int:application_id>":
        "403   400   403   403   403   403",
    # -- SendGrid webhook (a signature is the credential)
    "POST /webhooks/sendgrid":                               "403   403   403   403   403   403",
    # -- API tokens page (each person's own tokens; another's is 404)
    "GET /profile/tokens":                                   "login login 200   200   200   200",
    "POST /profile/tokens":                                  "login login 400   400   400   400",
    "POST /profile/tokens/<int:token_id>/revoke":            "login login 302   404   404   404",
    # -- REST API: a bearer token only (401 without); the pages' access rules (404)
    "GET /api/docs":                                         "200   200   200   200   200   200",
    "GET /api/openapi.json":                                 "200   200   200   200   200   200",
    "GET /api/v1/applications":                              "401   401   200   200   200   200",
    "POST /api/v1/applications":                             "401   401   409   404   409   409",
    "GET /api/v1/applications/<int:application_id>":         "401   401   200   404   200   200",
    "POST /api/v1/applications/<int:application_id>/interview":
        "401   401   200   404   200   200",
    "POST /api/v1/applications/<int:application_id>/move":   "401   401   200   404   200   200",
    "POST /api/v1/applications/<int:application_id>/undo":   "401   401   409   404   409   409",
    "GET /api/v1/candidates":                                "401   401   200   200   200   200",
    "POST /api/v1/candidates":                               "401   401   201   201   201   201",
    "GET /api/v1/candidates/<int:candidate_id>":             "401   401   200   404   200   200",
    "PATCH /api/v1/candidates/<int:candidate_id>":           "401   401   200   404   200   200",
    "GET /api/v1/clients":                                   "401   401   200   200   200   200",
    "POST /api/v1/clients":                                  "401   401   201   201   201   201",
    "GET /api/v1/clients/<int:client_id>":                   "401   401   200   200   200   200",
    "PATCH /api/v1/clients/<int:client_id>":                 "401   401   200   200   200   200",
    "GET /api/v1/contacts":                                  "401   401   200   200   200   200",
    "POST /api/v1/contacts":                                 "401   401   201   404   201   201",
    "GET /api/v1/notifications":                             "401   401   200   200   200   200",
    "GET /api/v1/notifications/<int:notification_id>":       "401   401   200   404   200   200",
    "GET /api/v1/positions":                                 "401   401   200   200   200   200",
    "POST /api/v1/positions":                                "401   401   201   201   201   201",
    "GET /api/v1/positions/<int:position_id>":               "401   401   200   404   200   200",
    "PATCH /api/v1/positions/<int:position_id>":             "401   401   200   404   200   200",
    "POST /api/v1/positions/<int:position_id>/lifecycle":    "401   401   200   404   200   200",
    "POST /api/v1/positions/<int:position_id>/reopen":       "401   401   409   404   409   409",
    "GET /api/v1/reports/overdue":                           "401   401   403   403   200   200",
    "GET /api/v1/tasks":                                     "401   401   200   200   200   200",
    "POST /api/v1/tasks/<int:task_id>/reply":                "401   401   200   404   200   200",
    "POST /api/v1/tasks/<int:task_id>/retry":                "401   401   200   404   200   200",
    # -- Inbound Parse (the secret in the URL is the credential: `link` holds it, the
    # others send a wrong one; an empty form is not a post from SendGrid)
    "POST /webhooks/sendgrid/inbound/<secret>":              "403   400   403   403   403   403",
    # -- Assets
    "GET /static/<path:filename>":                           "200   200   200   200   200   200",
    "GET /bootstrap/static/<path:filename>":                 "200   200   200   200   200   200",
}
# fmt: on


def answer(response) -> str:
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "login"
    return str(response.status_code)


def ask(clients, key: str, rule, rec: world.Records, role: str) -> str:
    method = key.split(" ", 1)[0]
    extra = EXTRA[key](rec) if key in EXTRA else {}
    url = url_for_rule(rule, path_values(rule, rec, role))
    response = clients[role].open(
        url,
        method=method,
        query_string=extra.get("query"),
        data=extra.get("data"),
        json=extra.get("json"),
    )
    response.close()
    return answer(response)


def test_every_rule_has_exactly_one_row(make_app):
    app = make_app(**world.ALL_ROUTES)
    found = rows(app)
    missing = sorted(set(found) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(found))
    assert not missing, (
        "These rules have no row in MATRIX (tests/test_access_matrix.py): "
        + "; ".join(f"{key} (endpoint {found[key].endpoint})" for key in missing)
        + ". Add one row each: who may do what."
    )
    assert not stale, "MATRIX has rows for rules that no longer exist: " + "; ".join(stale)


def _logout_last(key: str) -> tuple[bool, str]:
    # Signing out ends the session the other rows of its slice use.
    return (key == "POST /logout", key)


# The rows in slices, each a test of its own with its own staff, sign-ins and records, so that
# pytest-xdist spreads them over its workers (test_every_rule_has_exactly_one_row checks the
# rows are exactly the app's rules).
KEYS = sorted(MATRIX, key=_logout_last)
SLICE = 20
SLICES = [KEYS[i : i + SLICE] for i in range(0, len(KEYS), SLICE)]


@pytest.mark.parametrize("keys", SLICES, ids=[f"{k[0]}..." for k in SLICES])
def test_matrix(make_app, db, keys):
    team = world.staff()
    clients = world.clients(make_app, team, **world.ALL_ROUTES, **world.NO_PING)
    shared = world.records(team.owner)
    routes = rows(clients["anon"].client.application)
    got: dict[str, str] = {}
    for key in keys:
        if key not in routes:
            got[key] = "(no such rule: see test_every_rule_has_exactly_one_row)"
            continue
        rule = routes[key]
        answers = []
        expected = dict(zip(world.ROLES, MATRIX[key].split(), strict=False))
        for role in world.ROLES:
            # A POST that may act gets records of its own: what it changes stays with it.
            refused = expected.get(role) in ("login", "401", "403", "404", "405")
            fresh = key.startswith("POST") and not refused
            rec = world.records(team.owner) if fresh else shared
            answers.append(ask(clients, key, rule, rec, role))
        got[key] = " ".join(answers)
    wrong = {k: v for k, v in got.items() if MATRIX[k].split() != v.split()}
    size = len(got) * len(world.ROLES)
    print(f"authorization matrix: {len(got)} method-rules x {len(world.ROLES)} roles = {size}")
    assert not wrong, "Answers that differ from MATRIX (expected | got), as rows:\n" + "\n".join(
        f'    "{k}": "{v}",  # expected {MATRIX[k]}' for k, v in wrong.items()
    )


def test_another_recruiters_record_answers_like_a_missing_one(make_app, db):
    """For every rule with a record id in its path, a record the recruiter may not see and
    one that does not exist get the same answer: ids cannot be probed."""
    team = world.staff()
    clients = world.clients(make_app, team, **world.ALL_ROUTES, **world.NO_PING)
    for key, rule in sorted(rows(clients["other"].client.application).items()):
        ids = [a for a in rule.arguments if a.endswith("_id") and a != "job_id"]
        expected = MATRIX.get(key, "").split()
        if not ids or "<token>" in rule.rule or len(expected) != len(world.ROLES):
            continue
        if expected[2] == expected[3]:
            continue  # shared with every recruiter (clients), or theirs to nobody
        method = key.split(" ", 1)[0]
        values = path_values(rule, world.records(team.owner), "other")
        missing = {**values, **{a: 2_000_000_000 for a in ids}}
        seen = clients["other"].open(url_for_rule(rule, values), method=method)
        absent = clients["other"].open(url_for_rule(rule, missing), method=method)
        assert (key, answer(seen)) == (key, answer(absent))
