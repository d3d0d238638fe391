"""Browsing lists keep their page numbers and their `count`, without counting on every page.

DRF's page-number pagination asks the database for `COUNT(*)` of the whole filtered list on
every page: for the sessions of a large hospital that is tens of thousands of rows counted to
show 100, page after page, and more as the institution grows. So a list is first counted up
to EXACT_UP_TO rows (`COUNT(*)` over a `LIMIT`: a bounded cost); a list that small — most
filtered lists — gets its exact count on every page. A longer one is counted once and its
count kept for COUNT_SECONDS in the cache (Redis in production: shared by every web process)
under the list's own query — its SQL and parameters, which hold the user's institutions as
literal ids and every filter, so one list's count is never another's. The price, for long
lists only: for up to COUNT_SECONDS after a row is added or removed, `count` (and the last
page's number) may be off by that row; the rows and `next` links never are, since they come
from the page's own query.
"""

import hashlib

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import DEFAULT_DB_ALIAS
from django.utils.functional import cached_property

from .pagination import PageNumberPagination

EXACT_UP_TO = 1000
COUNT_SECONDS = 60


def count_key(queryset) -> str | None:
    """The cache key of a queryset's count, or None for something that is not a queryset."""
    query = getattr(queryset, "query", None)
    if query is None:
        return None
    try:
        sql, params = query.get_compiler(DEFAULT_DB_ALIAS).as_sql()
    except EmptyResultSet:
        return None  # nothing can match (no institutions): counted without a query anyway
    digest = hashlib.sha256(repr((sql, params)).encode()).hexdigest()
    return f"krag:list-count:{digest}"


class CountOncePaginator(Paginator):
    @cached_property
    def count(self):
        key = count_key(self.object_list)
        if key is None:
            return super().count
        counted = cache.get(key)
        if counted is not None:
            return counted
        counted = self.object_list[: EXACT_UP_TO + 1].count()
        if counted > EXACT_UP_TO:
            counted = super().count
            cache.set(key, counted, COUNT_SECONDS)
        return counted


class BrowsingPagination(PageNumberPagination):
    """Page numbers with a `next` link; a long list's count is kept for a minute."""

    django_paginator_class = CountOncePaginator
