"""SendGrid Inbound Parse: candidates' replies, posted as multipart forms to
/webhooks/sendgrid/inbound/<secret>.

Inbound Parse signs nothing; the agency puts a secret in the URL it configures, compared
here in constant time. SendGrid retries any answer but 2xx for three days, so our own
misconfiguration answers 503 (mail waits for the fix), a wrong secret 403, a post too large
413 and a post that is not Inbound Parse's 400. Everything else, stored or not, answers 200:
an auto-reply or a forged token is recorded, and must not come back.
"""

from __future__ import annotations

import hmac

from flask import current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.extensions import csrf
from app.input_guard import raw_body
from app.replies import parsing
from app.replies import services as replies
from app.webhooks import bp


@bp.post("/sendgrid/inbound/<secret>")
@csrf.exempt
@raw_body  # the size limit must be raised before the form is read; NULs are removed below
def sendgrid_inbound(secret: str):
    expected = current_app.config.get("INBOUND_PARSE_SECRET") or ""
    if not expected:
        return jsonify(error="Inbound Parse is not configured: set INBOUND_PARSE_SECRET"), 503
    if not hmac.compare_digest(secret.encode("utf-8", "replace"), expected.encode("utf-8")):
        return jsonify(error="forbidden"), 403
    limit = current_app.config["INBOUND_MAX_BYTES"]
    request.max_content_length = limit
    request.max_form_memory_size = limit
    try:
        post = parsing.read_post(request.form, request.files)
    except RequestEntityTooLarge:
        return jsonify(error=f"the post is larger than {limit} bytes"), 413
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    reply, new = replies.receive(post)
    return jsonify(status=reply.status, stored=new), 200
