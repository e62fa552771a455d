from services.common.runtime import run
from services.curator.app import create

run(create(), name="curator")
