from services.common.service import serve
from services.common.settings import load_settings
from services.gatekeeper.app import create
from services.gatekeeper.config import GatekeeperSettings

settings = load_settings(GatekeeperSettings)
serve(
    create(settings),
    name="gatekeeper",
    host=settings.gatekeeper.host,
    port=settings.gatekeeper.port,
)
