import random

import pytest

from jobs.core.policies import Exponential, Fixed, InvalidPolicy, policy_from_dict


@pytest.mark.parametrize(
    "policy, delays",
    [
        (Exponential(retries=3, delay=2), [2, 4, 8]),  # whatsapp / notifications
        (Fixed(retries=2, delay=5), [5, 5]),  # order expiry -> payout_expiry
        (Exponential(retries=3, delay=3), [3, 6, 12]),  # vendor fallback -> provider_fallback
        (Fixed(retries=2, delay=10), [10, 10]),  # daily reports
        (Exponential(retries=3, delay=5), [5, 10, 20]),  # credit reconciliation
    ],
)
def test_seed_policies(policy, delays):
    assert [policy.delay_after(n) for n in range(1, policy.retries + 1)] == delays
    assert [policy.should_retry(n) for n in range(1, policy.max_attempts + 1)] == [True] * policy.retries + [False]
    assert policy.max_attempts == policy.retries + 1


def test_exponential_factor_and_cap():
    policy = Exponential(retries=10, delay=1, factor=3, max_delay=20)
    assert [policy.delay_after(n) for n in range(1, 6)] == [1, 3, 9, 20, 20]


def test_jitter_stays_within_its_band_and_varies():
    policy = Exponential(retries=5, delay=10, jitter=0.2)
    rng = random.Random(7)
    draws = [policy.delay_after(1, rng) for _ in range(200)]
    assert all(8 <= d <= 12 for d in draws)
    assert len(set(draws)) > 100


def test_zero_retries_means_one_attempt():
    policy = Fixed(retries=0, delay=0)
    assert policy.max_attempts == 1 and not policy.should_retry(1)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "linear", "retries": 1, "delay": 1}, "retry kind"),
        ({"kind": "fixed", "retries": -1, "delay": 1}, "retries"),
        ({"kind": "fixed", "retries": 1, "delay": -5}, "delay"),
        ({"kind": "exponential", "retries": 1, "delay": 1, "factor": 0.5}, "factor"),
        ({"kind": "exponential", "retries": 1, "delay": 1, "jitter": 2}, "jitter"),
        ({"kind": "fixed", "retries": 1, "delay": 1, "colour": "red"}, "fields"),
        ("fixed", "object"),
    ],
)
def test_invalid_policies_are_rejected_with_the_field_named(data, message):
    with pytest.raises(InvalidPolicy, match=message):
        policy_from_dict(data)


def test_round_trip_through_dict():
    policy = Exponential(retries=3, delay=2, jitter=0.1)
    assert policy_from_dict(policy.to_dict()) == policy
