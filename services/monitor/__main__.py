from services.common.service import serve
from services.common.settings import load_settings
from services.monitor.app import create
from services.monitor.config import MonitorSettings

settings = load_settings(MonitorSettings)
serve(create(settings), name="monitor", host=settings.monitor.host, port=settings.monitor.port)
