from services.common.service import serve
from services.common.settings import load_settings
from services.curator.app import create
from services.curator.config import CuratorSettings

settings = load_settings(CuratorSettings)
serve(create(settings), name="curator", host=settings.curator.host, port=settings.curator.port)
