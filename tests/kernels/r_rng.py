"""R's default random number generator, enough to replay ``set.seed(s); sample(n, k)``.

Mersenne-Twister with R's seed scrambling (``set.seed``) and the
"Rejection" sampling of R >= 3.6 (``sample.kind = "Rejection"``). Written from
the published algorithm descriptions (Matsumoto & Nishimura 1998; R's
``?RNGkind``) so that the DRDID reference examples, which subsample the
Lalonde data with ``set.seed(123); sample(..., 5000)``, can be rebuilt in
Python without R.
"""

from __future__ import annotations

import math

import numpy as np

_N, _M = 624, 397
_MASK32 = 0xFFFFFFFF


class RRandom:
    """``set.seed(seed)`` followed by draws from R's Mersenne-Twister.

    Examples
    --------
    >>> rng = RRandom(123)
    >>> round(rng.unif_rand(), 7)
    0.2875775
    >>> RRandom(123).sample(10, 10)
    [3, 10, 2, 8, 6, 9, 1, 7, 5, 4]
    """

    def __init__(self, seed: int) -> None:
        s = seed & _MASK32
        for _ in range(50):  # initial scrambling
            s = (69069 * s + 1) & _MASK32
        mt = []
        for _ in range(_N + 1):  # dummy[0] (mti) followed by the 624-word state
            s = (69069 * s + 1) & _MASK32
            mt.append(s)
        self.mt = mt[1:]
        self.mti = _N  # FixupSeeds: dummy[0] = 624 forces a regeneration

    def _genrand(self) -> float:
        mag01 = (0, 0x9908B0DF)
        mt = self.mt
        if self.mti >= _N:
            for kk in range(_N - _M):
                y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7FFFFFFF)
                mt[kk] = mt[kk + _M] ^ (y >> 1) ^ mag01[y & 1]
            for kk in range(_N - _M, _N - 1):
                y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7FFFFFFF)
                mt[kk] = mt[kk + (_M - _N)] ^ (y >> 1) ^ mag01[y & 1]
            y = (mt[_N - 1] & 0x80000000) | (mt[0] & 0x7FFFFFFF)
            mt[_N - 1] = mt[_M - 1] ^ (y >> 1) ^ mag01[y & 1]
            self.mti = 0
        y = mt[self.mti]
        self.mti += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y * 2.3283064365386963e-10

    def unif_rand(self) -> float:
        """One U(0, 1) draw (R's ``unif_rand``, with its fix-up away from 0 and 1)."""
        v = self._genrand()
        i2_32m1 = 2.328306437080797e-10
        if v <= 0.0:
            return 0.5 * i2_32m1
        if 1.0 - v <= 0.0:
            return 1.0 - 0.5 * i2_32m1
        return v

    def _rbits(self, bits: int) -> int:
        v = 0
        for _ in range(0, bits + 1, 16):
            v1 = math.floor(self.unif_rand() * 65536)
            v = 65536 * v + v1
        return v & ((1 << bits) - 1)

    def unif_index(self, dn: int) -> int:
        """R's ``R_unif_index`` with rejection sampling."""
        if dn <= 0:
            return 0
        bits = math.ceil(math.log2(dn))
        while True:
            dv = self._rbits(bits)
            if dn > dv:
                return dv

    def sample(self, n: int, size: int) -> list[int]:
        """``sample.int(n, size)`` without replacement (1-based, like R)."""
        x = list(range(n))
        out = []
        for _ in range(size):
            j = self.unif_index(n)
            out.append(x[j] + 1)
            n -= 1
            x[j] = x[n]
        return out


def r_sample(n: int, size: int, seed: int) -> np.ndarray:
    """``set.seed(seed); sample(n, size)`` as a numpy array of 1-based indices.

    Examples
    --------
    >>> r_sample(10, 3, 42).tolist()
    [1, 5, 10]
    """
    return np.asarray(RRandom(seed).sample(n, size))
