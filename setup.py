"""Compile the translation catalogs (.po parts -> one .mo per language) when the package is built."""
import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def compile_catalogs():
    spec = importlib.util.spec_from_file_location("permits_i18n", Path(__file__).parent / "core" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.compile_catalogs(force=True)


class BuildPy(build_py):
    def run(self):
        compile_catalogs()
        super().run()


setup(cmdclass={"build_py": BuildPy})
