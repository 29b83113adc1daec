"""Candidates' replies by email (SendGrid Inbound Parse): read the post (parsing.py), store
it and owe the candidate an answer (services.py). The webhook is app/webhooks/inbound.py;
the recruiter answers from My queue (app/candidates/replies_routes.py)."""
