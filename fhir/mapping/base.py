"""What a resource type of the facade is: where its rows come from (scoped), how each search
parameter filters them, how a page of rows becomes resources, and what a read leaves in the
audit log. The views and the CapabilityStatement read everything from these classes, so what
the statement lists is exactly what the views do."""

from dataclasses import dataclass

from clinics.roles import ALL_ROLES

from ..outcome import not_found
from ..permissions import READERS
from ..search import Query, Stream, filter_date, numeric_ids

FHIR_SEARCH_PARAMETER = "http://hl7.org/fhir/SearchParameter/"


@dataclass(frozen=True)
class SearchParameter:
    """A supported search parameter as the CapabilityStatement lists it."""

    name: str
    type: str  # FHIR SearchParamType: token, date, reference, …
    definition: str
    documentation: str


class ResourceType:
    """One FHIR resource type, for the user of one request."""

    name = ""
    documentation = ""
    # Search parameters beyond _id (and _lastUpdated where rows keep a change time).
    parameters: tuple[SearchParameter, ...] = ()
    has_last_updated = True
    # `_include` values served (CapabilityStatement searchInclude).
    includes: tuple[str, ...] = ()

    def __init__(self, request):
        self.request = request
        self.user = request.user
        roles = READERS[self.name]
        self.roles = None if set(roles) == set(ALL_ROLES) else roles

    # --- What the CapabilityStatement says --------------------------------------------------

    @classmethod
    def search_parameters(cls) -> tuple[SearchParameter, ...]:
        common = [
            SearchParameter(
                "_id", "token", FHIR_SEARCH_PARAMETER + "Resource-id", "The resource id."
            )
        ]
        if cls.has_last_updated:
            common.append(
                SearchParameter(
                    "_lastUpdated",
                    "date",
                    FHIR_SEARCH_PARAMETER + "Resource-lastUpdated",
                    "When the resource last changed, with the prefixes eq, gt, lt, ge, le.",
                )
            )
        return (*common, *cls.parameters)

    @classmethod
    def supported(cls) -> set[str]:
        return {parameter.name for parameter in cls.search_parameters()}

    # --- Rows -------------------------------------------------------------------------------

    def scoped(self, queryset):
        return queryset.for_user(self.user, roles=self.roles)

    def streams(self) -> list[Stream]:
        """The tables of this type, scoped to the user, in the order searches read them."""
        raise NotImplementedError

    def search(self, query: Query) -> list[Stream]:
        streams = self.streams()
        for name, values in query.parameters:
            for stream in streams:
                if stream.queryset is not None:
                    stream.queryset = self.filter(stream.key, stream.queryset, name, values)
        return streams

    def filter(self, key: str, queryset, name: str, values: list[str]):
        """`queryset` narrowed by one search parameter; None when no row of it can match."""
        if name == "_id":
            return queryset.filter(pk__in=numeric_ids(values))
        if name == "_lastUpdated":
            return filter_date(queryset, "updated_at", values)
        method = getattr(self, "filter_" + name.replace("-", "_"))
        return method(key, queryset, values)

    def get(self, resource_id: str):
        """(stream key, row) of one resource id, or the 404 of a missing one."""
        stream = self.streams()[0]
        ids = numeric_ids([resource_id])
        row = stream.queryset.filter(pk__in=ids).first() if ids else None
        if row is None:
            raise not_found(self.name, resource_id)
        return stream.key, row

    # --- Resources --------------------------------------------------------------------------

    def represent(self, rows: list[tuple[str, object]]) -> list[dict]:
        """The resources of a page of rows, with a constant number of queries."""
        raise NotImplementedError

    def included(self, query: Query, rows: list[tuple[str, object]]) -> list[dict]:
        """The resources `_include` adds to a page (search mode "include"), audited as reads
        of their own type."""
        return []

    def audit_read(self, key: str, row) -> None:
        """Leave the audit row of reading one resource (types holding participants' records)."""

    def audit_page(self, rows: list[tuple[str, object]]) -> None:
        """Leave the audit rows of one page of a search."""
