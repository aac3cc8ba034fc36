"""`python -m api`: the same as `baton serve`."""

from api.cli import serve

if __name__ == "__main__":
    serve()
