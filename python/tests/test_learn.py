"""End-to-end: examples/learn_projection.py converges in seconds."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))

import learn_projection  # noqa: E402


class TestLearn(unittest.TestCase):
    def test_learn_projection(self):
        loss, err_c, secs = learn_projection.run(verbose=True)
        self.assertLess(loss, 1e-8)
        self.assertLess(err_c, 1e-3)
        self.assertLess(secs, 30.0)


if __name__ == "__main__":
    unittest.main()
