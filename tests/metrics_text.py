"""Reading Prometheus exposition text in tests, with prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "scrape-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Scrape:
    """One scrape: `value("closeloop_sends_total", outcome="accepted")`."""

    def __init__(self, text: str):
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in self.families.values()
            for s in family.samples
        }

    def value(self, name: str, default: float | None = None, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        if key not in self.samples:
            if default is not None:
                return default
            raise AssertionError(f"no sample {name}{labels} in the scrape:\n{self.text[:3000]}")
        return self.samples[key]

    def names(self) -> set[str]:
        """Every sample name (counters' _total, histograms' _bucket/_sum/_count...)."""
        return {name for name, _ in self.samples} | set(self.families)


def scrape(client, headers: dict | None = None) -> Scrape:
    response = client.get("/metrics", headers=AUTH if headers is None else headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return Scrape(response.get_data(as_text=True))
