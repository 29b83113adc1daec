"""Outbound webhooks: admins register endpoints; events (messages sent, delivered, bounced,
failed; stage changes; tasks opened) are owed to them from the database and delivered by RQ
jobs, signed per Standard Webhooks. Importing this package loads nothing; the admin pages'
blueprint is app/outbound/routes.py."""
