"""A Django database's settings written back as the DATABASE_URL settings.py reads, for child processes."""

from urllib.parse import quote


def database_url(database: dict) -> str:
    """The URL of `database` (an entry of DATABASES). A unix-socket folder goes after `@/` as it is, the form
    django-environ reads back: it would keep a percent-encoded folder (`%2Fvar%2F…`) encoded, as a host name."""
    credentials = quote(database["USER"], safe="")
    if database.get("PASSWORD"):
        credentials += f":{quote(database['PASSWORD'], safe='')}"
    host = database["HOST"]
    if host.startswith("/"):
        return f"postgres://{credentials}@/{host}/{database['NAME']}"
    port = f":{database['PORT']}" if database["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{database['NAME']}"
