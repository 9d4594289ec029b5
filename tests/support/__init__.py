"""Helpers shared by more than one test suite, and by the benchmarks that measure the same
things: raw AWS events (:mod:`.events`), test images (:mod:`.images`), a function run from
the container image as Lambda runs it (:mod:`.lambda_image`), and the embedded pipeline in
this process (:mod:`.in_process`). No fixtures here: each suite's conftest makes its own."""
