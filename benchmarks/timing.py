"""What every benchmark shares: the best of several timed calls (these machines are noisy)."""

import time


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
