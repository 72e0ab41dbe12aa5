"""python -m batchqueue"""

from batchqueue.cli import main

main()
