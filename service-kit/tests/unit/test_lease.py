"""The relay's gate: a round runs only while the lease is held; SQLite always grants."""

from service_kit import metrics
from service_kit.lease import AlwaysGranted, gated, lease_key
from service_kit.outbox import OutboxRelay


class FakeLease:
    def __init__(self, held: bool) -> None:
        self.held = held
        self.asked = 0
        self.released = False

    async def hold(self) -> bool:
        self.asked += 1
        return self.held

    async def release(self) -> None:
        self.released = True

    def worked(self, count: int) -> None:
        self.did = count


class Work:
    def __init__(self) -> None:
        self.rounds = 0

    async def __call__(self) -> int:
        self.rounds += 1
        return 3


async def test_a_round_runs_only_while_the_lease_is_held():
    lease, work = FakeLease(held=False), Work()
    round_ = gated(lease, work)
    assert await round_() == 0
    assert work.rounds == 0
    lease.held = True
    assert await round_() == 3
    assert (lease.asked, work.rounds, lease.did) == (2, 1, 3)


async def test_sqlite_always_grants_and_says_so_in_the_metric():
    lease = AlwaysGranted()
    assert await lease.hold()
    assert metrics.RELAY_LEASE_HELD._value.get() == 1
    await lease.release()
    assert metrics.RELAY_LEASE_HELD._value.get() == 0


def test_the_key_is_stable_per_service_and_differs_between_services():
    assert lease_key("order-service") == lease_key("order-service")
    assert lease_key("order-service") != lease_key("store-service")
    assert -(2**63) <= lease_key("mypage-service") < 2**63


async def test_the_relay_lets_go_of_its_lease_when_it_stops():
    lease = FakeLease(held=False)
    relay = OutboxRelay(None, lambda: None, lease=lease)  # type: ignore[arg-type]
    relay.stop()
    await relay.run()  # stopped before its first round: nothing is read
    assert lease.released
