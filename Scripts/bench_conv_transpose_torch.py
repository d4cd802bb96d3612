"""PyTorch reference timing for Docs/Performance.md: conv_transpose2d 128->128, 56x56, batch 16,
k = 3, 5, 7, 11, on 2 threads, best of N. Usage: python Scripts/bench_conv_transpose_torch.py [repeats]"""
import sys, time
import torch

torch.set_num_threads(2)
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
n, c, size = 16, 128, 56
x = torch.randn(n, c, size, size)
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, best of {repeats}")
for k in (3, 5, 7, 11):
    w = torch.randn(c, c, k, k)
    with torch.no_grad():
        torch.nn.functional.conv_transpose2d(x, w, padding=k // 2)
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            torch.nn.functional.conv_transpose2d(x, w, padding=k // 2)
            best = min(best, time.perf_counter() - t)
    flops = 2 * n * c * c * k * k * size * size
    print(f"{k:<2} torch     {best * 1000:8.1f} {flops / best / 1e9:8.1f}")
