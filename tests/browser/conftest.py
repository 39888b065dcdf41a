"""Browser tests drive Playwright's sync API, which keeps an asyncio loop
running in the test thread; Django's async-safety check would then refuse
the database setup. The Django calls still run synchronously in this thread,
so the check's concern (ORM calls from a coroutine) does not apply here."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
