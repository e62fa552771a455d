from services.common.runtime import run
from services.gatekeeper.app import create

run(create(), name="gatekeeper")
