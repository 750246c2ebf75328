"""`database_url` writes a database's settings as a DATABASE_URL that settings.py reads back to the same server."""

import environ
import pytest

from hypervisual.database_url import database_url


@pytest.mark.parametrize(
    "database",
    [
        {"USER": "postgres", "PASSWORD": "", "HOST": "/work/main/var/pgdata", "PORT": "", "NAME": "test_hypervisual"},
        {"USER": "hub", "PASSWORD": "p@ss:w/rd", "HOST": "127.0.0.1", "PORT": 5432, "NAME": "hypervisual"},
    ],
    ids=["unix socket", "tcp with a password"],
)
def test_the_url_reads_back_as_the_same_database(database):
    read_back = environ.Env.db_url_config(database_url(database))

    assert {key: read_back[key] for key in database} == {**database, "PORT": database["PORT"] or ""}
