from services.common.service import serve
from services.common.settings import load_settings
from services.inference.app import create
from services.inference.config import InferenceSettings

settings = load_settings(InferenceSettings)
serve(
    create(settings), name="inference", host=settings.inference.host, port=settings.inference.port
)
