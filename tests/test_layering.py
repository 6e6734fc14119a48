"""The import rules between packages (``python -m jaxorth.tools.layering``)."""

import textwrap
from pathlib import Path

import pytest

from jaxorth.tools import layering

ROOT = Path(__file__).resolve().parents[1]


def _tree(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


CLEAN = {
    "jaxorth/__init__.py": "from . import linalg, rnn\n",
    "jaxorth/_checks.py": "def positive_int(x, name): ...\n",
    "jaxorth/linalg/__init__.py": "from ._hadamard import fwht as fwht\n",
    "jaxorth/linalg/_hadamard.py": "from jaxorth._checks import positive_int\n",
    "jaxorth/rnn/__init__.py": "from ._cell import Cell as Cell\n",
    "jaxorth/rnn/_cell.py": (
        "from jaxorth import linalg\nfrom jaxorth.linalg import fwht\n"
        "from .. import _checks\nfrom . import _other\nfrom jaxorth._precision import x\n"
    ),
    "jaxorth/rnn/_other.py": "import numpy as np\n",
    "jaxorth/train/loop.py": "import omegaconf\nfrom jaxorth.rnn import Cell\n",
    "jaxorth/studies/_protocol.py": "import hydra\n",
    "jaxorth/studies/study.py": "from jaxorth.studies._protocol import Study\nimport wandb\n",
    "benchmarks/_timing.py": "import time\n",
    "benchmarks/bench.py": "from _timing import timed\nfrom jaxorth.rnn import Cell\n",
    "experiments/run.py": "import jaxorth.linalg\n",
}


def test_clean_tree_passes(tmp_path, capsys):
    root = _tree(tmp_path, CLEAN)
    assert layering.check(root) == ([], len(CLEAN))
    assert layering.main([str(root)]) == 0
    assert capsys.readouterr().out.strip() == f"layering: ok ({len(CLEAN)} modules)"


@pytest.mark.parametrize(
    ("rel", "text", "rule", "imported"),
    [
        # math packages never import the framework or its dependencies
        ("jaxorth/linalg/_bad.py", "from jaxorth.train import fit\n", "math", "jaxorth.train"),
        ("jaxorth/rnn/_bad.py", "import hydra.utils\n", "math", "hydra.utils"),
        ("jaxorth/quant/__init__.py", "from omegaconf import OmegaConf\n", "math", "omegaconf"),
        ("jaxorth/dln/_bad.py", "import wandb\n", "math", "wandb"),
        ("jaxorth/sparse/_bad.py", "from ..studies import x\n", "math", "jaxorth.studies"),
        ("jaxorth/hessian/_bad.py", "from jaxorth import report\n", "math", "jaxorth.report"),
        ("jaxorth/_checks.py", "import jaxorth.cli\n", "math", "jaxorth.cli"),
        # another package's private module, absolute or relative, module or name
        (
            "jaxorth/rnn/_bad.py",
            "from jaxorth.linalg._hadamard import fwht\n",
            "private",
            "jaxorth.linalg._hadamard",
        ),
        (
            "jaxorth/rnn/_bad.py",
            "from ..linalg._hadamard import fwht\n",
            "private",
            ("jaxorth.linalg._hadamard"),
        ),
        (
            "jaxorth/rnn/_bad.py",
            "import jaxorth.linalg._hadamard as h\n",
            "private",
            ("jaxorth.linalg._hadamard"),
        ),
        (
            "jaxorth/rnn/_bad.py",
            "from jaxorth.linalg import _hadamard\n",
            "private",
            ("jaxorth.linalg._hadamard"),
        ),
        (
            "jaxorth/cli.py",
            "from jaxorth.studies._protocol import Study\n",
            "private",
            ("jaxorth.studies._protocol"),
        ),
        # scripts import only public names of jaxorth
        (
            "benchmarks/b.py",
            "from jaxorth.studies._models import M\n",
            "scripts",
            ("jaxorth.studies._models"),
        ),
        (
            "experiments/e.py",
            "from jaxorth._checks import positive_int\n",
            "scripts",
            ("jaxorth._checks"),
        ),
    ],
)
def test_violation_is_reported(tmp_path, capsys, rel, text, rule, imported):
    root = _tree(tmp_path, {**CLEAN, rel: text})
    violations, _ = layering.check(root)
    assert [(v.path, v.line, v.rule, v.imported) for v in violations] == [(rel, 1, rule, imported)]
    assert layering.main([str(root)]) == 1
    assert f"{rel}:1: [{rule}] imports {imported}" in capsys.readouterr().out


def test_repository_follows_the_rules(capsys):
    violations, n = layering.check(ROOT)
    assert n > 50  # the checker saw the package
    code = layering.main([str(ROOT)])
    out = capsys.readouterr().out
    assert code == 0 and not violations, out
    assert out.startswith("layering: ok (")
