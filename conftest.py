"""Root test set-up: a solution notebook that writes to stderr fails (nbval's --nbval-lax checks
errors only). A learner would see that text in red under the cell, so it must not be there - on the
newest stack and on Colab's alike."""
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or type(item).__name__ != "IPyNbCell" or not report.passed:
        return
    stderr = "".join(out.get("text", "") for out in (getattr(item, "test_outputs", None) or [])
                     if out.get("output_type") == "stream" and out.get("name") == "stderr")
    if stderr.strip():
        report.outcome = "failed"
        report.longrepr = (f"{item.name} wrote to stderr (a learner sees this under the cell):\n"
                           f"{stderr[:3000]}")



# With pytest-xdist (`pytest -n auto`, the README's command), a notebook's cells must run in order in
# one kernel, so each file goes to one worker: `-n` alone means xdist's "load" (any test to any
# worker), which becomes "loadfile" here.
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadfile"
