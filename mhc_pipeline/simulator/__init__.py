"""Local fake of the source APIs: Affiliate, CBHours, the owner's Events API; more later.

    from mhc_pipeline.simulator import Simulator, World

    with Simulator(rooms=50, seed=1) as sim:          # 127.0.0.1, a free port
        sim.set_time(datetime(2025, 6, 1, 12, tzinfo=timezone.utc))
        sim.inject("/api/public/affiliates/onlinerooms/", "status", status=429, retry_after=2)
        requests.get(sim.url + "/api/public/affiliates/onlinerooms/", params={...})
        truth = sim.world.online_rooms(sim.now())
        requests.get(sim.url + "/api.php", params={"action": "get_live", "usernames": "a,b"})   # CBHours
        requests.get(f"{sim.url}/events/{sim.world.owner}/{sim.events_token}/?timeout=0")     # Events API
        sim.emit_event("someNewMethod", {"broadcaster": sim.world.owner})
        truth_events = sim.events_until(sim.now())

``serve()`` runs one in the foreground (the ``mhc simulate`` command).
"""

from .people import LiveState, Model
from .server import RequestRecord, Simulator, serve
from .world import World

__all__ = ["World", "Simulator", "serve", "Model", "LiveState", "RequestRecord"]
