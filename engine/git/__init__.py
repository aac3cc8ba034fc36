"""Git as the source: mirrors of app repositories, new-commit discovery, trees at a sha.

The only package of the engine that imports GitPython.
"""
