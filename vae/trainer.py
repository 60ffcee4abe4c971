"""`python -m vae.trainer JOB_DIR`: the trainer process as the runners start it.
The code is vae/jobs/trainer.py; this is its command-line name."""
import sys

from vae.jobs.trainer import main

if __name__ == "__main__":
    main(sys.argv[1:])
