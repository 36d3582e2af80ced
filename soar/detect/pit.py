"""Point in time + ``search_after`` paging on Elasticsearch and OpenSearch (their APIs differ, DESIGN trap 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from elasticsearch import ApiError

from soar.engines.search import SearchClient, search_error

KEEP_ALIVE = "2m"
_JSON = {"accept": "application/json", "content-type": "application/json"}


class PointInTime:
    """A point in time on an index pattern, opened on entry and closed on exit."""

    def __init__(self, client: SearchClient, index: str) -> None:
        self.client = client
        self.index = index
        self.pit_id: str | None = None

    async def __aenter__(self) -> PointInTime:
        try:
            if self.client.is_opensearch:
                path = f"/{self.index}/_search/point_in_time?keep_alive={KEEP_ALIVE}"
                response = await self.client.es.perform_request(
                    "POST", path, headers={"accept": "application/json"}
                )
                self.pit_id = str(response.body["pit_id"])
            else:
                opened = await self.client.es.open_point_in_time(index=self.index, keep_alive=KEEP_ALIVE)
                self.pit_id = str(opened["id"])
        except ApiError as exc:
            raise search_error(exc, f"opening a point in time on {self.index}") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pit_id is None:
            return
        try:
            if self.client.is_opensearch:
                body = {"pit_id": [self.pit_id]}
                await self.client.es.perform_request(
                    "DELETE", "/_search/point_in_time", body=body, headers=_JSON
                )
            else:
                await self.client.es.close_point_in_time(id=self.pit_id)
        except ApiError:
            pass  # it expires after KEEP_ALIVE anyway; closing early only frees memory sooner

    async def pages(
        self, query: dict[str, Any], sort: list[dict[str, Any]], size: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every hit of the query in sort order, a page at a time (``_shard_doc`` breaks ties)."""
        after: list[Any] | None = None
        while True:
            try:
                response = await self.client.es.search(
                    pit={"id": self.pit_id, "keep_alive": KEEP_ALIVE},
                    query=query,
                    sort=[*sort, {"_shard_doc": "asc"}],
                    size=size,
                    track_total_hits=False,
                    search_after=after,
                )
            except ApiError as exc:
                raise search_error(exc, f"paging through {self.index}") from None
            self.pit_id = str(response.get("pit_id", self.pit_id))  # Elasticsearch may hand back a new id
            hits = response["hits"]["hits"]
            if hits:
                yield hits
            if len(hits) < size:
                return
            after = hits[-1]["sort"]
