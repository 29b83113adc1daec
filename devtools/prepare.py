"""`make run`'s first step: `flask db upgrade`, then `flask seed --deliver-history`, in one
process. Each `flask` command builds the whole app first (~1.7 CPU-s here); two commands
built it twice at every start. The migration is the same Alembic run and the seed the same
command, so a failure of either stops the step with its own message and a non-zero exit."""

from __future__ import annotations

import sys


def main() -> int:
    from flask_migrate import upgrade

    from app import create_app
    from app.cli import seed

    app = create_app()
    with app.app_context():
        upgrade()
        # The seeded history is the past: delivered to the mailbox, not pending.
        return seed.main(["--deliver-history"], prog_name="flask seed", standalone_mode=False)


if __name__ == "__main__":
    sys.exit(main())
