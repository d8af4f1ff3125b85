"""pip install --no-build-isolation .   (Debian: python3-dev, python3-setuptools,
libexpat1-dev, libjansson-dev). `make` builds the same extension with CMake."""
import glob

from setuptools import Extension, setup

sources = sorted(glob.glob("src/core/*.c") + glob.glob("src/marc/*.c")) + ["python/_marc.c"]
setup(
    name="wirebuf",
    version="0.2.0",
    description="Fast MARC 21 reading for Python: a pymarc-compatible API over a C core",
    package_dir={"": "python"},
    packages=["wirebuf", "wirebuf.marc"],
    ext_modules=[Extension("wirebuf._marc", sources, include_dirs=["include"],
                           define_macros=[("_GNU_SOURCE", "1")], extra_compile_args=["-std=c11", "-O2"],
                           libraries=["expat", "jansson", "pthread"])],
    python_requires=">=3.9",
)
