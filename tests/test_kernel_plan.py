"""rnnseq.kernels.plan: defaults per device and thread count, and a thread-local override."""

import threading

import pytest
import torch

from rnnseq.kernels import KernelPlan, current_plan, default_plan, use_linear_head, use_plan
from rnnseq.kernels.linear_cross_entropy import rows_per_chunk


def test_cpu_chunks_grow_with_the_threads_and_cover_padding_from_two_threads():
    one, two, four, eight = (default_plan("cpu", threads) for threads in (1, 2, 4, 8))
    assert one.chunk_elements == 1 << 19 and two.chunk_elements == 1 << 20
    assert four.chunk_elements == 1 << 21 and eight.chunk_elements == 1 << 22
    assert not one.dense_chunks and all(p.dense_chunks for p in (two, four, eight))
    assert one.read_runs_in_place and one.cached_gradient_bytes == 1 << 22
    assert one.path == "auto" and one.linear_head_min_classes == 2048
    assert one.lean_max_elements == 1 << 18  # tagging batches (32·50·17 logits) take it


def test_default_plan_follows_the_thread_count_when_none_is_given():
    assert default_plan("cpu") == default_plan("cpu", torch.get_num_threads())
    assert current_plan() == default_plan("cpu")


def test_cuda_plan_gathers_into_at_most_eight_large_chunks_and_caches_nothing():
    plan = default_plan("cuda")
    assert plan.chunk_elements == 1 << 22 and plan.max_chunks == 8
    assert not plan.read_runs_in_place and plan.cached_gradient_bytes is None
    assert plan.rows_per_chunk(3000, rows=800) == (1 << 22) // 3000  # the element budget
    assert plan.rows_per_chunk(3000, rows=80_000) == 10_000  # an eighth of the rows
    assert default_plan("cpu", 1).rows_per_chunk(3000, rows=80_000) == (1 << 19) // 3000


def test_overrides_nest_and_each_block_restores_the_plan_before_it():
    before = current_plan()
    with use_plan(path="plain"):
        with use_plan({"chunk_elements": 64}, dense_slices=2):
            plan = current_plan()
            assert (plan.path, plan.chunk_elements, plan.dense_slices) == ("plain", 64, 2)
        assert current_plan() == KernelPlan(**{**vars(before), "path": "plain"})
    assert current_plan() == before


def test_overrides_keep_the_other_fields_of_each_device():
    with use_plan(path="fused"):
        assert current_plan("cuda") == KernelPlan(**{**vars(default_plan("cuda")), "path": "fused"})
        assert current_plan("cpu", 1).chunk_elements == 1 << 19


def test_a_whole_plan_applies_to_every_device_with_overrides_on_top():
    whole = KernelPlan(path="fused", chunk_elements=7)
    with use_plan(whole) as given:
        assert given is whole
        assert current_plan("cuda") == whole and current_plan("cpu") == whole
        with use_plan(chunk_elements=9):
            assert current_plan("cuda") == KernelPlan(path="fused", chunk_elements=9)
    assert current_plan() == default_plan("cpu")


def test_an_override_is_seen_only_by_the_thread_that_made_it():
    seen = {}

    def other_thread():
        seen["path"] = current_plan().path

    with use_plan(path="plain"):
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert current_plan().path == "plain"
    assert seen["path"] == "auto"


@pytest.mark.parametrize(
    ("fields", "error", "name"),
    [
        ({"path": "fast"}, ValueError, "path"),
        ({"chunk_elements": 0}, ValueError, "chunk_elements"),
        ({"dense_slices": 1.5}, ValueError, "dense_slices"),
        ({"max_chunks": 0}, ValueError, "max_chunks"),
        ({"chunk_size": 4}, TypeError, "chunk_size"),
    ],
)
def test_bad_plans_are_refused_when_the_block_opens_naming_the_field(fields, error, name):
    with pytest.raises(error, match=name):
        with use_plan(**fields):
            pass
    assert current_plan() == default_plan("cpu")


def test_a_plan_is_immutable():
    with pytest.raises(AttributeError):
        default_plan("cpu").path = "plain"


def test_language_models_use_the_linear_head_from_the_plans_class_count():
    assert not use_linear_head(2047, "cpu")
    assert use_linear_head(2048, "cpu") and use_linear_head(50_257, torch.device("cuda"))
    with use_plan(linear_head_min_classes=10):
        assert use_linear_head(10) and not use_linear_head(9)


def test_head_chunks_hold_a_share_of_the_unfused_logits_but_a_minimum_of_rows():
    plan = default_plan("cpu", 1)
    # (32·70 steps) · 10,000 classes / 32 = 700,000 logits: 70 steps of 10,000
    assert rows_per_chunk(10_000, None, plan, steps=32 * 70) == 70
    # a 1/32 share of 2048 steps is 64 steps; of 1024 steps 32, below the minimum of 48
    assert rows_per_chunk(50_257, None, plan, steps=2048) == 64
    assert rows_per_chunk(50_257, None, plan, steps=1024) == 48
    # without the step count only the element budget applies: 2^23 logits
    assert rows_per_chunk(10_000, None, plan) == (1 << 23) // 10_000
    assert rows_per_chunk(10_000, 5, plan, steps=10**6) == 5  # a given chunk size wins
