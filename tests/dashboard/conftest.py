# The hand-built dataset of test_figures, shared with the page tests.
from tests.dashboard.test_figures import dataset, scope  # noqa: F401
