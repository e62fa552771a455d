from services.common.runtime import run
from services.monitor.app import create

run(create(), name="monitor")
