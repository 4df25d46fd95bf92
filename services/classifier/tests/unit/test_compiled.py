"""The compiled kernels' disk cache: a read-only install still gets one."""

import numba
import numba.core.caching as caching

from switchboard_classifier import compiled


def test_without_a_writable_cache_beside_the_module_the_temporary_directory_is_used(
    monkeypatch,
):
    # Only the locator of NUMBA_CACHE_DIR: as when the package directory and the home
    # are not writable, the first attempt finds no locator at all.
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [caching.UserProvidedCacheLocator])
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")

    def add_one(x):
        return x + 1

    kernel = compiled.jit(add_one)
    assert numba.config.CACHE_DIR == compiled.FALLBACK_CACHE
    assert kernel(41) == 42
