import sys

from mlpatterns_pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main())
