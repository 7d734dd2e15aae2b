import pytest

from accelsim.errors import ConfigError
from accelsim.units import format_bytes, parse_size, parse_size_list


def test_sizes():
    assert parse_size("64KiB") == 65536
    assert parse_size("512KB") == 512 * 1024
    assert parse_size("1.5MiB") == 1572864
    assert parse_size("4096") == 4096
    assert parse_size(0) == 0


def test_lists_and_ranges():
    assert parse_size_list("64KiB,1MiB") == [65536, 1048576]
    assert parse_size_list("64KiB..1MiB x2") == [65536 * 2 ** i for i in range(5)]
    assert parse_size_list("1KiB..10KiB x4") == [1024, 4096]


@pytest.mark.parametrize("bad", ["12 parsecs", "-4KiB", "KiB", "1.3B"])
def test_bad_sizes_name_the_value(bad):
    with pytest.raises(ConfigError, match="size"):
        parse_size(bad)


@pytest.mark.parametrize("bad", ["1MiB..64KiB x2", "64KiB..1MiB", "64KiB..1MiB x1", ""])
def test_bad_ranges(bad):
    with pytest.raises(ConfigError):
        parse_size_list(bad)


def test_format_bytes():
    assert format_bytes(65536) == "64 KiB" and format_bytes(100) == "100 B"


def test_energy_units_follow_the_largest_value():
    from accelsim.units import energy_scale, format_energy

    assert format_energy(1.5e9) == "1.5 mJ"
    assert format_energy(999.0) == "999 pJ"
    assert format_energy(-2e3) == "-2 nJ"
    assert energy_scale([1.0, 3e6, float("nan")]) == (1e6, "µJ")
    assert energy_scale([]) == (1.0, "pJ")
