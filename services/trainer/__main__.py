from services.common.runtime import run
from services.trainer.app import create

run(create(), name="trainer")
