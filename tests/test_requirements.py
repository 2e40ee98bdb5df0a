"""Every third-party module the server imports is pinned in requirements.txt: scripts/serve
installs only that file, so a dependency that arrives through the test tools would break a
fresh machine's server while the suite stays green."""
import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_top_level_modules() -> set[str]:
    modules = set()
    for path in [ROOT / "server.py", *(ROOT / "vectis").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"vectis", "__future__"}


def pinned() -> set[str]:
    names = set()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==", line.strip())
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


def test_runtime_imports_are_pinned_in_requirements():
    distributions = packages_distributions()
    missing = {}
    for module in imported_top_level_modules():
        owners = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not owners & pinned():
            missing[module] = sorted(owners)
    assert not missing, f"imported by the server but not pinned in requirements.txt: {missing}"


def test_pins_are_exact():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, line
