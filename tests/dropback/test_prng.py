"""The counter-based PRNG: the documented function, numpy == torch, distribution, streams."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from accelsim.dropback import prng

SEEDS = [0, 1, 2**40 + 7, 2**64 - 1]
LAYER_IDS = [0, 1, 7, 2**32 - 1]
MASK32 = 0xFFFFFFFF


# ------------------------------------------------------------------ the documented function
def _mix32(x):
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    return x ^ (x >> 16)


def _reference_bits(seed, layer_id, index):
    """The module docstring's function, line by line, on Python ints."""
    folded = _mix32(_mix32((seed & MASK32) ^ 0x243F6A88) ^ (seed >> 32))
    key_0 = _mix32(folded ^ _mix32((layer_id + 0x9E3779B9) & MASK32))
    key_1 = _mix32((key_0 + 0x85A308D3) & MASK32)
    x = index ^ key_0
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    x = (x + key_1) & MASK32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    return x ^ (x >> 16)


def test_matches_documented_function_and_known_values():
    index = np.array([0, 1, 2, 1000, 2**31, 2**32 - 1], dtype=np.int64)
    for seed in SEEDS:
        for layer_id in LAYER_IDS:
            expected = [_reference_bits(seed, layer_id, int(j)) for j in index]
            assert prng.bits_numpy(seed, layer_id, index).tolist() == expected
    # pinned values: changing the function must bump GENERATOR_VERSION
    assert prng.bits_numpy(0, 0, np.array([0, 1, 2])).tolist() == [4190662569, 1044803863,
                                                                    3847205727]
    assert prng.bits_numpy(12345, 7, np.array([1000])).tolist() == [3200609649]
    assert prng.GENERATOR_VERSION == 1 and isinstance(prng.GENERATOR_ID, str)
    assert prng.INT_OPS_PER_VALUE == 16 == sum(prng.INT_OPS_BREAKDOWN.values())


def test_numpy_and_torch_give_identical_bits_and_floats_on_a_million_indices():
    rng = np.random.default_rng(1)
    for seed, layer_id in [(0, 0), (1, 3), (2**40 + 7, 1), (2**64 - 1, 2**32 - 1)]:
        index = rng.integers(0, 2**32, size=1_000_000, dtype=np.int64)
        bits_np = prng.bits_numpy(seed, layer_id, index)
        bits_t = prng.bits_torch(seed, layer_id, torch.from_numpy(index))
        assert bits_np.dtype == np.uint32
        assert np.array_equal(bits_np.astype(np.int64), bits_t.numpy())
        bound = 1 / math.sqrt(1 + layer_id % 1000)
        values_np = prng.uniform_numpy(seed, layer_id, index, bound)
        values_t = prng.uniform_torch(seed, layer_id, torch.from_numpy(index), bound)
        assert values_np.dtype == np.float32 and values_t.dtype == torch.float32
        assert np.array_equal(values_np.view(np.int32), values_t.numpy().view(np.int32))


@pytest.mark.parametrize("bound", [1.0, 0.036, 1 / math.sqrt(784), 1e-30])
def test_uniform_range_is_half_open(bound):
    values = prng.uniform_numpy(5, 2, np.arange(200_000), bound)
    bound32 = np.float32(bound)
    assert values.dtype == np.float32
    assert (values >= -bound32).all() and (values < bound32).all()
    assert values.min() < -0.99 * bound32 and values.max() > 0.99 * bound32


def test_zero_bound_gives_zeros():
    assert not prng.uniform_numpy(5, 2, np.arange(1000), 0.0).any()


def test_uniform_extremes_are_exact():
    # m = 0 -> -bound exactly; m = 2**24 - 1 -> (1 - 2**-23) * bound, below bound
    scale = np.float32(prng.uniform_scale(0.3))
    lowest = np.float32(-(2**23)) * scale
    highest = np.float32(2**23 - 1) * scale
    assert lowest == -np.float32(0.3)
    assert highest < np.float32(0.3)


