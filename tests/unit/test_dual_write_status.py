"""`canary status` reads the edge's dual-write counters; none exposed is 'unmeasured', never 'complete'."""
from cato_migrate.adapters.gateway_metrics import dual_write_from_text
from cato_migrate.edge.dual_write import DualWriter


def test_the_edge_exposition_round_trips_into_served_and_stored():
    dw = DualWriter(lambda: None)
    dw.served, dw.counts["stored"], dw.counts["dropped"] = 7, 5, 1
    got = dual_write_from_text(dw.exposition())
    assert got == {"served": 7, "stored": 5, "failed": 0, "refused": 0, "dropped": 1, "skipped": 0,
                   "queued": 0, "active": False}


def test_an_edge_without_dual_write_series_is_not_read_as_zero():
    assert dual_write_from_text('cato_gateway_in_flight{stack="new"} 0\n') is None
