"""python -m batchqueue"""

from batchqueue.cli import main

# The guard matters: a spawned helper process (the parallel import) imports this module again.
if __name__ == "__main__":
    main()