def test_torch_runs_on_tensor_device_and_accepts_int32():
    index = torch.arange(1000, dtype=torch.int32)
    bits = prng.bits_torch(3, 4, index)
    assert bits.dtype == torch.int64 and bits.device == index.device
    assert bits.min() >= 0 and bits.max() <= MASK32
    assert np.array_equal(bits.numpy(), prng.bits_numpy(3, 4, np.arange(1000)).astype(np.int64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_numpy():
    index = np.random.default_rng(2).integers(0, 2**32, 100_000, dtype=np.int64)
    values = prng.uniform_torch(9, 2, torch.from_numpy(index).cuda(), 0.05).cpu().numpy()
    assert np.array_equal(values.view(np.int32),
                          prng.uniform_numpy(9, 2, index, 0.05).view(np.int32))


def test_invalid_arguments_raise():
    with pytest.raises(ValueError):
        prng.bits_numpy(-1, 0, np.arange(3))
    with pytest.raises(ValueError):
        prng.bits_numpy(2**64, 0, np.arange(3))
    with pytest.raises(ValueError):
        prng.bits_numpy(0, -1, np.arange(3))
    with pytest.raises(ValueError):
        prng.bits_numpy(0, 0, np.array([-1]))
    with pytest.raises(ValueError):
        prng.bits_torch(0, 0, torch.tensor([2**32]))
    with pytest.raises(TypeError):
        prng.bits_numpy(0, 0, np.array([0.5]))
    with pytest.raises(TypeError):
        prng.bits_torch(0, 0, torch.tensor([0.5]))
    with pytest.raises(ValueError):
        prng.uniform_scale(-1.0)


def test_same_seed_same_bits_any_order():
    index = np.random.default_rng(3).permutation(50_000)
    forward = prng.bits_numpy(11, 2, np.arange(50_000))
    assert np.array_equal(prng.bits_numpy(11, 2, index), forward[index])


# ------------------------------------------------------------------ statistics
def _unit_floats(bits):
    return bits.astype(np.float64) / 2.0**32


def _ks_statistic_uniform(samples):
    """Kolmogorov-Smirnov distance between the samples' CDF and U[0, 1)."""
    ordered = np.sort(samples)
    count = ordered.size
    upper = np.arange(1, count + 1) / count - ordered
    lower = ordered - np.arange(count) / count
    return max(upper.max(), lower.max())


@pytest.mark.parametrize("seed,layer_id", [(0, 0), (7, 3), (2**63, 12)])
def test_distribution_is_uniform(seed, layer_id):
    count = 1_000_000
    bits = prng.bits_numpy(seed, layer_id, np.arange(count))  # consecutive indices: the hard case
    unit = _unit_floats(bits)
    # KS at the 0.1 % level: critical value ~ 1.95 / sqrt(n)
    assert _ks_statistic_uniform(unit) < 1.95 / math.sqrt(count)
    # chi-square on 1024 bins (df 1023, sd ~45): generous bound at mean + 6 sd
    observed = np.bincount(bits >> np.uint32(22), minlength=1024)
    expected = count / 1024
    chi_square = ((observed - expected) ** 2 / expected).sum()
    assert chi_square < 1023 + 6 * math.sqrt(2 * 1023)
    # every output bit is set half the time (5 sigma)
    for bit in range(32):
        ones = ((bits >> np.uint32(bit)) & np.uint32(1)).sum()
        assert abs(ones / count - 0.5) < 5 * 0.5 / math.sqrt(count)
    # mean and variance of the float32 values in [-b, b): 0 and b^2/3
    values = prng.uniform_numpy(seed, layer_id, np.arange(count), 0.5).astype(np.float64)
    assert abs(values.mean()) < 5 * math.sqrt(0.25 / 3 / count)
    assert abs(values.var() / (0.25 / 3) - 1) < 0.01
    # neighbouring indices are uncorrelated (lag 1 and lag 2)
    for lag in (1, 2):
        correlation = np.corrcoef(unit[:-lag], unit[lag:])[0, 1]
        assert abs(correlation) < 5 / math.sqrt(count)


def test_single_index_bit_flip_avalanches():
    index = np.random.default_rng(4).integers(0, 2**31, 20_000, dtype=np.int64)
    base = prng.bits_numpy(1, 1, index)
    for bit in range(0, 31, 3):
        flipped = prng.bits_numpy(1, 1, index ^ (1 << bit))
        changed = np.unpackbits((base ^ flipped).view(np.uint8)).reshape(-1, 32).sum(1)
        assert abs(changed.mean() - 16) < 0.3


def test_streams_of_layers_and_seeds_are_unrelated():
    count = 100_000
    index = np.arange(count)
    streams = {(seed, layer): prng.bits_numpy(seed, layer, index)
               for seed in (0, 1, 2) for layer in (0, 1, 2, 3)}
    distinct = {key: np.unique(bits) for key, bits in streams.items()}
    centered = {key: _unit_floats(bits) - 0.5 for key, bits in streams.items()}
    keys = list(streams)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            correlation = (centered[a] * centered[b]).mean() * 12  # var of U[0,1) = 1/12
            assert abs(correlation) < 5 / math.sqrt(count)
            # not a shifted copy: shared values only at the random-collision rate
            # (expected count^2 / 2^32 ~ 2.3)
            shared = np.intersect1d(distinct[a], distinct[b], assume_unique=True).size
            assert shared < 20, (a, b, shared)
            assert (streams[a] == streams[b]).sum() < 5


def test_prng_and_numpy_init_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from accelsim.dropback import prng, init\n"
            "import numpy as np\n"
            "v = init.initial_values_numpy(0, 1, 6, 2, 3)\n"
            "assert v.dtype == np.float32 and v.shape == (8,) and (v[6:] == 0).all()\n"
            "print(prng.bits_numpy(0, 0, np.arange(2)).tolist())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[4190662569, 1044803863]"
