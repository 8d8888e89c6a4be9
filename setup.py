"""Compile the translation catalogs (.po -> .mo) whenever the package is built."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def compile_catalogs():
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    for po in Path(__file__).parent.glob("core/translations/*/LC_MESSAGES/messages.po"):
        with po.open("rb") as fh:
            catalog = read_po(fh)
        with po.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog)


class BuildPy(build_py):
    def run(self):
        compile_catalogs()
        super().run()


setup(cmdclass={"build_py": BuildPy})
